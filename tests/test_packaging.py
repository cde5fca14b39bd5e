"""`pip install .` gives a working library, both console scripts and the shipped Tiny weights anywhere.

The install goes into a scratch folder (`pip install --target`, no build
isolation, no dependencies: nothing is downloaded); the checks then run from
another working directory with only that folder added to the path, so the
repository's own files cannot be what they find. It builds from a copy of the
tracked files, so the worktree gets no build leftovers.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def _source_copy(folder):
    """The repository's tracked files, so the build leaves nothing (egg-info, build/) in the worktree."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    source = _source_copy(tmp_path_factory.mktemp("source"))
    build = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                            "--quiet", "--target", str(target), str(source)], capture_output=True, text=True,
                           timeout=600, env=dict(os.environ, PIP_NO_CACHE_DIR="1"))
    assert build.returncode == 0, build.stderr[-3000:]
    return target


def _run(installed, tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=str(installed), HF_HUB_OFFLINE="1")
    return subprocess.run(list(args), cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)


def test_the_installed_library_loads_tiny_from_any_directory(installed, tmp_path):
    code = ("import dimple, pathlib; m = dimple.load_model('tiny'); "
            "print(pathlib.Path(dimple.__file__).parent); print(m.checkpoint_folder)")
    out = _run(installed, tmp_path, sys.executable, "-c", code)
    assert out.returncode == 0, out.stderr[-3000:]
    package, weights = out.stdout.split()[-2:]
    assert package.startswith(str(installed)) and weights.startswith(str(installed))


def test_console_scripts_are_installed_and_run(installed, tmp_path):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"dimple": "dimple.cli:main", "dimple-studio": "dimple_studio.launcher:main"}
    for name, expect in (("dimple", "generate"), ("dimple-studio", "--run-history")):
        out = _run(installed, tmp_path, sys.executable, str(installed / "bin" / name), "--help")
        assert out.returncode == 0 and expect in out.stdout, out.stderr[-3000:]


def _installed_as(path):
    """Where a repository folder is installed: app/ is the `dimple_studio` package (no top-level `app`)."""
    return Path("dimple_studio", *path.parts[1:]) if path.parts[0] == "app" else path


def test_every_package_of_the_repository_is_installed(installed):
    packages = {p.parent.relative_to(ROOT) for top in ("dimple", "app") for p in (ROOT / top).rglob("__init__.py")}
    assert packages and all((installed / _installed_as(p) / "__init__.py").is_file() for p in packages), packages


def test_no_top_level_app_package_is_installed_and_the_studio_is_dimple_studio(installed):
    """Issue 32, bug 6: `pip install .` put a package named `app` into site-packages."""
    assert not (installed / "app").exists()
    assert (installed / "dimple_studio" / "launcher.py").is_file() and (installed / "dimple_studio" / "page.py").is_file()


def test_the_studio_stylesheets_and_scripts_are_installed(installed, tmp_path):
    shipped = {p.name for p in (ROOT / "app" / "static").iterdir() if p.suffix in (".css", ".js")}
    assert shipped and all((installed / "dimple_studio" / "static" / name).is_file() for name in shipped), shipped
    code = "from dimple_studio.canvas import render; print(len(render.CANVAS_CSS))"
    out = _run(installed, tmp_path, sys.executable, "-c", code)
    assert out.returncode == 0 and int(out.stdout.split()[-1]) > 1000, out.stderr[-3000:]


def test_the_scale_tool_runs_from_the_installed_package(installed, tmp_path):
    """Issue 32, bug 6: the 7B parameter manifest ships as package data (it was read from tests/fixtures)."""
    for module in ("dimple.scale", "dimple.scale.gpu_check"):
        out = _run(installed, tmp_path, sys.executable, "-m", module, "--help")
        assert out.returncode == 0 and "usage" in out.stdout, out.stderr[-3000:]
    code = "from dimple.scale.shapes import get_shape; print(get_shape('7b').hidden)"
    out = _run(installed, tmp_path, sys.executable, "-c", code)
    assert out.returncode == 0 and out.stdout.split()[-1] == "3584", out.stderr[-3000:]


def test_the_examples_and_weights_are_installed(installed):
    assert any((installed / "dimple" / "assets" / "examples").glob("*.png"))
    assert (installed / "dimple" / "assets" / "dimple-tiny" / "model.safetensors").is_file()


def test_library_dependencies_leave_torch_unpinned_and_extras_exist():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch" in project["dependencies"]
    assert {"app", "test"} <= set(project["optional-dependencies"])
    assert any(d.startswith("gradio") for d in project["optional-dependencies"]["app"])
