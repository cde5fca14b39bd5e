"""A whole large run for the browser, so that replaying and scrubbing it need no server round trip.

Owns the film: one message, sent when a run of render.DENSE_FROM positions
or more ends (or is imported), from which the page's grid
(app/canvas/client.py) draws any step by itself. It holds the starting
canvas, every step's writes, the colour of each fresh commit, every step's
ghosts (masked positions, best guesses, bar fill, above the threshold) and
the badges and narration of every step, plus one label per token id; for a
semi-autoregressive decode, the positions that start a block (frames.py's
block_edges, the same as its Slot.edge) and every step's active block. The
browser rebuilds a step's canvas from the writes and applies the same slot
rule as app/canvas/frames.py (lock, mask or ghost, fresh, end, earlier; a
padding label after the first end); tests/test_browser_canvas.py checks
that both draw the same slots.

Every step's part comes from frames.py's records (its Change and Badges);
it knows nothing of Gradio or the model.
"""
from __future__ import annotations

from . import frames, render
from .colours import confidence_colour, confidence_percents, confidence_unit
from .narration import narration
from dimple.ghosts import threshold_of


def _labels(traj, tokens: set[int]) -> tuple[dict, dict]:
    """{token id: label} as a slot shows it, and {end token id: label} after the answer's first end."""
    ends = set(traj.end_token_ids)
    text = traj.token_text.get
    shown = {str(t): frames.token_label(text(t), t in ends) for t in tokens}
    after = {str(t): frames.token_label(text(t), True, True) for t in tokens if t in ends}
    return shown, after


def _step(change: frames.Change, state: list[int], ends: set, alg: str) -> dict:
    """A step's Change for the browser: writes, fresh colours, ghosts as [positions, best guesses, bar fill in
    %, above the threshold]; `state` is the canvas after it."""
    fresh = {str(pos): "" if state[pos] in ends else confidence_colour(confidence_unit(conf, alg))
             for pos, conf in change.commits.items()}
    ghosts = [change.scored, change.guesses, confidence_percents(change.confidences, alg),
              [int(a) for a in change.above]]
    return {"w": [[p, t] for p, t in change.writes], "f": fresh, "g": ghosts}


def film(traj, title: str = "") -> dict:
    """Everything the browser needs to draw every step of `traj` as frames.frame and dense.slots do."""
    alg, ends = frames.alg_of(traj), set(traj.end_token_ids)
    heads, steps, tokens, active = [], [], set(traj.canvas), []
    for n, state, change in frames.walk(traj):
        shown = frames.badges(traj, n, state)
        heads.append(render.canvas_head(shown, title))
        bounds = frames.active_bounds(shown)
        active.append(None if bounds is None else list(bounds))
        if change is not None:
            steps.append(_step(change, state, ends, alg))
            tokens.update(t for _, t in change.writes)
            tokens.update(change.guesses)
    shown, after = _labels(traj, tokens)
    return {"len": traj.length, "canvas": list(traj.canvas), "fixed": [int(f) for f in traj.fixed],
            "mask": traj.mask_token_id, "ends": list(traj.end_token_ids), "mask_label": frames.MASK_GLYPH,
            "labels": shown, "after_end": after, "thr": round(confidence_unit(threshold_of(traj), alg), 4),
            "steps": steps, "heads": heads, "narration": narration(traj),
            "edges": frames.block_edges(frames.block_bounds(traj)), "active": active}
