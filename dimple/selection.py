"""Which masked positions one iteration commits: Dimple's confident-decoding rule, whole canvas or per block.

Owns the rule as small pure functions on one row's scores: `select_positions`
(every masked position above the threshold; else the schedule's fallback
count, `sampling.fallback_count`; everything at the last allowed iteration)
and `select_in_block`, which applies it inside the active block with that
block's share of the schedule (`dimple.blocks`; without blocks it is
`select_positions` on the whole canvas, exactly). `first_denominator` gives the
schedule's denominator a decode starts with. It knows nothing of models,
caches or the Trajectory.
"""

from __future__ import annotations

from typing import Optional

import torch

from .blocks import Blocks, active_block, masked_in
from .config import DecodeConfig
from .sampling import fallback_count, pick_fallback


def select_positions(confidence: torch.Tensor, n_total: int, i: int, cfg: DecodeConfig, grid,
                     generator: torch.Generator, threshold: Optional[float] = None,
                     last: Optional[bool] = None) -> tuple[torch.Tensor, bool]:
    """The confident-decoding rule at schedule iteration `i`: (indices into the masked positions to commit,
    whether the schedule's fallback chose them). `threshold`: a row's own (the explorer's); None: cfg's.
    `last`: whether i is the last allowed iteration (None: i == steps - 1; a block's slot says otherwise)."""
    threshold = cfg.alg_p_threshold if threshold is None else threshold
    if (i == cfg.steps - 1) if last is None else last:
        return torch.arange(confidence.numel()), True  # the last allowed iteration commits everything
    if threshold > 0:
        passing = confidence > threshold
        if bool(passing.any()):
            return passing.nonzero(as_tuple=True)[0], False
    k = fallback_count(confidence.numel(), n_total, i, grid)
    return pick_fallback(cfg.alg, confidence, k, cfg.alg_temp, generator).sort().values, True


def select_in_block(confidence: torch.Tensor, masked: torch.Tensor, blocks: Blocks, i: int, cfg: DecodeConfig,
                    grids: dict, generator: torch.Generator, threshold: Optional[float],
                    denominators: dict) -> tuple[torch.Tensor, bool, int]:
    """The rule inside the active block (the first with a mask; `dimple.blocks`) at schedule index i:
    (indices into `masked` (ascending) to commit, fallback, the block). Without blocks: the whole canvas,
    exactly `select_positions`. `denominators` gains a newly active block's masked count."""
    block = blocks.block_of(int(masked[0]))
    inside = int((masked < blocks.bounds(block)[1]).sum())  # masked is ascending: the block's are a prefix
    n_total = denominators.setdefault(block, inside)
    j, last = blocks.slot_at(block, i)
    chosen, fallback = select_positions(confidence[:inside], n_total, j, cfg, grids[blocks.slots[block]], generator,
                                        threshold, last=last)
    return chosen, fallback, block


def first_denominator(blocks: Blocks, ids, mask_id: int, start_masked: Optional[int], total: int) -> dict:
    """{block active at the start: its schedule denominator}: the decode's `total` without blocks; with blocks,
    the block's masked count, or the `start_masked` a branch carries over (never below the count)."""
    block = active_block(blocks, ids, mask_id)
    if block is None:
        return {}
    if blocks.whole:
        return {block: total}
    n = masked_in(blocks, block, ids, mask_id)
    return {block: n if start_masked is None else max(start_masked, n)}
