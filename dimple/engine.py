"""The decoding engine: Dimple's confident decoding as a stream of iterations.

Each iteration runs one forward pass over the canvas (prompt + response, or
with prefilling only the last prompt token + response), shifts the logits so
that response position i is scored by output i - 1 (as in Dream), picks a
token and a confidence for every masked position and commits

  * every masked position whose confidence is above `alg_p_threshold`
    (confident decoding; the last allowed iteration commits everything), or,
    when none is, or the threshold is off,
  * the schedule's count of positions (paper's fallback, `sampling.fallback_count`).

Two choices differ from the reference code where it misbehaves, never where
the reference fixtures tell: the mask token itself is never chosen as an
answer token (upstream can pick it, which silently re-masks a position), and
the last allowed iteration commits everything for every algorithm (upstream's
`autoregressive` can end with masks left).

Committed and template-fixed tokens are never changed; decoding stops as soon
as nothing is masked. Every iteration is recorded as a `Step` of a
`Trajectory` that `stream` yields as it grows.

What the engine does not know: tokenizers, chat formats, images (it takes
pixel_values as given), the UI. It decodes one request at a time (batch 1);
the tensors keep a batch axis so that batching can be added without a rewrite.
"""

from __future__ import annotations

import time
from typing import Callable, Iterator, Optional, Sequence

import torch

from .config import DecodeConfig
from .kv_cache import CanvasKVCache, PrefixKVCache
from .sampling import choose_tokens, fallback_count, pick_fallback, schedule_grid
from .trajectory import Step, Trajectory

N_ALTERNATIVES = 3


def _config_ids(value) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


def end_token_ids_of(model) -> list[int]:
    """Tokens that end an answer according to the model config (eos and pad)."""
    cfg = getattr(model, "config", None)
    ids = _config_ids(getattr(cfg, "eos_token_id", None)) + _config_ids(getattr(cfg, "pad_token_id", None))
    return sorted(set(ids))


def _forward_logits(model, seq, attention_mask, pixel_values, image_grid_thw, position_ids, cache, scored):
    """Float logits (batch, len(scored), vocab) of the outputs at absolute positions `scored`.

    Output i predicts token i + 1, so the engine asks for (masked position - 1).
    With a filled cache only the positions the cache asks for are fed.
    """
    rows = cache.query_index() if cache is not None else None
    if rows is not None:
        out = model(input_ids=seq[:, rows], attention_mask=attention_mask, position_ids=position_ids, cache=cache)
        scored = torch.searchsorted(rows, scored)
    else:
        kwargs = dict(input_ids=seq, attention_mask=attention_mask, pixel_values=pixel_values,
                      image_grid_thw=image_grid_thw)
        if cache is not None:
            kwargs.update(position_ids=position_ids, cache=cache)
        out = model(**kwargs)
    logits = out.logits if hasattr(out, "logits") else out[0]
    return logits[:, scored].float()


def _canvas_rows(i: int, cfg: DecodeConfig, prompt_len: int, total: int, masked_abs, last_abs) -> torch.Tensor:
    """Positions a CanvasKVCache forward feeds: all of the response on refresh iterations, else only
    the masked positions, the outputs that score them, and last iteration's commits (stale keys)."""
    if i % cfg.response_cache == 0:
        return torch.arange(prompt_len - 1, total)
    return torch.unique(torch.cat([masked_abs, masked_abs - 1, last_abs]))


def _pad_after_end(response: torch.Tensor, mask_id: int, end_ids: torch.Tensor, pad_id: int) -> list[int]:
    """Fill masked positions after the first committed end token with padding; return them.

    Beyond the paper: the answer is cut at its end anyway, so spending forward
    passes on the tail changes only the context the remaining positions see.
    """
    ends = torch.isin(response, end_ids).nonzero(as_tuple=True)[0]
    if ends.numel() == 0:
        return []
    tail = (response == mask_id).nonzero(as_tuple=True)[0]
    tail = tail[tail > ends[0]]
    response[tail] = pad_id
    return tail.tolist()


