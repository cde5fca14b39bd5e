"""The starting canvas of one decode: what a request may start from, checked in one place.

A decode starts from a response canvas: mask ids where the model decides and
tokens everywhere else. The tokens come from a structure prior (a template),
from a canvas taken out of an earlier run (a branch, docs/DESIGN.md
"Branching") or both. Confident decoding decodes only masked positions, so
every token on the canvas is kept as given; `fixed` names the ones the record
marks as fixed (a template's text, the tokens a person chose or locked: drawn
locked, not counted as generated). The others are carried over as already
committed. A masked position cannot be fixed.

A branch also continues the fallback schedule where it was: `start_step` is
the iteration the canvas was taken after (the next iteration has that index)
and `start_masked` the number of positions masked when the original decode
began (the schedule's denominator).

Owns the checks and their messages (ValueError naming the argument): canvas
length, token ids within the model's vocabulary (and not an image placeholder), fixed positions in range and
not masked, the start step within the allowed iterations, a positive masked
count. It knows nothing of models, tensors or the UI; the engine hands it plain
lists and the few numbers it checks against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from .config import MAX_NEW_TOKENS_LIMIT


@dataclass(frozen=True)
class StartCanvas:
    ids: list[int]  # the response canvas, mask id where masked
    fixed: list[bool]  # per position: True where the record marks the token as fixed
    start_step: int  # index of the first iteration this decode runs
    start_masked: int  # masked positions when the original decode began (the schedule's denominator)


def _int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def _check_ids(canvas: Sequence[int], vocab_size: Optional[int], reserved: Sequence[int]) -> list[int]:
    ids = [_int(f"canvas[{i}]", t) for i, t in enumerate(canvas)]
    if not ids:
        raise ValueError("canvas is empty; give one token id (or the mask id) per response position")
    if len(ids) > MAX_NEW_TOKENS_LIMIT:
        raise ValueError(f"canvas has {len(ids)} positions; the limit is {MAX_NEW_TOKENS_LIMIT}")
    for i, tok in enumerate(ids):
        if tok < 0 or (vocab_size is not None and tok >= vocab_size):
            limit = f"[0, {vocab_size - 1}]" if vocab_size is not None else "non-negative"
            raise ValueError(f"canvas[{i}] = {tok} is not a token id of this model (ids are {limit})")
        if tok in reserved:
            raise ValueError(f"canvas[{i}] = {tok} is the image/video placeholder token, which only the prompt may hold")
    return ids


def _check_fixed(fixed: Optional[Sequence[int]], ids: list[int], mask_id: int) -> list[bool]:
    if fixed is None:
        return [t != mask_id for t in ids]
    flags = [False] * len(ids)
    for p in fixed:
        p = _int("fixed position", p)
        if not 0 <= p < len(ids):
            raise ValueError(f"fixed position {p} is out of range: the canvas has positions 0 to {len(ids) - 1}")
        if ids[p] == mask_id:
            raise ValueError(f"fixed position {p} is masked in the canvas; a fixed position must hold a token")
        flags[p] = True
    return flags


def start_canvas(
    canvas: Optional[Sequence[int]],
    fixed: Optional[Sequence[int]],
    start_step: int,
    start_masked: Optional[int],
    *,
    length: int,
    steps: int,
    mask_id: int,
    vocab_size: Optional[int] = None,
    reserved: Sequence[int] = (),
) -> StartCanvas:
    """Check a request's canvas and schedule position; raise ValueError naming what is wrong.

    canvas None: `length` masks (the canvas's own length wins otherwise). fixed None: every token of the
    canvas. start_masked None: the masked count of this canvas at start_step 0, else the canvas length.
    reserved: ids a canvas may not hold (the image placeholder: the model puts image features there).
    """
    ids = _check_ids(canvas, vocab_size, reserved) if canvas is not None else [mask_id] * length
    flags = _check_fixed(fixed, ids, mask_id)
    step = _int("start_step", start_step)
    n_masked = sum(1 for t in ids if t == mask_id)
    if not 0 <= step <= steps:
        raise ValueError(f"start_step must be in [0, {steps}] (steps is {steps}), got {step}")
    if step == steps and n_masked:
        raise ValueError(f"start_step {step} leaves no iteration of steps={steps} for the {n_masked} masked "
                         f"position(s); raise steps")
    if start_masked is None:
        # a decode from its start: this canvas's masks; a branch (docs/DESIGN.md): the canvas length, as when
        # the original decode began with every position masked
        total = max(1, n_masked) if step == 0 else len(ids)
    else:
        total = _int("start_masked", start_masked)
        if not 1 <= total <= MAX_NEW_TOKENS_LIMIT:
            raise ValueError(f"start_masked must be in [1, {MAX_NEW_TOKENS_LIMIT}], got {total}")
    return StartCanvas(ids, flags, step, total)
