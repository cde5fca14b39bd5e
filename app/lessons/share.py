"""The main controls as a link: query parameters written by "Copy link" and read on page load.

Owns the names of the shared controls in the address (`threshold`, `prefill`,
`canvas` = max new tokens, `block` = block length, `example` = a file of
assets/examples, `q` = the question) and their checks: a value that does not
read is left out with a note, never an error. Pure functions (`to_query`,
`from_query`) plus the two Gradio handlers that use them. It knows nothing
of decoding beyond the controls' names.
"""

from __future__ import annotations

import os
from operator import attrgetter
from urllib.parse import urlencode

import gradio as gr

from .. import static
from dimple.loading import ASSETS
from dimple.settings import READERS

EXAMPLES_DIR = ASSETS / "examples"
# query name -> the page's control it sets (its path in app/sections.py's Page)
PARAMS = {"threshold": "decoding.threshold", "prefill": "decoding.prefill", "canvas": "decoding.max_new",
          "block": "decoding.block_length", "example": "question.image", "q": "question.prompt"}


def to_query(values: dict) -> str:
    """{query name: control value} -> "?threshold=0.5&..." (empty values left out; the image as its example name)."""
    out = {}
    for name, value in values.items():
        if value in (None, ""):
            continue
        if name == "example":
            base = os.path.basename(str(value))
            if not (EXAMPLES_DIR / base).is_file():
                continue  # an upload cannot travel in a link
            value = base
        elif name == "prefill":
            value = int(bool(value))
        elif name == "canvas":
            value = int(value)
        elif name == "block":
            value = READERS["block_length"](value)  # the dropdown's "off (whole canvas)" reads as None: no blocks
            if value is None:
                continue
        out[name] = value
    return "?" + urlencode(out) if out else ""


def _number(text: str, lo: float, hi: float, whole: bool):
    try:
        x = float(text)
    except ValueError:
        return None
    if not lo <= x <= hi or (whole and x != int(x)):
        return None
    return int(x) if whole else x


def from_query(params: dict) -> tuple[dict, list[str]]:
    """Query parameters -> ({query name: control value}, notes on the values that were left out)."""
    values, notes = {}, []
    readers = {"threshold": lambda t: _number(t, 0, 1, False), "canvas": lambda t: _number(t, 1, 4096, True),
               "block": lambda t: _number(t, 1, 4096, True),
               "prefill": lambda t: {"1": True, "true": True, "0": False, "false": False}.get(t.lower()),
               "example": lambda t: str(EXAMPLES_DIR / os.path.basename(t)) if (EXAMPLES_DIR / os.path.basename(t)).is_file() else None,
               "q": lambda t: t[:500] if t.strip() else None}
    for name, read in readers.items():
        if name not in params:
            continue
        value = read(str(params[name]))
        if value is None:
            notes.append(f"{name}={str(params[name])[:30]!r} was not understood and is left as it was")
        else:
            values[name] = value
    return values, notes


def controls(page) -> list[tuple[str, object]]:
    """(query name, component) for the page's shared controls."""
    return [(name, attrgetter(path)(page)) for name, path in PARAMS.items()]


def wire(page, loaded, note) -> None:
    """The "Copy link" button writes the address; `loaded` (the page's load chain, after the model's defaults)
    applies the address's values; `note` shows what could not be read."""
    pairs = controls(page)
    names = [n for n, _ in pairs]
    comps = [c for _, c in pairs]

    def link(*values):
        return to_query(dict(zip(names, values)))

    def apply(request: gr.Request):
        values, notes = from_query(dict(getattr(request, "query_params", {}) or {}))
        updates = [gr.update(value=values[n]) if n in values else gr.skip() for n in names]
        return (*updates, ("Link: " + "; ".join(notes) + ".") if notes else gr.skip())

    link_box = gr.Textbox(visible=False)
    page.question.share_btn.click(link, comps, [link_box], api_visibility="private", queue=False).then(
        None, [link_box], None, js=static.text("copy_link.js"))
    loaded.then(apply, None, comps + [note], api_visibility="private", queue=False)