def stream(
    model,
    input_ids: torch.LongTensor,
    cfg: DecodeConfig,
    attention_mask: Optional[torch.Tensor] = None,
    pixel_values: Optional[torch.Tensor] = None,
    image_grid_thw: Optional[torch.LongTensor] = None,
    canvas: Optional[Sequence[int]] = None,
    fixed: Optional[Sequence[bool]] = None,
    end_token_ids: Optional[Sequence[int]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
) -> Iterator[Trajectory]:
    """Decode and yield the growing Trajectory: once before any forward pass, then after each iteration.

    canvas/fixed: a response canvas from a structure prior (mask id where the
    model decides); default: `cfg.max_new_tokens` masks.
    """
    cfg.validate()
    if input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(f"input_ids must have shape (1, prompt length); batch decoding is not supported, got {tuple(input_ids.shape)}")
    device = input_ids.device
    mask_id = cfg.mask_token_id if cfg.mask_token_id is not None else getattr(model.config, "mask_token_id", None)
    if mask_id is None:
        raise ValueError("mask_token_id is not set in the DecodeConfig nor in the model config")
    if bool((input_ids == mask_id).any()):
        raise ValueError("the prompt contains the mask token; only the response canvas may be masked")
    if canvas is None:
        canvas = [mask_id] * cfg.max_new_tokens
        fixed = [False] * cfg.max_new_tokens
    canvas, fixed = list(canvas), list(fixed) if fixed is not None else [t != mask_id for t in canvas]
    if len(canvas) != len(fixed) or not canvas:
        raise ValueError("canvas and fixed must be non-empty and of equal length")
    generator = torch.Generator(device="cpu")
    if cfg.seed is not None:
        generator.manual_seed(cfg.seed)

    prompt_len = input_ids.shape[1]
    seq = torch.cat([input_ids, torch.tensor([canvas], dtype=input_ids.dtype, device=device)], dim=1)
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    full_mask = torch.cat([attention_mask, torch.ones(1, len(canvas), dtype=attention_mask.dtype, device=device)], 1)

    traj = Trajectory(
        prompt_ids=input_ids[0].tolist(), canvas=canvas, fixed=fixed, mask_token_id=int(mask_id),
        end_token_ids=list(end_token_ids) if end_token_ids is not None else end_token_ids_of(model),
        config=cfg.to_dict(),
    )
    pad_id = getattr(model.config, "pad_token_id", None)
    traj.pad_token_id = int(pad_id if pad_id is not None else (traj.end_token_ids or [mask_id])[0])
    end_ids = torch.tensor(traj.end_token_ids, dtype=seq.dtype, device=device)
    yield traj

    cache = position_ids = last_abs = None
    if cfg.prefill:
        cache = CanvasKVCache() if cfg.response_cache else PrefixKVCache(prompt_len - 1)
        position_ids, _ = model.rope_index(seq, image_grid_thw, full_mask)
    grid = schedule_grid(cfg.steps, cfg.eps)
    n_total = sum(1 for t in canvas if t == mask_id)
    response = seq[0, prompt_len:]  # a view: commits write into seq
    pending = []  # a template's fixed end pads its tail before the first forward, recorded with step 0
    if cfg.skip_padding:
        pending = _pad_after_end(response, mask_id, end_ids, traj.pad_token_id)
        if not bool((response == mask_id).any()):  # nothing before the end to decode: keep the canvas as given
            response[pending] = mask_id
            pending = []
    start = time.perf_counter()
    for i in range(cfg.steps):
        masked = (response == mask_id).nonzero(as_tuple=True)[0]
        if masked.numel() == 0:
            break
        if should_stop is not None and should_stop():
            traj.stopped = True
            break
        t0 = time.perf_counter()
        masked_abs = masked + prompt_len
        if isinstance(cache, CanvasKVCache) and cache.filled:
            cache.select(_canvas_rows(i, cfg, prompt_len, seq.shape[1], masked_abs, last_abs))
        with torch.no_grad():
            logits = _forward_logits(model, seq, full_mask, pixel_values, image_grid_thw, position_ids, cache,
                                     masked_abs - 1)
        confidence, x0, probs = choose_tokens(
            logits[0], cfg.alg, cfg.temperature, cfg.top_p, cfg.top_k, cfg.use_original_confidence,
            generator, forbid=mask_id,
        )
        chosen, fallback = None, True
        if i == cfg.steps - 1:
            chosen = torch.arange(masked.numel())  # the last allowed iteration commits everything
        elif cfg.threshold_on:
            passing = confidence > cfg.alg_p_threshold
            if bool(passing.any()):
                chosen, fallback = passing.nonzero(as_tuple=True)[0], False
        if chosen is None:
            k = fallback_count(masked.numel(), n_total, i, grid)
            chosen = pick_fallback(cfg.alg, confidence, k, cfg.alg_temp, generator).sort().values
        positions = masked[chosen]
        response[positions] = x0[chosen].to(response.dtype)
        last_abs = positions + prompt_len
        padded = pending + (_pad_after_end(response, mask_id, end_ids, traj.pad_token_id) if cfg.skip_padding else [])
        pending = []
        alt = torch.topk(probs[chosen], min(N_ALTERNATIVES, probs.shape[-1]), dim=-1)
        elapsed = time.perf_counter() - t0
        traj.steps.append(Step(
            index=i,
            positions=positions.tolist(),
            tokens=x0[chosen].tolist(),
            confidences=[float(c) for c in confidence[chosen]],
            fallback=fallback,
            masked_confidence=[float(c) for c in confidence],
            alternatives=[list(zip(ix.tolist(), [float(v) for v in vals])) for ix, vals in zip(alt.indices, alt.values)],
            seconds=elapsed,
            padded=padded,
        ))
        if i == 0:
            traj.prefill_seconds = elapsed
        traj.total_seconds = time.perf_counter() - start
        yield traj


def generate(
    model,
    input_ids: torch.LongTensor,
    cfg: Optional[DecodeConfig] = None,
    attention_mask: Optional[torch.Tensor] = None,
    pixel_values: Optional[torch.Tensor] = None,
    image_grid_thw: Optional[torch.LongTensor] = None,
    on_step: Optional[Callable[[Trajectory], None]] = None,
    **kwargs,
) -> Trajectory:
    """Decode to the end and return the Trajectory; `on_step` sees it after every iteration."""
    traj = None
    for traj in stream(model, input_ids, cfg or DecodeConfig(), attention_mask, pixel_values, image_grid_thw, **kwargs):
        if on_step is not None and traj.steps:
            on_step(traj)
    return traj
