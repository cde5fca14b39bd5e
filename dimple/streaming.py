"""Streamed states for API clients: one iteration of a growing Trajectory as a JSON-ready message.

Owns the shape of the intermediate messages that `/generate` and `/branch`
send with `stream_steps=True` (docs/DESIGN.md, Streaming) before their usual
final JSON (`trajectory.generation_record`):

    {"step": n,            # iterations done (0: the starting canvas, before any forward pass)
     "ids": [...],         # the response canvas after them, the mask id where still masked
     "texts": [...],       # per position: its token's text, None where masked
     "committed": [...],   # positions step n wrote (the model's commits, then padding after an end)
     "block": b,           # the block step n decoded (dimple.blocks); None without blocks or at step 0
     "masked": m}          # positions still masked

`step_message` reads one step of a Trajectory (the engine's and the
assistant's `stream` yield the same record, grown by one step each time);
`step_messages` turns such a stream into messages. Pure functions of the
record: no model, no Gradio (the app wires them to its endpoints), no
placeholders or colours (a client draws the masks as it likes).
"""

from __future__ import annotations

from typing import Iterable, Iterator, Mapping, Optional

from .trajectory import Trajectory


def step_message(traj: Trajectory, n: Optional[int] = None, token_text: Optional[Mapping[int, str]] = None) -> dict:
    """The message for step `n` of `traj` (default: its latest). token_text: id -> text (default: the record's;
    an id it lacks reads as "")."""
    n = len(traj.steps) if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= len(traj.steps):
        raise ValueError(f"step must be an integer in [0, {len(traj.steps)}], got {n!r}")
    texts = traj.token_text if token_text is None else token_text
    ids = traj.state_at(n)
    mask = traj.mask_token_id
    step = traj.steps[n - 1] if n else None
    return {
        "step": n,
        "ids": ids,
        "texts": [None if t == mask else texts.get(t, "") for t in ids],
        "committed": list(step.positions) + list(step.padded) if step else [],
        "block": step.block if step else None,
        "masked": sum(1 for t in ids if t == mask),
    }


def step_messages(trajs: Iterable[Trajectory], token_text: Optional[Mapping[int, str]] = None) -> Iterator[dict]:
    """A message per yield of a decode's stream (first the starting canvas, then one per iteration)."""
    for traj in trajs:
        yield step_message(traj, token_text=token_text)
