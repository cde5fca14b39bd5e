"""A fast stand-in for a model at the 7B's scale: 1,024-token canvases decoded in 300 steps, with ghosts.

Owns nothing of a real model: it streams Trajectory records of the shape the
engine writes (every step commits 3-4 positions, the schedule's way, and
records a ghost, top-3 and probabilities for every position still masked,
so a frame has up to 1,024 ghost slots), after a fixed compute time per step.
With a block length it decodes block by block, left to right (Step.block set).
It meets app.protocol.StudioAssistant, so the real studio (handlers, render,
browser) draws it; scripts/measure_canvas.py measures that drawing.
"""

from __future__ import annotations

import random
import time

from dimple import blocks
from dimple.config import DecodeConfig
from dimple.trajectory import Step, Trajectory
from fake_assistant import FakeAssistant

MASK, END = 0, 1
WORDS = ["<mask>", "<|endoftext|>"] + [f" w{i}" for i in range(2, 400)]


def _plan(length: int, steps: int, seed: int, start: int = 0) -> list[list[int]]:
    """Which positions each step commits: a shuffled canvas cut into `steps` nearly equal groups."""
    order = list(range(start, start + length))
    random.Random(seed).shuffle(order)
    cuts = [round(i * length / steps) for i in range(steps + 1)]
    return [sorted(order[a:b]) for a, b in zip(cuts, cuts[1:])]


def _block_plan(cfg, length: int, steps: int) -> list[tuple[list[int], int | None]]:
    """(positions, active block) per step: the whole canvas at once, or with `cfg.block_length` each block in
    turn, the steps split as dimple.blocks splits them."""
    if cfg.block_length is None:
        return [(chosen, None) for chosen in _plan(length, steps, cfg.seed or 0)]
    cut = blocks.plan(cfg.block_length, length, steps)
    out = []
    for b in range(cut.count):
        lo, hi = cut.bounds(b)
        out += [(chosen, b) for chosen in _plan(hi - lo, min(cut.slots[b], hi - lo), (cfg.seed or 0) + b, lo)]
    return out


class StandInAssistant(FakeAssistant):
    name = "stand-in (7B scale)"
    about = "A stand-in that streams 1,024-token canvases in 300 steps (no model)."
    max_new_tokens_limit = 1024

    def __init__(self, step_seconds: float = 0.05):
        super().__init__(step_seconds=step_seconds)
        self.default_config = DecodeConfig(max_new_tokens=1024, steps=300, alg_p_threshold=0.9)

    def stream(self, image, prompt, cfg=None, history=(), template=None, should_stop=None):
        cfg = (cfg or self.default_config).validate()
        length, steps = cfg.max_new_tokens, min(cfg.steps, cfg.max_new_tokens)
        rng = random.Random(cfg.seed or 0)
        final = [rng.randrange(2, len(WORDS)) for _ in range(length)]
        traj = Trajectory(prompt_ids=[5, 6, 7], canvas=[MASK] * length, fixed=[False] * length, mask_token_id=MASK,
                          end_token_ids=[END], config=cfg.to_dict(), token_text=dict(enumerate(WORDS)))
        masked = list(range(length))
        start = time.perf_counter()
        yield traj
        for i, (chosen, block) in enumerate(_block_plan(cfg, length, steps)):
            if should_stop is not None and should_stop():
                traj.stopped = True
                break
            time.sleep(self.step_seconds)
            picked = set(chosen)
            conf = [0.95 if p in picked else rng.uniform(0.05, 0.85) for p in masked]
            top = [[final[p], (final[p] + 1) % len(WORDS) or 2, (final[p] + 2) % len(WORDS) or 3] for p in masked]
            traj.steps.append(Step(index=i, positions=chosen, tokens=[final[p] for p in chosen], block=block,
                                   confidences=[0.95] * len(chosen), fallback=False, masked_confidence=conf,
                                   alternatives=[[(final[p], 0.95)] for p in chosen], seconds=self.step_seconds,
                                   ghost_tokens=[final[p] for p in masked], ghost_top=top,
                                   ghost_top_p=[[round(c, 4), round((1 - c) / 2, 4), round((1 - c) / 4, 4)]
                                                for c in conf]))
            masked = [p for p in masked if p not in picked]
            traj.total_seconds = time.perf_counter() - start
            yield traj

    def decode(self, ids):
        return "".join(WORDS[i] for i in ids if i not in (MASK, END))
