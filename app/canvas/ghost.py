"""The ghost view's look: a masked slot showing the model's current best guess, and the confidence bar.

Owns how a ghost reads on the canvas: the guess in faded italics inside the
masked slot; under every slot the step's forward pass scored, a thin bar
filled to its confidence with the threshold drawn as a line across it (green
fill above the line, grey below), so a viewer sees which positions are about
to commit and which are far from it (a large canvas is app/canvas/dense.py's);
the `data-pos` / `data-step` attributes the token inspector's click reads
(app/static/slot_click.js). Its CSS is app/static/ghost.css (part of
render.CANVAS_CSS). It draws what it is given (app/canvas/frames.py decides
which slot shows what); it knows nothing of Gradio or the model.
"""

from __future__ import annotations

import html



def bar(unit: float, above: bool) -> str:
    """The confidence bar under a slot: filled to `unit` (0..1) of its width; the threshold line comes from --thr."""
    cls = "dm-bar dm-above" if above else "dm-bar"
    return f'<i class="{cls}" style="--c:{unit * 100:.0f}%"></i>'


def ghost_slot(pos: int, label: str, title: str, unit: float, above: bool) -> str:
    """A masked slot showing its best guess (faded) and the guess's confidence bar (title: "" for none)."""
    hover = f' title="{html.escape(title, quote=True)}"' if title else ""
    return (f'<span class="dm-tok dm-mask dm-ghost" data-pos="{pos}"{hover}>'
            f'{html.escape(label)}{bar(unit, above)}</span>')


def tokens_open(step: int, threshold_unit: float) -> str:
    """The canvas's token box, carrying the frame's step (for the inspector) and the threshold line's place."""
    return f'<div class="dm-tokens" data-step="{step}" style="--thr:{threshold_unit * 100:.1f}%">'


def narration_line(text: str) -> str:
    return f'<div class="dm-narration">{html.escape(text)}</div>' if text else ""
