"""int4 group ranges: which scale and zero each group of G input columns gets, and the codes rounded against them.

Owns the choice of a group's range, data-free (from the weight alone, no activations). The scheme's convention
is `dimple.int4`'s: codes 0..15, w ~= (code - 8) * scale + zero, scale and zero stored in the load dtype, so every
candidate is rounded to that dtype before its codes and its error are computed (the error measured is the one the
kernels will see).

Two strategies, a lookup table (`RANGES`):
  * "minmax": the group's exact [min, max] (scale = (max - min) / 15). No weight is clipped, but one outlier
    stretches the step for the whole group.
  * "searched" (the default): the [min, max] range shrunk toward its centre by each factor of SHRINKS (1.0
    first, so it is the minmax range), keeping per group the one whose dequantised group has the smallest
    squared error; then REFITS rounds of least squares that refit scale and zero to the kept codes (a line
    through (code - 8, w)) and re-round, each kept only where it lowers the group's error. Clipping a few
    outliers buys a finer step for the other weights. Because minmax is the first candidate and a
    candidate replaces it only where strictly better, no group's error exceeds minmax's.

Work is vectorised over groups and done SEARCH_ROWS rows at a time (the candidates' float32 scratch stays
small enough to stay in cache). It does not know the packed layout, padding or the kernels (`dimple.int4`).
"""

from __future__ import annotations

from typing import Callable

import torch

CODE_MID = 8  # the code whose value is the stored zero: w = (code - 8) * scale + zero
CODE_MAX = 15
# range shrink factors tried toward the group's centre (1.0: minmax, always first). On normal weights, groups of
# 32, factors down to 0.5 gave the same error as these, 0.025 apart 0.1 % less, four of them (0.1 apart) 0.7 % more.
SHRINKS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7)
REFITS = 2  # least-squares refits of scale and zero after the search
SEARCH_ROWS = 64  # rows searched at a time (float32 scratch of 64 x in per candidate)


def _rounded(scale: torch.Tensor, zero: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """scale and zero (rows, groups) as the kernels will read them: in `dtype`, back in float32; the scale kept
    above zero (a constant group still divides)."""
    scale = scale.clamp_min(torch.finfo(dtype).tiny).to(dtype).float()
    return scale, zero.to(dtype).float()


def _scaled(wg: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    """wg (rows, groups, G) in code units, unrounded: (w - zero) / scale + 8 (by the reciprocal: one fused pass)."""
    inv = scale.reciprocal()
    return torch.addcmul((CODE_MID - zero * inv)[..., None], wg, inv[..., None])


def _codes(wg: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    """float32 codes 0..15 of wg (rows, groups, G) rounded against scale and zero (rows, groups)."""
    return _scaled(wg, scale, zero).round_().clamp_(0, CODE_MAX)


def _error(wg: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> torch.Tensor:
    """Squared error of each group dequantised from its codes: (rows, groups). In code units the error of a weight
    is its code minus its unrounded position, so the group's is scale^2 times the sum of their squares."""
    t = _scaled(wg, scale, zero)
    d = t.round().clamp_(0, CODE_MAX).sub_(t)
    return torch.linalg.vector_norm(d, dim=2).square_().mul_(scale.square())


def _from_range(lo: torch.Tensor, hi: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The scale and zero that map codes 0..15 onto [lo, hi], rounded to dtype (zero: the value of code 8)."""
    scale = ((hi - lo) / CODE_MAX).clamp_min(torch.finfo(dtype).tiny).to(dtype).float()
    return scale, (lo + CODE_MID * scale).to(dtype).float()


def _refit(wg: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares scale and zero of w ~= (code - 8) * scale + zero for fixed codes, per group; and whether the
    fit is defined (codes not all equal)."""
    c = codes - CODE_MID
    n = wg.shape[2]
    sc, sw = c.sum(dim=2), wg.sum(dim=2)
    scc, scw = c.square().sum(dim=2), (c * wg).sum(dim=2)
    var = n * scc - sc * sc
    ok = var > 0
    scale = (n * scw - sc * sw) / torch.where(ok, var, torch.ones_like(var))
    return scale, (sw - scale * sc) / n, ok & (scale > 0)


def minmax_range(wg: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and zero (rows, groups) over each group's exact [min, max]."""
    return _from_range(wg.amin(dim=2), wg.amax(dim=2), dtype)


def _keep_better(wg: torch.Tensor, best: tuple, scale: torch.Tensor, zero: torch.Tensor) -> tuple:
    """(scale, zero, error) per group: the candidate where its error is strictly below the best's, else the best."""
    err = _error(wg, scale, zero)
    better = err < best[2]
    return torch.where(better, scale, best[0]), torch.where(better, zero, best[1]), torch.minimum(err, best[2])


def searched_range(wg: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and zero (rows, groups) with the smallest squared group error among the shrunk ranges, then refit."""
    lo, hi = wg.amin(dim=2), wg.amax(dim=2)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    shrunk = [_from_range(centre - shrink * half, centre + shrink * half, dtype) for shrink in SHRINKS]
    best = (*shrunk[0], _error(wg, *shrunk[0]))  # SHRINKS[0] = 1.0: the minmax range
    for scale, zero in shrunk[1:]:
        best = _keep_better(wg, best, scale, zero)
    for _ in range(REFITS):
        scale, zero, ok = _refit(wg, _codes(wg, best[0], best[1]))
        best = _keep_better(wg, best, *_rounded(torch.where(ok, scale, best[0]), torch.where(ok, zero, best[1]), dtype))
    return best[0], best[1]


# strategy name -> (wg float32 (rows, groups, G), dtype) -> (scale, zero) (rows, groups), float32 holding dtype values
RANGES: dict[str, Callable] = {"minmax": minmax_range, "searched": searched_range}
DEFAULT_RANGES = "searched"


def group_codes(w: torch.Tensor, group: int, dtype, ranges: str = DEFAULT_RANGES):
    """float32 (rows, in) -> int32 codes (rows, in), scales and zeros (rows, in / group) holding `dtype` values
    (the ones the kernels multiply by, so the codes are rounded against them), `ranges` choosing the range."""
    if ranges not in RANGES:
        raise ValueError(f"int4 ranges must be one of {tuple(RANGES)}, got {ranges!r}")
    rows, groups = w.shape[0], w.shape[1] // group
    codes = torch.empty(rows, groups * group, dtype=torch.int32)
    scale, zero = torch.empty(rows, groups), torch.empty(rows, groups)
    for start in range(0, rows, SEARCH_ROWS):
        end = min(start + SEARCH_ROWS, rows)
        wg = w[start:end].reshape(end - start, groups, group)
        s, z = RANGES[ranges](wg, dtype)
        scale[start:end], zero[start:end] = s, z
        codes[start:end] = _codes(wg, s, z).view(end - start, -1).to(torch.int32)
    return codes, scale, zero
