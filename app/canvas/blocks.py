"""The look of semi-autoregressive blocks on the canvas: a boundary before each block and the active block.

Owns how a decode with `block_length` (dimple.blocks) reads on the response
canvas: a thin vertical edge, labelled with the block's number, before the
first slot of every block after the first; the slots of the block being
decoded (the first with a mask) underlined; a badge "block k / N" in the
head. Its CSS is app/static/blocks.css (part of render.CANVAS_CSS). Which block
a slot lies in, and which is active, are app/canvas/frames.py's records; a
decode without blocks (one block) draws nothing. A large canvas's grid
(app/static/canvas.js) draws the same edges and active block from its frame
message (client.block_marks) and film, with this badge in its head. It knows
nothing of Gradio, the Trajectory or the model.
"""

from __future__ import annotations

import html
from typing import Optional, Sequence



def edge(found: Sequence[Sequence[int]], block: int) -> str:
    """The boundary drawn before the first position of `block` (one after the first)."""
    lo, hi = found[block]
    title = html.escape(f"block {block + 1} of {len(found)}: positions {lo} to {hi - 1}", quote=True)
    return f'<span class="dm-block-edge" data-block="{block}" data-label="{block + 1}" title="{title}"></span>'


def badge(found: Sequence[Sequence[int]], block: Optional[int]) -> str:
    """The head's badge: which block is being decoded (or that all are done)."""
    if not found:
        return ""
    said = f"block {block + 1} / {len(found)}" if block is not None else f"{len(found)} blocks"
    return f'<span class="dm-badge dm-block" title="semi-autoregressive: blocks decoded left to right">{said}</span>'
