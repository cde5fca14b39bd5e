"""Semi-autoregressive blocks: the canvas cut into blocks decoded left to right, and each block's schedule.

Beyond the paper (Dimple decodes the whole canvas at once), as LLaDA's
`generate.py` (Nie et al. 2025, "Large Language Diffusion Models", arXiv
2502.09992: semi-autoregressive remasking), MMaDA and Fast-dLLM v2 offer it.
`DecodeConfig.block_length` B sets it; the rules, in the order the engine
applies them:

* Blocks. B cuts the response canvas into blocks of B positions from the
  left; the last block holds what remains (shorter where B does not divide the
  canvas: a template's length rarely does). B at least the canvas length is
  one block, and None is one block: the paper's decoding, token for token.
* Active block. The first block with a masked position. An iteration commits
  only inside it, so block k + 1 starts only when block k has no mask left.
  A structure prior's fixed tokens stay where they are and belong to whichever
  block holds them; a block with no masked position is passed over without a
  forward pass. Padding after a committed end (`skip_padding`) is not a commit
  of the model: the answer has ended, so it may fill later blocks at once.
* Steps. LLaDA requires steps divisible by the number of blocks and gives
  each block steps / num_blocks. Here block b gets a slot of S_b iterations,
  the steps split as evenly as possible (the first steps % num_blocks blocks
  get one more; exactly LLaDA's split when it divides), so the one requirement
  is steps >= num_blocks. Block b's slot is the schedule iterations
  [first_b, first_b + S_b).
* Within the active block, Dimple's confident-decoding rule with the block's
  own schedule: grid linspace(1, eps, S_b + 1), iteration (schedule index -
  first_b), or 0 while the block runs ahead of its slot, and as denominator the
  block's masked count when it became active. The slot's last iteration
  commits what is left of the block. A block that finishes early (the
  threshold) leaves its unused iterations to the blocks after it: they start
  early and their slots end where they did, so a decode makes at most `steps`
  forward passes. (An iteration past its block's slot, which only a branch
  that re-masked an earlier block meets, commits the rest of the block too.)
* The schedule index still counts one per forward pass, so a branch taken
  after iteration k resumes with start_step = k and, as start_masked, the
  denominator of the block active then (`resume_masked`).

Pure functions on ints and lists: no tensors, models or UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence


def split_steps(steps: int, n_blocks: int) -> tuple[int, ...]:
    """Iterations each block's slot holds: steps // n_blocks, one more for the first steps % n_blocks."""
    base, extra = divmod(steps, n_blocks)
    return tuple(base + (1 if b < extra else 0) for b in range(n_blocks))


@dataclass(frozen=True)
class Blocks:
    length: int  # response canvas length
    size: int  # positions per block (the last may hold fewer); the canvas length when decoding it whole
    slots: tuple[int, ...]  # per block: the iterations of its slot of the schedule
    whole: bool  # True when block_length is None (the paper): Step.block is then not recorded

    @property
    def count(self) -> int:
        return len(self.slots)

    def bounds(self, block: int) -> tuple[int, int]:
        """Response positions [lo, hi) of `block`."""
        return block * self.size, min((block + 1) * self.size, self.length)

    def all_bounds(self) -> list[list[int]]:
        return [list(self.bounds(b)) for b in range(self.count)]

    def block_of(self, position: int) -> int:
        return position // self.size

    def slot_first(self, block: int) -> int:
        return sum(self.slots[:block])

    def slot_at(self, block: int, i: int) -> tuple[int, bool]:
        """(the block's own iteration index at schedule index i, whether i is its slot's last or later)."""
        first = self.slot_first(block)
        return max(0, i - first), i >= first + self.slots[block] - 1


def plan(block_length: Optional[int], length: int, steps: int) -> Blocks:
    """The blocks of a canvas of `length` positions decoded in `steps`; ValueError naming a bad block_length."""
    if block_length is None:
        return Blocks(length, max(length, 1), (steps,), whole=True)
    if isinstance(block_length, bool) or not isinstance(block_length, int) or block_length < 1:
        raise ValueError(f"block_length must be a positive integer or None (the whole canvas), got {block_length!r}")
    size = min(block_length, max(length, 1))
    n_blocks = -(-length // size)
    if steps < n_blocks:
        raise ValueError(f"block_length {block_length} cuts the canvas of {length} positions into {n_blocks} blocks, "
                         f"but steps={steps}: each block needs at least one step (raise steps to {n_blocks} or "
                         f"block_length)")
    return Blocks(length, size, split_steps(steps, n_blocks), whole=False)


def active_block(blocks: Blocks, canvas: Sequence[int], mask_id: int) -> Optional[int]:
    """The first block with a masked position (None when nothing is masked)."""
    first = next((p for p, t in enumerate(canvas) if t == mask_id), None)
    return None if first is None else blocks.block_of(first)


def masked_in(blocks: Blocks, block: int, canvas: Sequence[int], mask_id: int) -> int:
    lo, hi = blocks.bounds(block)
    return sum(1 for t in canvas[lo:hi] if t == mask_id)


def of_trajectory(traj) -> Blocks:
    """The blocks a recorded decode used (from its config; none recorded: the whole canvas)."""
    config = traj.config or {}
    steps = config.get("steps") or max(len(traj.steps), traj.length, 1)  # a record without steps: enough for all
    return plan(config.get("block_length"), traj.length, int(steps))


def resume_masked(traj, k: int) -> int:
    """The schedule denominator a branch taken after the k-th recorded iteration of `traj` continues with: the
    whole decode's (`traj.start_masked`) without blocks; with blocks, that of the block active after step k
    (its masked count when it became active; `traj.start_masked` for the block active when `traj` began)."""
    blocks = of_trajectory(traj)
    if blocks.whole:
        return traj.start_masked
    mask = traj.mask_token_id
    state = traj.state_at(k)
    block = active_block(blocks, state, mask)
    if block is None or block == active_block(blocks, traj.canvas, mask):
        return traj.start_masked
    first_step = next((n for n, s in enumerate(traj.steps[:k]) if s.block == block), k)
    return masked_in(blocks, block, traj.state_at(first_step), mask)
