"""Small pure functions of one decoding iteration: token choice, confidence, how many to commit.

Owns the arithmetic of Dimple's confident decoding, written to match the
reference `generation_utils.py` bit for bit (float32 schedule grid, the same
filtering order): token filtering (temperature, top-p, top-k), the confidence
kinds as a lookup table, the schedule fallback count and the choice of
positions. It knows nothing of models, caches or trajectories.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the smallest set of tokens whose probability mass reaches top_p (the first always kept)."""
    sorted_logits, sorted_idx = torch.sort(logits, descending=True)
    cum = torch.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
    drop = cum > top_p
    drop[..., 1:] = drop[..., :-1].clone()
    drop[..., 0] = False
    mask = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, sorted_idx, drop)
    return logits.masked_fill(mask, torch.finfo(logits.dtype).min)


def top_k_filter(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    top_k = min(top_k, logits.size(-1))
    kth = torch.topk(logits, top_k)[0][..., -1, None]
    return logits.masked_fill(logits < kth, torch.finfo(logits.dtype).min)


# Confidence kinds: (probs used for scoring (n, vocab), chosen tokens (n,)) -> score (n,).
def _chosen_probability(probs, x0):
    return torch.gather(probs, -1, x0.unsqueeze(-1)).squeeze(-1)


def _top1_top2_margin(probs, x0):
    top2 = torch.topk(probs, 2, dim=-1).values if probs.shape[-1] > 1 else torch.cat([probs, probs * 0], -1)
    return top2[:, 0] - top2[:, 1]


def _negative_entropy(probs, x0):
    return torch.sum(probs * torch.log(probs + 1e-10), dim=-1)


CONFIDENCE: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "maskgit_plus": _chosen_probability,
    "topk_margin": _top1_top2_margin,
    "entropy": _negative_entropy,
    "origin": _chosen_probability,
    "autoregressive": _chosen_probability,
}


def choose_tokens(
    logits: torch.Tensor,
    alg: str,
    temperature: float = 0.0,
    top_p: Optional[float] = None,
    top_k: Optional[int] = None,
    use_original_confidence: bool = True,
    generator: Optional[torch.Generator] = None,
    forbid: Sequence[int] = (),
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pick a token for each row of logits (n, vocab).

    Returns (confidence (n,), tokens (n,), scoring probabilities (n, vocab)).
    With use_original_confidence the score reads the unfiltered distribution.
    Ids in `forbid` are never chosen: the mask id (the reference can pick it,
    which silently re-masks the position) and the image/video placeholders (a
    committed placeholder would ask the next full pass for an image slot that
    has no features). Scores still read the unfiltered model.
    """
    original = torch.softmax(logits, dim=-1)
    if temperature <= 0 and use_original_confidence and (top_p is None or top_p >= 1) and top_k is None:
        # Greedy, scored on the model's own distribution: the argmax of `original` with the forbidden ids
        # ruled out is the reference's token whenever the reference did not pick a forbidden one, and it
        # saves a second (n, vocab) softmax per pass (152k wide for the 7B).
        pickable = original
        if forbid:
            pickable = original.index_fill(-1, torch.tensor(list(forbid), device=original.device), -1.0)
        x0 = pickable.argmax(dim=-1)
        return CONFIDENCE[alg](original, x0), x0, original
    if forbid:
        logits = logits.clone()
        logits[:, list(forbid)] = float("-inf")
    if temperature > 0:
        logits = logits / temperature
    if top_p is not None and top_p < 1:
        logits = top_p_filter(logits, top_p)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    probs = torch.softmax(logits, dim=-1)
    if temperature > 0:
        x0 = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
    else:
        x0 = probs.argmax(dim=-1)
    scoring = original if use_original_confidence else probs
    return CONFIDENCE[alg](scoring, x0), x0, scoring


def schedule_grid(steps: int, eps: float, device=None) -> torch.Tensor:
    """The float32 time grid linspace(1, eps, steps + 1) of masked diffusion."""
    return torch.linspace(1, eps, steps + 1, device=device)


def fallback_count(n_masked: int, n_total: int, iteration: int, grid: torch.Tensor) -> int:
    """How many positions the schedule commits when no position passes the threshold.

    Dimple (Yu, Ma, Wang 2025, arXiv 2505.16990), confident decoding: when no
    masked position's confidence exceeds the threshold, fall back to the
    masked-diffusion schedule, the time grid linspace(1, eps, steps + 1)
    (`schedule_grid`), and commit the number of positions it unmasks next.

    t = n_masked / n_total; start at the first grid index whose value is below t
    (but not before iteration + 1) and walk forward until
    floor(n_masked * (1 - s / t)) >= 1; the last grid value commits everything.
    Arithmetic in float32 scalars, as the reference does it on tensors (numpy's
    float32 rounds the same way, without a tensor per operation).
    """
    f32 = np.float32
    values = [f32(v) for v in grid.tolist()]  # exact: the grid is float32
    n = f32(n_masked)
    t = n / f32(n_total)
    end = values[-1]
    if t <= end:
        raise ValueError(f"masked ratio {float(t)} is not above the schedule's end {float(end)}")
    start = max(next(j for j, v in enumerate(values) if v < t), iteration + 1)
    k = n_masked
    for s in values[start:]:
        k = int(n * (f32(1) - s / t)) if s > end else n_masked
        if k >= 1:
            break
    return k


def pick_fallback(
    alg: str,
    confidence: torch.Tensor,
    k: int,
    alg_temp: float,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Indices (into the masked positions, in position order) that the fallback commits."""
    n = confidence.shape[0]
    return FALLBACK[alg](confidence, min(k, n), alg_temp, generator)


def _by_confidence(confidence, k, alg_temp, generator):
    if alg_temp > 0:
        weights = F.softmax(confidence / alg_temp, dim=-1)
        return torch.multinomial(weights, k, generator=generator)
    return torch.topk(confidence, k).indices


def _at_random(confidence, k, alg_temp, generator):
    return torch.randperm(confidence.shape[0], generator=generator)[:k]


def _leftmost(confidence, k, alg_temp, generator):
    # autoregressive: one position, the first still masked, whatever k says (as upstream)
    return torch.zeros(1, dtype=torch.long)


FALLBACK = {
    "maskgit_plus": _by_confidence,
    "topk_margin": _by_confidence,
    "entropy": _by_confidence,
    "origin": _at_random,
    "autoregressive": _leftmost,
}
