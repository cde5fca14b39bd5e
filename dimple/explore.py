"""The threshold explorer: one question decoded at a range of confidence thresholds, in one batch.

Owns the sweep a teacher runs to show what the threshold buys and costs: the
same request (same prompt, image, canvas, seed) at every threshold of a list
decoded together by `engine.generate_batch` with a threshold per row (the
sweep costs one batched forward per iteration of its slowest row), plus once
alone with the threshold off (the schedule: the paper's baseline and this
sweep's reference). Each row reports its forward passes and answer, whether
the answer changed from the next lower threshold's, and whether it differs
from the schedule-only reference (where confident decoding "breaks" the
answer). It knows nothing of tokenizers (answers are token ids), images or UIs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Optional, Sequence

from .config import DecodeConfig
from .engine import Request, generate_batch
from .trajectory import Trajectory

DEFAULT_THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
MAX_THRESHOLDS = 32


@dataclass
class ExploreRow:
    threshold: float  # 0.0: off (the reference row)
    trajectory: Trajectory
    changed: bool = False  # the answer differs from the row at the next lower threshold
    differs: bool = False  # the answer differs from the schedule-only reference

    @property
    def nfe(self) -> int:
        return self.trajectory.nfe

    @property
    def answer_ids(self) -> list[int]:
        return self.trajectory.answer_ids


@dataclass
class Exploration:
    rows: list[ExploreRow]  # ascending thresholds
    reference: ExploreRow  # threshold off: the schedule alone
    seconds: float  # wall time of the whole sweep

    def to_dict(self, text=None) -> dict:
        """JSON-ready; `text(ids) -> str` writes answers (default: the record's token texts)."""
        def write(row: ExploreRow) -> dict:
            ids = row.answer_ids
            return {"threshold": row.threshold, "nfe": row.nfe, "answer_ids": ids,
                    "text": text(ids) if text else row.trajectory.text(ids),
                    "tokens_per_forward": round(row.trajectory.tokens_per_forward, 3),
                    "changed": row.changed, "differs_from_reference": row.differs}

        return {"rows": [write(r) for r in self.rows], "reference": write(self.reference),
                "seconds": round(self.seconds, 4)}


def check_thresholds(thresholds: Sequence[float]) -> list[float]:
    """Sorted distinct thresholds in (0, 1]; ValueError naming the problem."""
    values = []
    for t in thresholds:
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < float(t) <= 1:
            raise ValueError(f"thresholds must be numbers in (0, 1], got {t!r}")
        values.append(float(t))
    values = sorted(set(values))
    if not values:
        raise ValueError("thresholds: give at least one threshold in (0, 1]")
    if len(values) > MAX_THRESHOLDS:
        raise ValueError(f"thresholds: at most {MAX_THRESHOLDS} at once, got {len(values)}")
    return values


def explore(model, request: Request, cfg: Optional[DecodeConfig] = None,
            thresholds: Sequence[float] = DEFAULT_THRESHOLDS, end_token_ids: Optional[Sequence[int]] = None
            ) -> Exploration:
    """Decode `request` at every threshold (and once with the threshold off) in one batch."""
    cfg = (cfg or DecodeConfig()).validate()
    values = check_thresholds(thresholds)
    t0 = time.perf_counter()
    # the reference runs alone: the schedule takes up to `steps` iterations, and a finished row of a batch
    # still rides along in every forward pass of the others
    trajs = generate_batch(model, [replace(request, alg_p_threshold=t) for t in values], cfg,
                           end_token_ids=end_token_ids)
    reference = ExploreRow(0.0, generate_batch(model, [replace(request, alg_p_threshold=0.0)], cfg,
                                               end_token_ids=end_token_ids)[0])
    seconds = time.perf_counter() - t0
    rows = [ExploreRow(t, traj) for t, traj in zip(values, trajs)]
    previous = reference.answer_ids
    for row in rows:
        row.changed = row.answer_ids != previous
        row.differs = row.answer_ids != reference.answer_ids
        previous = row.answer_ids
    return Exploration(rows, reference, seconds)
