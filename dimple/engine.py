"""The decoding engine: Dimple's confident decoding as a stream of iterations.

Each iteration runs one forward pass over the canvas (prompt + response, or
with prefilling only the last prompt token + response), shifts the logits so
that response position i is scored by output i - 1 (as in Dream), picks a
token and a confidence for every masked position and commits

  * every masked position whose confidence is above `alg_p_threshold`
    (confident decoding; the last allowed iteration commits everything), or,
    when none is, or the threshold is off,
  * the schedule's count of positions (paper's fallback, `sampling.fallback_count`)
    (the rule itself: `dimple.selection`).

Two choices differ from the reference code where it misbehaves, never where
the reference fixtures tell: the mask token itself is never chosen as an
answer token (upstream can pick it, which silently re-masks a position), and
the last allowed iteration commits everything for every algorithm (upstream's
`autoregressive` can end with masks left).

Committed and template-fixed tokens are never changed; decoding stops as soon
as nothing is masked. Every iteration is recorded as a `Step` of a
`Trajectory` that `stream` yields as it grows.

A decode may start from any partially filled canvas (`dimple.canvas`: a
structure prior, or a branch taken after iteration `start_step` of an earlier
run). Its iterations then carry the schedule's indices from `start_step` on,
with the original masked count `start_masked` as the schedule's denominator,
so an unedited canvas resumed with the same settings and prefilling off
reproduces the original run from that step on. With prefilling the resume's
first pass rebuilds the prompt cache from the canvas it is given (the
original's cache saw an all-mask response), so later steps may differ.

Semi-autoregressive blocks (`DecodeConfig.block_length`, beyond the paper, as
LLaDA): each iteration commits only inside the active block, the first with a
mask, by the same rule on that block's share of the steps (`dimple.blocks`
holds the rules; None decodes the whole canvas, the paper's decoding token for
token). Every iteration still scores every masked position (the ghosts show
later blocks' guesses too), and with prefilling the cache holds what it holds
without blocks: the prompt's keys/values (all but its last token) from the
first pass; the whole response, later blocks' masks included, is fed at every
iteration, because attention is bidirectional and the active block attends to
them (no finished-block cache, unlike Fast-dLLM's).

Two options go beyond the paper (both off by default, both measured by
`bench`): `skip_padding` writes padding after a committed end token without
spending forward passes on it, and `response_cache` keeps the response's
keys/values too (`CanvasKVCache`), feeding only masked positions between full
refreshes. `stream_batch` decodes several requests with one forward per
iteration (left-padded prompts, a seed stream per row).

The model is called through `dimple.protocol` (`Denoiser`, and with
prefilling `CachedDenoiser`), the cache through `dimple.kv_cache.KVCache`.
What the engine does not know: tokenizers, chat formats, images (it takes
pixel_values as given), the UI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence

import torch

from .batch import Request, batch_inputs, check_requests, forward_logits
from .blocks import Blocks, plan as plan_blocks
from .canvas import start_canvas
from .config import DecodeConfig
from .kv_cache import CanvasKVCache, KVCache, PrefixKVCache
from .protocol import CachedDenoiser, Denoiser
from .sampling import choose_tokens, schedule_grid
from .selection import first_denominator, select_in_block
from .trajectory import Step, Trajectory

N_ALTERNATIVES = 3  # top candidates recorded per masked position and step (the ghosts' top-k; see docs/teaching.md)
GHOST_DECIMALS = 4  # candidate probabilities are recorded rounded: the export stays compact


def _config_ids(value) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


def end_token_ids_of(model) -> list[int]:
    """Tokens that end an answer according to the model config (eos and pad)."""
    cfg = getattr(model, "config", None)
    ids = _config_ids(getattr(cfg, "eos_token_id", None)) + _config_ids(getattr(cfg, "pad_token_id", None))
    return sorted(set(ids))


def _pad_after_end(response: torch.Tensor, mask_id: int, end_ids: torch.Tensor, pad_id: int,
                   fixed: Sequence[bool]) -> list[int]:
    """Fill masked positions after a committed end token with padding; return them.

    Beyond the paper: the answer is cut at its end anyway, so spending forward
    passes on the tail changes only the context the remaining positions see.
    In a template, an end closes only its own slot (elastic slots): the next
    fixed token opens the next one, whose positions are still decoded.
    """
    ends = torch.isin(response, end_ids)
    if not bool(ends.any()):
        return []
    out, closed = [], False
    for p, (is_end, is_masked) in enumerate(zip(ends.tolist(), (response == mask_id).tolist())):
        if fixed[p] and not is_end:
            closed = False
        elif closed and is_masked:
            out.append(p)
        closed = closed or is_end
    response[out] = pad_id
    return out


@dataclass
class _Row:
    """One request's decoding state inside a batch."""

    traj: Trajectory
    response: torch.Tensor  # view of this row's response in the batch canvas: commits write through it
    generator: torch.Generator
    end_ids: torch.Tensor
    last: torch.Tensor  # positions committed by the previous iteration (none before the first)
    threshold: float = 0.0  # this row's confidence threshold (0: off)
    pending: list = field(default_factory=list)  # tail padded before the first forward, recorded with step 0
    # block -> its schedule denominator: masked count when it became active (dimple.blocks); without blocks,
    # block 0 holds the masked count when the original decode began
    denominators: dict = field(default_factory=dict)
    forbid: tuple = ()  # ids never committed: `unwritable_ids`


