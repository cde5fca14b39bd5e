"""The lean canvas of a large answer (DENSE_FROM positions and up): one small element per slot, nothing more.

Owns how a 1,024-token canvas stays cheap for the browser to parse, diff
(Gradio patches the gr.HTML's DOM node by node) and lay out: every position
is exactly one inline element with a one-letter class and no title or
data attribute, so a frame is ~20 KB instead of ~200 KB and the slot's place
among its siblings is its position (the click script reads that index; no
line breaks are inserted, a newline token shows as its glyph). The ghost's
confidence bar is the slot's own bottom background, green above the
threshold. Hover titles are dropped at this size: a click opens the token
inspector with the full record. Its CSS (app/static/dense.css, part of
render.CANVAS_CSS) scopes everything under `.dm-dense`.

It formats the slots of a frame record (app/canvas/frames.py: kind, label,
ghost, commit confidence) as lean Slot records, and those as HTML; the
browser's grid for the live canvas (app/canvas/client.py) draws the same
records with PALETTE. It knows nothing of trajectories, tokenizers or Gradio.
"""

from __future__ import annotations

import html
from typing import Iterable, NamedTuple, Optional

from .colours import COLOURS, confidence_colour, confidence_unit


# kind (frames.Slot.kind, plus "ghost") -> the slot's class
CLASS = {"mask": "m", "ghost": "g", "old": "o", "new": "n", "end": "e", "lock": "l"}
BLOCK_EDGE, ACTIVE_BLOCK = "b", "k"  # extra classes: a block's first slot (a bar at its left), the active block

def _colour(name: str) -> str:
    return COLOURS[name] if name else ""  # a misspelt name fails at import, not as a missing colour on screen


# The same looks for the browser's grid (app/canvas_client.py draws a large live canvas on a <canvas>):
# class letter -> background, text colour, font style, border (names in colours.COLOURS; "" for none), as
# app/static/dense.css has them.
_LOOKS = {
    "m": ("mask", "mask-ink", "", ""),
    "g": ("mask", "ghost", "italic", ""),
    "o": ("white", "ink-token", "", "track"),
    "n": ("white", "ink-strong", "bold", "new-edge"),
    "l": ("lock", "lock-ink", "bold", ""),
    "e": ("end", "end-ink", "italic", ""),
    "bar": ("track", "mask-ink", "", "ink"),  # ghost bar: track, fill, line
    "above": ("", "above", "", ""),  # a ghost bar's fill above the threshold
    "picked": ("", "", "", "accent"),
    "block": ("block-badge", "block", "", ""),  # the active block's masked cells; a block's boundary (bar)
}
PALETTE = {cls: {"bg": _colour(bg), "fg": _colour(fg), "font": font, "border": _colour(border)}
           for cls, (bg, fg, font, border) in _LOOKS.items()}


# The grid's cell (CSS pixels): a slot shows up to ~7 characters of its label, the rest as an ellipsis.
# A block's boundary is a bar edge_px wide along the left of the cell that starts it.
GRID = {"cell_width": 54, "cell_height": 20, "gap": 2, "font_px": 12, "bar_px": 3, "edge_px": 3}


class Slot(NamedTuple):
    """One position as drawn: class letters, label, ghost bar fill (0..1, None without a bar), fresh colour."""

    cls: str
    label: str
    unit: Optional[float] = None
    background: str = ""


def slot(kind: str, label: str, *, end: bool = False, background: str = "", unit: Optional[float] = None,
         above: bool = False) -> Slot:
    """One position: its class from `kind` (an end token committed this step or fixed reads as both),
    `background` for a fresh commit's confidence colour, `unit` (0..1) the ghost's bar."""
    cls = CLASS[kind] + (" e" if end and kind in ("new", "lock") else "") + (" a" if above else "")
    return Slot(cls, label, unit, background)


def _one(s, alg: str) -> Slot:
    if s.kind == "mask" and s.guess is not None:
        return slot("ghost", s.guess.label, unit=confidence_unit(s.guess.confidence, alg), above=s.guess.above)
    if s.kind == "mask":
        return slot("mask", s.label)
    fresh = s.kind == "new" and not s.end
    return slot(s.kind, s.label, end=s.end,
                background=confidence_colour(confidence_unit(s.commit.confidence, alg)) if fresh else "")


def slots(frame) -> list[Slot]:
    """A frame record's slots as lean Slots: a masked slot its step scored shows its guess and bar, a fresh
    commit (not an end token) its confidence colour. With blocks, a block's first slot (after the first
    block) carries BLOCK_EDGE and the active block's masked slots ACTIVE_BLOCK: classes, not extra elements,
    so that a slot's index stays its position."""
    out = []
    for s in frame.slots:
        lean = _one(s, frame.alg)
        extra = (f" {BLOCK_EDGE}" if s.edge else "") + (f" {ACTIVE_BLOCK}" if s.active and s.kind == "mask" else "")
        out.append(lean._replace(cls=lean.cls + extra) if extra else lean)
    return out


def slot_html(s: Slot) -> str:
    style = f' style="--c:{s.unit * 100:.0f}%"' if s.unit is not None else (
        f' style="background:{s.background}"' if s.background else "")
    return f'<span class="{s.cls}"{style}>{html.escape(s.label, quote=False)}</span>'


def threshold_style(threshold_unit: float) -> str:
    return f"{threshold_unit * 100:.1f}%"


def tokens(step: int, threshold_unit: float, slots: Iterable[Slot] = ()) -> str:
    """The canvas's token box at this size: the frame's step (for the inspector) and its slots."""
    return (f'<div class="dm-tokens dm-dense" data-step="{step}" style="--thr:{threshold_style(threshold_unit)}" '
            f'title="click a slot to inspect it">{"".join(slot_html(s) for s in slots)}')
