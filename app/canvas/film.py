"""A whole large run for the browser, so that replaying and scrubbing it need no server round trip.

Owns the film: one message, sent when a run of render.DENSE_FROM positions
or more ends (or is imported), from which the page's grid
(app/canvas_client.py) draws any step by itself. It holds the starting
canvas, every step's writes, the colour of each fresh commit, every step's
ghosts (masked positions, best guesses, bar fill, above the threshold) and
the badges and narration of every step, plus one label per token id. The
browser rebuilds a step's canvas from the writes and applies the same slot
rule as render.dense_slots (lock, mask or ghost, fresh, end, earlier; a
padding label after the first end); tests/test_browser_canvas.py checks
that both draw the same slots.

It reads the Trajectory through render.py's and dimple.ghosts' decisions;
it knows nothing of Gradio or the model.
"""

from __future__ import annotations

from . import render
from .colours import confidence_colour, confidence_percents, confidence_unit
from .narration import narration
from dimple.ghosts import masked_in, threshold_of


def _labels(traj, tokens: set[int]) -> tuple[dict, dict]:
    """{token id: label} as a slot shows it, and {end token id: label} after the answer's first end."""
    ends = set(traj.end_token_ids)
    text = traj.token_text.get
    shown = {str(t): render.token_label(text(t), t in ends) for t in tokens}
    after = {str(t): render.token_label(text(t), True, True) for t in tokens if t in ends}
    return shown, after


def _ghosts(traj, n: int, before: list[int], alg: str, thr: float) -> list[list]:
    """Step n's ghosts as [positions, best guesses, bar fill in %, above the threshold] (dimple.ghosts' record)."""
    record = traj.steps[n - 1]
    masked = masked_in(traj, before, n)
    if not record.ghost_tokens or len(record.ghost_tokens) != len(masked):
        return [[], [], [], []]
    above = [int(thr > 0 and c > thr) for c in record.masked_confidence]
    return [masked, list(record.ghost_tokens), confidence_percents(record.masked_confidence, alg), above]


def _step(traj, n: int, state: list[int], alg: str, thr: float) -> dict:
    """Step n's record for the browser; `state` is the canvas after it (not changed)."""
    record = traj.steps[n - 1]
    ends = set(traj.end_token_ids)
    fresh = {str(pos): "" if state[pos] in ends else confidence_colour(confidence_unit(conf, alg))
             for pos, conf in render.commit_confidences(record).items()}
    return {"w": [[p, t] for p, t in record.writes(traj.pad_token_id)], "f": fresh,
            "g": _ghosts(traj, n, render.seen_canvas(traj, record, state), alg, thr)}


def film(traj, title: str = "") -> dict:
    """Everything the browser needs to draw every step of `traj` as render.dense_slots does."""
    alg = str(traj.config.get("alg", "maskgit_plus"))
    thr = threshold_of(traj)
    state = list(traj.canvas)
    heads, steps, tokens = [render.canvas_head(traj, 0, state, title)], [], set(state)
    for n in range(1, len(traj.steps) + 1):
        for pos, tok in traj.steps[n - 1].writes(traj.pad_token_id):
            state[pos] = tok
        step = _step(traj, n, state, alg, thr)
        tokens.update(t for _, t in step["w"])
        tokens.update(step["g"][1])
        steps.append(step)
        heads.append(render.canvas_head(traj, n, state, title))
    shown, after = _labels(traj, tokens)
    return {"len": traj.length, "canvas": list(traj.canvas), "fixed": [int(f) for f in traj.fixed],
            "mask": traj.mask_token_id, "ends": list(traj.end_token_ids), "mask_label": render.MASK_GLYPH,
            "labels": shown, "after_end": after, "thr": round(confidence_unit(thr, alg), 4), "steps": steps,
            "heads": heads, "narration": narration(traj)}
