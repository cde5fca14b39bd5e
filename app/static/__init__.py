"""The studio's static files: its stylesheets (*.css) and scripts (*.js), read as text.

Owns finding them (beside this file, in the repository and in the installed
`dimple_studio` package, where pyproject.toml ships them as package data) and
reading each once. It knows nothing of what they say or where the page uses
them: the modules that place a component or wire an event pick the files
(app/page.py, app/canvas/, app/branch/, app/lessons/, app/welcome.py).
"""

from __future__ import annotations

import functools
from pathlib import Path

HERE = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=None)
def text(name: str) -> str:
    """One file's text (`name` as "canvas.css"); read once per process."""
    return (HERE / name).read_text(encoding="utf-8")


def joined(*names: str) -> str:
    """Several files' text, one after the other (a stylesheet made of parts)."""
    return "".join(text(name) for name in names)
