"""The runnable tools in scripts/ still reach the library: every name they import from `dimple` exists.

A script is run by hand (a measurement, a probe), so a moved module (dimple.scale_shapes became
dimple.scale.shapes) would only show the next time someone needs it. This reads each script's imports with
`ast`, function-level ones included, and resolves them without running the script.
"""

import ast
import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parent.parent / "scripts").glob("*.py"))


def _dimple_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from dimple... import name` in the file; (module, "") for `import dimple...`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "dimple":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.split(".")[0] == "dimple"]
    return found


def test_the_scripts_folder_has_scripts_that_import_the_library():
    assert len(SCRIPTS) >= 5 and sum(bool(_dimple_imports(p)) for p in SCRIPTS) >= 5


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_library_name_a_script_imports_exists(script):
    for module, name in _dimple_imports(script):
        imported = importlib.import_module(module)
        if name and not hasattr(imported, name):
            importlib.import_module(f"{module}.{name}")  # a submodule: `from dimple.tiny import world`
