"""The ghost view's look: a masked slot showing the model's current best guess, and the confidence bar.

Owns how a ghost reads on the canvas: the guess in faded italics inside the
masked slot; under every slot the step's forward pass scored, a thin bar
filled to its confidence with the threshold drawn as a line across it (green
fill above the line, grey below), so a viewer sees which positions are about
to commit and which are far from it (a large canvas is app/canvas/dense.py's);
the `data-pos` / `data-step` attributes the token inspector's click reads; and the CSS for all of it (appended to
render.CANVAS_CSS). It draws what it is given (app/canvas/frames.py decides
which slot shows what); it knows nothing of Gradio or the model.
"""

from __future__ import annotations

import html

GHOST_CSS = """
.dm-tokens { --thr: 90%; }
.dm-tok { position: relative; cursor: pointer; }
.dm-tok.dm-ghost { color: #8f95aa; font-style: italic; letter-spacing: 0; opacity: .9; }
.dm-bar { position: absolute; left: 2px; right: 2px; bottom: -4px; height: 3px; background: #dfe2ea;
  border-radius: 2px; pointer-events: none; }
.dm-bar::before { content: ""; position: absolute; left: 0; top: 0; bottom: 0; width: var(--c); background: #9aa0b2;
  border-radius: 2px; }
.dm-bar.dm-above::before { background: #1f9d55; }
.dm-bar::after { content: ""; position: absolute; left: var(--thr); top: -2px; bottom: -2px; width: 1px;
  background: #1f2330; }
.dm-tok.dm-picked { outline: 2px solid #3b4cca; outline-offset: 1px; }
.dm-narration { font-size: 13px; color: #1f2330; background: #eef0fb; border-radius: 8px; padding: 4px 10px;
  margin: 0 0 8px 0; }
.dm-inspector table { border-collapse: collapse; font-size: 12px; margin-top: 4px; }
.dm-inspector td, .dm-inspector th { padding: 1px 8px; border-bottom: 1px solid #eceef4; text-align: left; }
.dm-inspector .dm-pbar { display: inline-block; height: 8px; background: #7c6cf0; border-radius: 2px; }
.dm-explore table { border-collapse: collapse; font-size: 13px; width: 100%; }
.dm-explore td, .dm-explore th { padding: 2px 8px; border-bottom: 1px solid #eceef4; text-align: left; }
.dm-explore tr.dm-changed td { border-top: 2px solid #f28e2b; }
.dm-explore .dm-differs { color: #b00020; font-weight: 600; }
.dm-explore .dm-nfe { display: inline-block; height: 9px; background: #3b4cca; border-radius: 2px; }
"""

# What the canvas's gr.HTML runs once: a click on a slot sends its position and the frame's step
# (a lean large canvas, app/dense_view.py, has no data-pos: a slot's index among its siblings is its position).
CLICK_JS = """
element.addEventListener('click', (e) => {
  const slot = e.target.closest('[data-pos], .dm-dense > span');
  if (!slot) return;
  const box = slot.closest('.dm-tokens');
  const pos = slot.dataset.pos !== undefined ? Number(slot.dataset.pos) : Array.prototype.indexOf.call(box.children, slot);
  element.querySelectorAll('.dm-picked').forEach((x) => x.classList.remove('dm-picked'));
  slot.classList.add('dm-picked');
  trigger('click', {pos: pos, step: Number(box ? box.dataset.step : 0)});
});
"""


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
