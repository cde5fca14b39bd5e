"""Branches of a decode: the canvas a person edits at a replay step, and where two runs differ.

A branch starts from the canvas of a Trajectory after its k-th recorded
iteration (`resume_point`: that canvas, and the schedule position the engine
continues from: `start_step`, `start_masked`), changed by edits: a position
set to another token (`place`: a word of several tokens fills consecutive
positions), positions re-masked (`remask`, or every position but the kept
ones: `remask_all_but`). `dimple.generate(..., **resume_point(...))` with the
edited canvas decodes the branch; `differences` lists the positions where two
finished canvases disagree.

Pure functions on token lists and the Trajectory record: no model, no
tokenizer (a word arrives as its token ids), no UI.
"""

from __future__ import annotations

from typing import Collection, Iterable, Sequence

from .blocks import resume_masked
from .trajectory import Trajectory


def resume_point(traj: Trajectory, k: int) -> dict:
    """The generate keywords of a branch taken after the k-th recorded iteration of `traj` (0: its start):
    `canvas`, `start_step` (schedule index, counting a parent branch's own start) and `start_masked` (the
    schedule's denominator; with blocks, that of the block active after step k: `dimple.blocks`)."""
    if not 0 <= k <= len(traj.steps):
        raise ValueError(f"step {k} is not a replay step of this run (0 to {len(traj.steps)})")
    return {"canvas": traj.state_at(k), "start_step": traj.start_step + k, "start_masked": resume_masked(traj, k)}


def place(canvas: Sequence[int], pos: int, ids: Sequence[int], protected: Collection[int] = ()) -> list[int]:
    """`canvas` with the tokens `ids` written at pos, pos + 1, ...; ValueError when they do not fit or would
    overwrite a protected position (a template's fixed text)."""
    ids = list(ids)
    if not ids:
        raise ValueError("the word has no tokens")
    if not 0 <= pos < len(canvas):
        raise ValueError(f"position {pos} is outside the canvas (0 to {len(canvas) - 1})")
    end = pos + len(ids)
    if end > len(canvas):
        raise ValueError(f"the word is {len(ids)} tokens; from position {pos} only {len(canvas) - pos} fit "
                         f"before the end of the canvas")
    hit = sorted(set(range(pos, end)) & set(protected))
    if hit:
        raise ValueError(f"the word is {len(ids)} tokens and would overwrite the fixed position(s) {hit}")
    out = list(canvas)
    out[pos:end] = ids
    return out


def remask(canvas: Sequence[int], positions: Iterable[int], mask_id: int) -> list[int]:
    out = list(canvas)
    for p in positions:
        if not 0 <= p < len(out):
            raise ValueError(f"position {p} is outside the canvas (0 to {len(out) - 1})")
        out[p] = mask_id
    return out


def remask_all_but(canvas: Sequence[int], keep: Collection[int], mask_id: int) -> list[int]:
    """Every position masked except the kept ones: the rest of the answer is decoded again."""
    return [t if i in keep else mask_id for i, t in enumerate(canvas)]


def differences(a: Sequence[int], b: Sequence[int], end_ids: Collection[int] = ()) -> list[int]:
    """Positions where two canvases hold different tokens, up to and including the later answer end (what
    follows both ends is padding, not answer)."""
    def end(ids):
        return next((i for i, t in enumerate(ids) if t in end_ids), len(ids))

    stop = min(max(end(a), end(b)) + 1, max(len(a), len(b)))
    return [i for i in range(stop) if i >= len(a) or i >= len(b) or a[i] != b[i]]


def spaced(word: str, replaced: str) -> str:
    """A typed word takes the leading space of the token it replaces ("green" over " blue" is " green"), so
    that it joins the answer as the replaced token did; a word typed with its own space keeps it."""
    return " " + word if replaced.startswith(" ") and not word.startswith(" ") else word
