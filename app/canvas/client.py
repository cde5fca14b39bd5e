"""The live canvas component: what the server sends it, and how the browser draws a large canvas.

Owns the gr.HTML that shows the response canvas (live, in replay, on Play),
the value it is sent for a frame, and the script that draws that value.
A canvas under render.DENSE_FROM positions is sent as HTML (render.py's,
with hover titles and line breaks) and put on the page as it is. A larger
one (the 7B's 1,024 slots) is sent as a frame message: JSON with the lean
slots dense.slots makes of a frame record (class letters, label, ghost bar, fresh colour,
in parallel lists), the badges, the narration, the threshold and, for a
semi-autoregressive decode, the positions that start a block and the active
block (frames.py's Slot.edge and Badges). The
browser draws it on a <canvas> as a grid of fixed cells (dense_view.GRID,
dense_view.PALETTE), a block boundary at the left edge of each cell that
starts a block, and repaints only the cells whose slot changed: no DOM
node per slot, no style or layout work per frame. A click maps to its cell
(the token inspector), hovering names the slot. The component's template
never changes, so Gradio never diffs or re-renders it, and its CSS is
installed once instead of on every update.

Each frame message is self-contained (the whole canvas at that step), so
a frame the browser skips while it is busy costs nothing later. It reads
the Trajectory only through app/canvas/frames.py's records; it knows nothing
of the model.
"""

from __future__ import annotations

import functools
import json
from typing import Optional

import gradio as gr

from . import film as canvas_film, dense as dense_view, frames, render
from .. import static
from .colours import confidence_unit

HOST = '<div class="dm-host"></div>'  # the template: constant, so updates never re-render it
SCRUB_HOLD_MS = 1500  # after a scrub drawn from the film, server frames of other steps are late answers this long

# Runs once per page (app/static/canvas.js, then slot_click.js). It installs the canvas CSS, draws the first value
# and every new one, and reports a click on a slot (slot_click.js for HTML; the grid's own hit test).
# `host.dmDraw(text)` draws a value directly (the watch goes through it, so scripts/measure_canvas.py can time it);
# `host.dmFilmFrame(n)` is what a scrub draws.
SCRIPTS = ("canvas.js", "slot_click.js")


def component(value: str, replay_id: str = "", **kw) -> gr.HTML:
    """The live canvas: a constant template drawn by SCRIPTS; its slots report clicks to the inspector.
    `replay_id`: the elem_id of the replay slider, whose moves it draws from a finished run's film."""
    settings = json.dumps({"grid": dense_view.GRID, "palette": dense_view.PALETTE, "css": render.CANVAS_CSS,
                           "replay_id": replay_id, "scrub_hold_ms": SCRUB_HOLD_MS})
    return gr.HTML(value, html_template=HOST, css_template="", js_on_load=static.joined(*SCRIPTS).replace("__SETTINGS__", settings),
                   **kw)


@functools.lru_cache(maxsize=1)
def _shell() -> str:
    """The empty card the page draws a large canvas into (constant: built once)."""
    return render.card("", '<div class="dm-narration" hidden></div>', dense_view.tokens(0, 0.0))


def frame(traj, n_steps: Optional[int] = None, *, live: bool = False, title: str = "") -> dict:
    """A large canvas after `n_steps` iterations (default: all so far) as the browser draws it."""
    f = frames.frame(traj, n_steps, live=live)
    slots = dense_view.slots(f)
    return {"step": f.step, "thr": round(confidence_unit(f.threshold, f.alg), 4), "replay": not live,
            "head": render.canvas_head(f.badges, title), "narr": f.narration,
            "cls": [s.cls for s in slots], "txt": [s.label for s in slots],
            "unit": [-1 if s.unit is None else round(100 * s.unit) for s in slots], "bg": [s.background for s in slots],
            **block_marks(f), "shell": _shell()}


def block_marks(f: frames.Frame) -> dict:
    """The frame record's blocks as the grid draws them: "edges", the positions whose slot starts a block after
    the first (a boundary at each), and "active", [start, end) of the block being decoded (None: none)."""
    active = frames.active_bounds(f.badges)
    return {"edges": [s.pos for s in f.slots if s.edge], "active": None if active is None else list(active)}


def _json(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def value(traj, n_steps: Optional[int] = None, *, live: bool = False, title: str = "") -> str:
    """What the canvas is sent for one frame (live, replay, Play): HTML for a small canvas, a frame message
    for a large one."""
    if not is_large(traj):
        return render.render_canvas(traj, n_steps, live=live, title=title)
    return _json(frame(traj, n_steps, live=live, title=title))


def finished(traj) -> str:
    """What the canvas is sent when a run ends or is imported: for a large one, its film (app/canvas_film.py),
    drawn at its last step, from which the page replays any step by itself."""
    if not is_large(traj):
        return render.render_canvas(traj)
    return _json({"film": {**canvas_film.film(traj), "shell": _shell()}, "at": len(traj.steps)})


LIVE_FRAME_EVERY_S = 0.1  # a large canvas is sent live at most ten times a second


def due(traj, since_last_s: float) -> bool:
    """Whether a live frame of `traj` should be sent, `since_last_s` after the last one: always for a small
    canvas and for the step-0 canvas, otherwise at most every LIVE_FRAME_EVERY_S (the browser's work per
    update, Gradio's included, would otherwise outgrow the step; the replay shows every step)."""
    return not is_large(traj) or not traj.steps or since_last_s >= LIVE_FRAME_EVERY_S


def is_large(traj) -> bool:
    return traj is not None and traj.length >= render.DENSE_FROM