def mask_id_of(model, cfg: DecodeConfig) -> int:
    mask_id = cfg.mask_token_id if cfg.mask_token_id is not None else getattr(model.config, "mask_token_id", None)
    if mask_id is None:
        raise ValueError("mask_token_id is not set in the DecodeConfig nor in the model config")
    return int(mask_id)


def placeholders_of(model) -> tuple[int, ...]:
    """The image/video placeholder ids: the model reads each one as a slot for vision features, so none may be
    written on a canvas (by a user or by a decode)."""
    conf = model.config
    return tuple(int(t) for t in (getattr(conf, "image_token_id", None), getattr(conf, "video_token_id", None))
                 if t is not None)


def unwritable_ids(model, mask_id: int) -> tuple[int, ...]:
    """Ids a decode never commits: the mask and the placeholders (`sampling.choose_tokens`'s `forbid`)."""
    return (mask_id, *placeholders_of(model))


def checked_start(model, cfg: DecodeConfig, req: Request, mask_id: int):
    """The request's checked canvas (`dimple.canvas`), against the model's vocabulary and placeholders."""
    return start_canvas(req.canvas, req.fixed, req.start_step, req.start_masked, length=cfg.max_new_tokens,
                        steps=cfg.steps, mask_id=mask_id, vocab_size=getattr(model.config, "vocab_size", None),
                        reserved=placeholders_of(model))


def _new_row(model, cfg, req: Request, start, response: torch.Tensor, mask_id: int, end_token_ids, pad_id,
             blocks: Blocks) -> _Row:
    traj = Trajectory(
        prompt_ids=req.input_ids[0].tolist(), canvas=start.ids, fixed=start.fixed, mask_token_id=mask_id,
        end_token_ids=list(end_token_ids) if end_token_ids is not None else end_token_ids_of(model),
        config=cfg.to_dict(), start_step=start.start_step, start_masked=start.start_masked,
    )
    traj.pad_token_id = int(pad_id if pad_id is not None else (traj.end_token_ids or [mask_id])[0])
    generator = torch.Generator(device="cpu")
    if cfg.seed is not None:
        generator.manual_seed(cfg.seed)
    row = _Row(traj, response, generator,
               torch.tensor(traj.end_token_ids, dtype=response.dtype, device=response.device), response.new_zeros(0),
               forbid=unwritable_ids(model, mask_id))
    if req.alg_p_threshold is not None:
        traj.config["alg_p_threshold"] = row.threshold = float(cfg.with_(alg_p_threshold=req.alg_p_threshold)
                                                               .validate().alg_p_threshold)
    else:
        row.threshold = cfg.alg_p_threshold
    if cfg.skip_padding:
        row.pending = _pad_after_end(response, mask_id, row.end_ids, traj.pad_token_id, traj.fixed)
        if not bool((response == mask_id).any()):  # nothing before the end to decode: keep the canvas as given
            response[row.pending] = mask_id
            row.pending = []
    row.denominators = first_denominator(blocks, response.tolist(), mask_id, req.start_masked, start.start_masked)
    if not blocks.whole and row.denominators:
        traj.start_masked = next(iter(row.denominators.values()))  # with blocks: the first active block's
    return row


