"""The token inspector's panel and the grounding heatmap: what one clicked position went through.

Owns drawing `dimple.ghosts.inspect`'s record as HTML (the position's top-k
candidates with their probabilities at the selected step, how its best guess
and confidence moved from step to step until it was committed, the step that
committed it and the rule that did) and a `dimple.grounding.Grounding` as a
heatmap over the picture (PIL: the grid upsampled, coloured and blended over
the part of the image the model saw). It reads records only: no model, no
Gradio.
"""

from __future__ import annotations

import html
from typing import Optional

from PIL import Image

from ..canvas.frames import token_label

RULE_WORDS = {
    "threshold": "the threshold",
    "fallback": "the schedule's fallback",
    "last step": "the last step",
    "padding": "padding after the end",
    "template": "the template (fixed)",
    "masked": "nothing yet (still masked)",
}
HEAT_SIZE = 252


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _label(text: str) -> str:
    return _esc(token_label(text))


def empty_inspector(message: str = "Click a position on the canvas (live or in replay) to inspect it.") -> str:
    return f'<div class="dm-card dm-inspector"><div class="dm-empty">{_esc(message)}</div></div>'


def _headline(rec: dict) -> str:
    pos, rule = rec["position"], rec["rule"]
    token = f" <b>{_label(rec['text'])}</b>" if rec["token"] is not None else ""
    if rec["committed_step"] is not None:
        how = f"committed at step {rec['committed_step']} by <b>{RULE_WORDS[rule]}</b>"
    else:
        how = f"set by <b>{RULE_WORDS[rule]}</b>"
    return (f'<div class="dm-head"><span class="dm-badge dm-step">position {pos}</span>{token}'
            f'<span>{how}: {_esc(rec["why"])}.</span></div>')


def _candidates(rec: dict) -> str:
    if not rec["candidates"]:
        return '<div class="dm-note">No candidates recorded for this position (fixed, padded, or an older export).</div>'
    rows = "".join(f'<tr><td>{_label(c["text"])}</td><td><span class="dm-pbar" style="width:{c["p"] * 80:.0f}px">'
                   f'</span></td><td>{c["p"]:.3f}</td></tr>' for c in rec["candidates"])
    return (f'<div class="dm-note">Top candidates at step {rec["step"]} (threshold {rec["threshold"]:.2f}):</div>'
            f'<table class="dm-candidates"><tr><th>token</th><th></th><th>probability</th></tr>{rows}</table>')


def _history(rec: dict) -> str:
    if not rec["history"]:
        return ""
    rows = "".join(
        f'<tr><td>{h["step"]}</td><td>{_label(h["text"])}</td><td>{h["confidence"]:.3f}</td>'
        f'<td>{"above" if h["confidence"] > rec["threshold"] > 0 else "below" if rec["threshold"] > 0 else "-"}</td>'
        f'<td>{"committed" if h["committed"] else ""}</td></tr>' for h in rec["history"])
    return ('<div class="dm-note">Its best guess, step by step until committed:</div>'
            f'<table class="dm-history"><tr><th>step</th><th>best guess</th><th>confidence</th><th>threshold</th>'
            f'<th></th></tr>{rows}</table>')


def render_inspector(rec: Optional[dict]) -> str:
    """The panel for one `dimple.ghosts.inspect` record."""
    if rec is None:
        return empty_inspector()
    return (f'<div class="dm-card dm-inspector" data-pos="{rec["position"]}">{_headline(rec)}'
            f'{_candidates(rec)}{_history(rec)}</div>')


def _colour(v: float) -> tuple[int, int, int, int]:
    """Transparent (nothing) -> orange -> red (most attention)."""
    v = min(max(v, 0.0), 1.0)
    return 255, int(200 * (1 - v)), 0, int(40 + 170 * v)


def heatmap(image: Image.Image, grid: list[list[float]], box: Optional[list[int]] = None) -> Image.Image:
    """The grounding grid blended over `image` (cropped to `box`, the part the model saw), HEAT_SIZE px wide."""
    view = image.crop(tuple(box)) if box else image
    rows, cols = len(grid), len(grid[0])
    top = max(max(r) for r in grid) or 1.0
    cells = Image.new("RGBA", (cols, rows))
    cells.putdata([_colour(v / top) for row in grid for v in row])
    height = max(1, round(HEAT_SIZE * view.height / max(view.width, 1)))
    overlay = cells.resize((HEAT_SIZE, height), Image.NEAREST)
    return Image.alpha_composite(view.convert("RGBA").resize((HEAT_SIZE, height)), overlay).convert("RGB")
