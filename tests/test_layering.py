"""The layers, read from the source with `ast` (every import, function-level ones included).

- the inference library (dimple/, except dimple/tiny and the TOOLS) imports nothing of dimple.tiny, and no
  library module imports app, gradio or tests;
- the app reaches the model only through the library's public API (a module the library names public);
- no private name (a leading underscore) is imported from another module;
- `import dimple` loads no transformers modelling code until a model is built or loaded.
TOOLS names the modules that are tools around the library rather than the library, each with its reason: they
may import Tiny (the CLI only inside its `eval` command's function). The test fails when another module
imports Tiny, and when a tool no longer does and is not struck from the list.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

# The library modules the app may import (the public API and the records it shows).
PUBLIC = {"dimple", "dimple.assistant", "dimple.branching", "dimple.config", "dimple.explore", "dimple.ghosts",
          "dimple.grounding", "dimple.loading", "dimple.processing", "dimple.settings", "dimple.stepping",
          "dimple.streaming", "dimple.trajectory"}
TOOLS = {  # module: why it may import dimple.tiny
    "dimple.bench.sweep": "the benchmark (`dimple bench`) measures Tiny's accuracy and speed on Tiny's world",
    "dimple.cli": "`dimple eval` (and `--visitor`) evaluates Tiny on its held-out world; generate and branch do not",
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, nodes=ast.walk):
    """(imported module, imported names) of every import statement in the file, at any depth (`nodes`: which
    of the parsed file's nodes to read)."""
    package = _module(path).split(".") if path.name == "__init__.py" else _module(path).split(".")[:-1]
    for node in nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield module, [a.name for a in node.names]


def _files(top: str):
    return sorted(p for p in (ROOT / top).rglob("*.py"))


def _library_files():
    return [p for p in _files("dimple") if "tiny" not in p.relative_to(ROOT).parts]


def _is_under(module: str, top: str) -> bool:
    return module == top or module.startswith(top + ".")


def _imports_tiny(path: Path, nodes=ast.walk) -> bool:
    return any(_is_under(t, "dimple.tiny") for module, names in _imports(path, nodes)
               for t in [module] + [f"{module}.{n}" for n in names])


def test_the_library_imports_nothing_of_tiny_the_app_gradio_or_tests():
    found = [f"{_module(path)} imports {module}" for path in _library_files() for module, _ in _imports(path)
             if any(_is_under(module, top) for top in ("app", "dimple_studio", "gradio", "gradio_client", "tests"))]
    assert not found, found
    tiny = {_module(path) for path in _library_files() if _imports_tiny(path)}
    # exactly the tools import Tiny: a new importer fails, and so does a tool that stopped and is still listed
    assert tiny == set(TOOLS), sorted(tiny ^ set(TOOLS))


def _outside_cmd_eval(tree: ast.Module) -> list:
    inside = {id(n) for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "cmd_eval" for n in ast.walk(f)}
    return [n for n in ast.walk(tree) if id(n) not in inside]


def test_the_cli_imports_tiny_only_inside_its_eval_command():
    """`dimple generate` and `dimple branch` load nothing of Tiny."""
    cli = ROOT / "dimple" / "cli.py"
    assert _imports_tiny(cli) and not _imports_tiny(cli, _outside_cmd_eval)


def test_the_app_reaches_the_model_only_through_the_librarys_public_api():
    found = []
    for path in _files("app") + [ROOT / "app.py"]:
        for module, names in _imports(path):
            if _is_under(module, "dimple") and module not in PUBLIC:
                found.append(f"{_module(path)} imports {module}")
    assert not found, found


def test_no_private_name_is_imported_from_another_module():
    found = []
    for path in _files("dimple") + _files("app") + [ROOT / "app.py"]:
        for module, names in _imports(path):
            for name in names:
                if name.startswith("_") and not name.startswith("__"):
                    found.append(f"{_module(path)} imports {name} from {module}")
    assert not found, found


def test_a_private_import_is_seen_inside_a_function_too(tmp_path):
    """The reader is the test's instrument: it must see imports at any depth, relative ones resolved."""
    nested = ROOT / "dimple" / "_layering_probe.py"
    try:
        nested.write_text("def f():\n    from .engine import _mask_id\n    from .tiny import world\n")
        assert ("dimple.engine", ["_mask_id"]) in list(_imports(nested))
        assert ("dimple.tiny", ["world"]) in list(_imports(nested))
    finally:
        nested.unlink()


def test_import_dimple_loads_no_transformers_modelling_code():
    code = ("import sys, dimple; from dimple.config import DecodeConfig; "
            "print(any(m.startswith('transformers.models.qwen2_5_vl.modeling') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.split()[-1] == "False", out.stderr[-2000:]