def top_candidates(probs: torch.Tensor, k: int) -> tuple[list[list[int]], list[list[float]]]:
    """Each row's k most likely tokens and their probabilities, rounded as the record keeps them."""
    top = torch.topk(probs, min(k, probs.shape[-1]), dim=-1)
    scale = 10 ** GHOST_DECIMALS
    return top.indices.tolist(), top.values.double().mul(scale).round().div(scale).tolist()


def _commit(row: _Row, logits: torch.Tensor, masked: torch.Tensor, i: int, cfg: DecodeConfig, blocks: Blocks,
            grids: dict) -> Step:
    """One iteration (schedule index `i`) of confident decoding for one row: choose tokens, pick positions,
    write them."""
    mask_id = row.traj.mask_token_id
    confidence, x0, probs = choose_tokens(
        logits, cfg.alg, cfg.temperature, cfg.top_p, cfg.top_k, cfg.use_original_confidence, row.generator,
        forbid=row.forbid,
    )
    chosen, fallback, block = select_in_block(confidence, masked, blocks, i, cfg, grids, row.generator, row.threshold,
                                              row.denominators)
    positions = masked[chosen]
    row.response[positions] = x0[chosen].to(row.response.dtype)
    row.last = positions
    padded = row.pending + (_pad_after_end(row.response, mask_id, row.end_ids, row.traj.pad_token_id, row.traj.fixed)
                            if cfg.skip_padding else [])
    row.pending = []
    top_ids, top_p = top_candidates(probs, N_ALTERNATIVES)
    picked = chosen.tolist()
    # one .tolist() per tensor: element-wise float() calls cost more than a tiny model's step
    return Step(
        index=i - row.traj.start_step,
        positions=positions.tolist(),
        tokens=x0[chosen].tolist(),
        confidences=confidence[chosen].tolist(),
        fallback=fallback,
        masked_confidence=confidence.tolist(),
        alternatives=[list(zip(top_ids[j], top_p[j])) for j in picked],
        padded=padded,
        ghost_tokens=x0.tolist(),  # the ghosts: every masked position's best guess, its top-k and their probabilities
        ghost_top=top_ids,
        ghost_top_p=top_p,
        block=None if blocks.whole else block,
    )


def _new_cache(cfg: DecodeConfig, prompt_len: int) -> Optional[KVCache]:
    if not cfg.prefill:
        return None
    if cfg.response_cache:
        return CanvasKVCache(refresh=cfg.response_cache, first=prompt_len - 1)
    return PrefixKVCache(prompt_len - 1)  # all but the last prompt token: its output scores response 0


def _plan_forward(cache: Optional[KVCache], i: int, rows: list[_Row], masked: list[torch.Tensor],
                  prompt_len: int) -> torch.Tensor:
    """Tell a filled cache what iteration `i` decodes; return the absolute positions to score (batch, n).

    Every row asks for the same number of outputs; finished rows repeat a harmless index. A canvas cache
    decodes one request, so row 0's positions are the batch's.
    """
    if cache is not None and cache.filled:  # the filling forward feeds everything
        cache.plan(i, masked[0] + prompt_len, rows[0].last + prompt_len)
    width = max(m.numel() for m in masked)
    return torch.stack([torch.cat([m, m.new_zeros(width - m.numel())]) if m.numel() else m.new_zeros(width)
                        for m in masked]) + prompt_len - 1


def _apply_edit(edit, i: int, seq: torch.Tensor, prompt_len: int, rows: list, active: list) -> None:
    """Let `edit` rewrite the canvas and record what it changed in each row's last step."""
    before = seq.clone()
    edit(i, seq)
    if not torch.equal(seq[:, :prompt_len], before[:, :prompt_len]):
        raise ValueError("the canvas edit changed the prompt; only response tokens may change")
    for b in (seq != before).any(dim=1).nonzero(as_tuple=True)[0].tolist():
        if b not in active:
            raise ValueError(f"the canvas edit changed row {b} after it had finished decoding")
        changed = (seq[b, prompt_len:] != before[b, prompt_len:]).nonzero(as_tuple=True)[0]
        rows[b].traj.steps[-1].edits = list(zip(changed.tolist(), seq[b, prompt_len + changed].tolist()))


