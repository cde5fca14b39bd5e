"""Ghosts and token histories: what the model believed about every masked position, step by step.

Owns reading the ghosts a Trajectory records (`Step.ghost_tokens`,
`ghost_top`, `ghost_top_p`, aligned with `masked_confidence`) back into
per-position views: which positions were masked when an iteration began
(`masked_at`), each one's best guess and top-k candidates at a step
(`ghosts_at`), the rule that committed a position (the threshold, the
schedule's fallback, the last allowed step, padding after the end, or the
template), and a position's whole story for the token inspector
(`inspect`, JSON-ready, also served by the web API).

Steps are numbered as the replay shows them: step s (1..nfe) is iteration
s - 1, whose forward pass saw the canvas after s - 1 steps. It is a pure
function of the Trajectory: no model, no tensors, no HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .blocks import of_trajectory

RULES = {
    "threshold": "its confidence was above the threshold",
    "fallback": "no position passed the threshold, so the schedule's fallback committed the most confident",
    "last step": "the last allowed step commits everything left (with blocks: left in its block)",
    "padding": "it comes after a committed end token, so it was padded without a forward pass",
    "template": "the structure prior (template) fixed it before decoding",
    "chosen": "a person chose it before this branch was decoded; it is never changed",
    "carried": "it was committed in the run this branch started from, and carried over",
}


@dataclass
class Ghost:
    """One masked position at one step: the model's best guess and its candidates."""

    position: int
    token: int  # the token the engine would commit (the argmax, or the sample with temperature > 0)
    confidence: float  # the algorithm's score of it (what the threshold is compared with)
    top: list[tuple[int, float]] = field(default_factory=list)  # top-k candidates (token, probability)


def _masked(traj, state: list[int], step: int) -> list[int]:
    masked = [i for i, t in enumerate(state) if t == traj.mask_token_id and not traj.fixed[i]]
    record = traj.steps[step - 1]
    if step == 1 and len(masked) != len(record.masked_confidence) and record.padded:
        early = set(record.padded)  # skip_padding: a tail after a fixed end is padded before the first forward
        masked = [i for i in masked if i not in early]
    return masked


def masked_in(traj, state: list[int], step: int) -> list[int]:
    """Positions step `step` scored, given `state`, the canvas its forward pass saw (masked_confidence's order)."""
    return _masked(traj, state, step)


def masked_at(traj, step: int) -> list[int]:
    """Positions masked when step `step` (1-based) began, in the order its masked_confidence lists them."""
    if not 1 <= step <= len(traj.steps):
        return []
    return _masked(traj, traj.state_at(step - 1), step)


def walk(traj):
    """(step, positions masked when it began) for every step, in one pass over the record."""
    state = list(traj.canvas)
    for n, record in enumerate(traj.steps, start=1):
        yield n, _masked(traj, state, n)
        for pos, tok in record.writes(traj.pad_token_id):
            state[pos] = tok


def ghosts_at(traj, step: int, before: Optional[list[int]] = None) -> dict[int, Ghost]:
    """Every position masked when `step` began -> its Ghost (empty where the record has no ghosts).
    `before`: the canvas after step - 1 steps, where the caller has it (saves replaying the record)."""
    if not 1 <= step <= len(traj.steps):
        return {}
    record = traj.steps[step - 1]
    masked = _masked(traj, before, step) if before is not None else masked_at(traj, step)
    if not record.ghost_tokens or len(record.ghost_tokens) != len(masked):
        return {}
    return {pos: Ghost(pos, tok, conf, list(zip(top, probs)))
            for pos, tok, conf, top, probs in zip(masked, record.ghost_tokens, record.masked_confidence,
                                                  record.ghost_top, record.ghost_top_p)}


def threshold_of(traj) -> float:
    return float((traj.config or {}).get("alg_p_threshold", 0.0) or 0.0)


def step_rule(traj, step: int) -> str:
    """The rule step `step` (1-based) committed its positions by: threshold, fallback or last step (the last
    allowed iteration of the decode, or with blocks of the active block's slot: `dimple.blocks`)."""
    record = traj.steps[step - 1]
    if not record.fallback:
        return "threshold"
    if (traj.config or {}).get("steps") is None:
        return "fallback"
    blocks = of_trajectory(traj)
    _, last = blocks.slot_at(record.block or 0, traj.start_step + record.index)
    return "last step" if last else "fallback"


def commit_of(traj, position: int) -> tuple[Optional[int], str]:
    """(step that committed `position` (1-based) or None, rule); rule "masked" while it is not committed.
    Tokens on the canvas before this decode: "chosen" (a person's, `traj.chosen`), "template" (fixed),
    "carried" (a branch's, committed in the run it started from)."""
    if position in traj.chosen:
        return None, "chosen"
    if traj.fixed[position]:
        return None, "template"
    if traj.canvas[position] != traj.mask_token_id:
        return None, "carried"
    for n, record in enumerate(traj.steps, start=1):
        if position in record.padded:
            return n, "padding"
        if position in record.positions:
            return n, step_rule(traj, n)
    return None, "masked"


def history(traj, position: int) -> list[dict]:
    """Per step while `position` was masked, up to the step that committed it: guess, confidence, committed."""
    rows = []
    for n, masked in walk(traj):
        record = traj.steps[n - 1]
        if position not in masked:
            if rows:
                break  # committed (or padded) before this step
            continue
        j = masked.index(position)
        if j >= len(record.ghost_tokens) or len(record.ghost_tokens) != len(masked):
            continue  # an older export: no ghosts recorded
        tok = record.ghost_tokens[j]
        committed = position in record.positions
        rows.append({"step": n, "token": tok, "text": traj.token_text.get(tok, ""),
                     "confidence": record.masked_confidence[j], "committed": committed})
        if committed:
            break
    return rows


def _check(traj, position, step) -> None:
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < traj.length:
        raise ValueError(f"position must be an integer in [0, {traj.length - 1}] (the canvas has {traj.length} "
                         f"positions), got {position!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= len(traj.steps)):
        raise ValueError(f"step must be an integer in [1, {len(traj.steps)}] (the run has {len(traj.steps)} steps), "
                         f"got {step!r}")


def inspect(traj, position: int, step: Optional[int] = None) -> dict:
    """The token inspector's record of one position (JSON-ready).

    step (1-based, default: the step that committed it, else the last): its top-k candidates there; where it
    was already committed by then, those of its committing step. Raises ValueError naming a bad position/step.
    """
    _check(traj, position, step)
    committed_step, rule = commit_of(traj, position)
    shown = step if step is not None else (committed_step or len(traj.steps) or None)
    ghost = ghosts_at(traj, shown).get(position) if shown else None
    if ghost is None and committed_step is not None and rule != "padding":
        shown, ghost = committed_step, ghosts_at(traj, committed_step).get(position)
    final = traj.response_ids[position]
    return {
        "position": position,
        "step": shown,
        "threshold": threshold_of(traj),
        "candidates": [{"token": t, "text": traj.token_text.get(t, ""), "p": p} for t, p in (ghost.top if ghost else [])],
        "guess": None if ghost is None else {"token": ghost.token, "text": traj.token_text.get(ghost.token, ""),
                                             "confidence": ghost.confidence},
        "history": history(traj, position),
        "committed_step": committed_step,
        "rule": rule,
        "why": RULES.get(rule, "it is still masked"),
        "token": None if final == traj.mask_token_id else final,
        "text": "" if final == traj.mask_token_id else traj.token_text.get(final, ""),
    }