def stream_batch(
    model: Denoiser | CachedDenoiser,
    requests: Sequence[Request],
    cfg: DecodeConfig,
    end_token_ids: Optional[Sequence[int]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
    edit: Optional[Callable[[int, torch.Tensor], None]] = None,
) -> Iterator[list[Trajectory]]:
    """Decode several requests in one batch (one forward per iteration for all) and yield their
    Trajectories: once before any forward, then after each iteration. Rows share the config and
    the response length; each keeps its own seed stream, so a row decodes as it would alone
    (up to float rounding of batched matmuls). With `cfg.prefill` the model is a CachedDenoiser.
    `edit(i, seq)` may change the response part of the (batch, prompt + response) canvas in place
    after iteration i's commits (the drop-in's tokens hook)."""
    cfg.validate()
    mask_id = mask_id_of(model, cfg)
    starts = [checked_start(model, cfg, r, mask_id) for r in requests]  # names a bad canvas before batch checks
    length = check_requests(requests, cfg, mask_id)
    blocks = plan_blocks(cfg.block_length, length, cfg.steps)  # names a block length the canvas cannot take
    pad_id = getattr(model.config, "pad_token_id", None)
    batch = batch_inputs(requests, starts, pad_id)
    p = batch.prompt_len
    rows = [_new_row(model, cfg, r, s, batch.seq[b, p:], mask_id, end_token_ids, pad_id, blocks)
            for b, (r, s) in enumerate(zip(requests, starts))]
    yield [row.traj for row in rows]

    cache = _new_cache(cfg, p)
    position_ids = model.rope_index(batch.seq, batch.image_grid_thw, batch.attention_mask)[0] if cache is not None else None
    grids = {n: schedule_grid(n, cfg.eps) for n in set(blocks.slots)}
    first = rows[0].traj.start_step
    start = time.perf_counter()
    # schedule indices; Step.index and the cache count from this decode's start. Past `steps` only for a branch
    # that re-masked blocks whose slots are spent: each such iteration fills a whole block (dimple.blocks).
    for i in range(first, cfg.steps + blocks.count - 1):
        masked = [(row.response == mask_id).nonzero(as_tuple=True)[0] for row in rows]
        active = [b for b, m in enumerate(masked) if m.numel()]
        if not active:
            break
        if should_stop is not None and should_stop():
            for row in rows:
                row.traj.stopped = True
            break
        t0 = time.perf_counter()
        scored = _plan_forward(cache, i - first, rows, masked, p)
        with torch.no_grad():
            logits = forward_logits(model, batch, position_ids, cache, scored)
        for b in active:
            step = _commit(rows[b], logits[b, : masked[b].numel()], masked[b], i, cfg, blocks, grids)
            step.seconds = time.perf_counter() - t0
            rows[b].traj.steps.append(step)
            if i == first:
                rows[b].traj.prefill_seconds = step.seconds
        if edit is not None:
            _apply_edit(edit, i, batch.seq, p, rows, active)
        for row in rows:
            row.traj.total_seconds = time.perf_counter() - start
        yield [row.traj for row in rows]


def stream(
    model,
    input_ids: torch.LongTensor,
    cfg: DecodeConfig,
    attention_mask: Optional[torch.Tensor] = None,
    pixel_values: Optional[torch.Tensor] = None,
    image_grid_thw: Optional[torch.LongTensor] = None,
    canvas: Optional[Sequence[int]] = None,
    fixed: Optional[Sequence[int]] = None,
    start_step: int = 0,
    start_masked: Optional[int] = None,
    end_token_ids: Optional[Sequence[int]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
) -> Iterator[Trajectory]:
    """Decode one request and yield its growing Trajectory: once before any forward pass, then
    after each iteration. canvas: a response canvas (mask id where the model decides; a structure
    prior or a branch); default: `cfg.max_new_tokens` masks. fixed, start_step, start_masked: see
    `dimple.canvas` (a branch taken after iteration k continues the schedule with start_step=k)."""
    if input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(f"input_ids must have shape (1, prompt length); use stream_batch for batches, "
                         f"got {tuple(input_ids.shape)}")
    request = Request(input_ids, attention_mask, pixel_values, image_grid_thw, canvas, fixed, start_step,
                      start_masked)
    for trajs in stream_batch(model, [request], cfg, end_token_ids, should_stop):
        yield trajs[0]


def generate_batch(model, requests: Sequence[Request], cfg: Optional[DecodeConfig] = None, **kwargs) -> list[Trajectory]:
    """Decode several requests together to the end."""
    trajs: list[Trajectory] = []
    for trajs in stream_batch(model, requests, cfg or DecodeConfig(), **kwargs):
        pass
    return trajs


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
