"""One batch of decode requests as the model sees it: requests, the left-padded canvas, the forward call.

Owns what a decode is asked (`Request`: prompt, images, a starting canvas,
where a branch resumes), the checks that several requests can share one
batch, stacking their prompts right-aligned so every response starts at the
same index, and the one call of the model per iteration, through
`dimple.protocol`, that returns the logits the engine scores. It knows
nothing of the decoding rule (engine.py) or of tokenizers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .config import DecodeConfig
from .kv_cache import KVCache


@dataclass
class Request:
    input_ids: torch.LongTensor  # (1, prompt length)
    attention_mask: Optional[torch.Tensor] = None  # (1, prompt length); None: all ones
    pixel_values: Optional[torch.Tensor] = None  # (patches, 1176) of this request's images
    image_grid_thw: Optional[torch.LongTensor] = None  # (images, 3)
    canvas: Optional[Sequence[int]] = None  # response canvas (template, branch); None: all masks
    fixed: Optional[Sequence[int]] = None  # positions the record marks fixed; None: every token of the canvas
    start_step: int = 0  # the iteration the canvas was taken after (a branch); its schedule index comes next
    start_masked: Optional[int] = None  # masked positions when the original decode began; None: this canvas's
    alg_p_threshold: Optional[float] = None  # this row's threshold (the threshold explorer); None: the config's


@dataclass
class Batch:
    """The batch canvas and the model inputs every iteration shares."""

    seq: torch.Tensor  # (batch, prompt + response): prompts left-padded, then the response canvases
    attention_mask: torch.Tensor  # (batch, prompt + response): 0 over left padding
    pixel_values: Optional[torch.Tensor]  # every request's patches, in request order
    image_grid_thw: Optional[torch.LongTensor]
    prompt_len: int  # index of the first response position in every row


def left_pad(requests: Sequence[Request], pad_id: int):
    """Stack prompts right-aligned, so every response starts at the same index."""
    width = max(r.input_ids.shape[1] for r in requests)
    device = requests[0].input_ids.device
    ids = torch.full((len(requests), width), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(requests), width), dtype=torch.long, device=device)
    for b, r in enumerate(requests):
        n = r.input_ids.shape[1]
        ids[b, width - n:] = r.input_ids[0]
        mask[b, width - n:] = r.attention_mask[0] if r.attention_mask is not None else 1
    return ids, mask


def check_requests(requests: Sequence[Request], cfg: DecodeConfig, mask_id: int) -> int:
    """The batch's response length; raises ValueError for requests one batch cannot decode."""
    if not requests:
        raise ValueError("no requests to decode")
    if cfg.response_cache and len(requests) > 1:
        raise ValueError("response_cache decodes one request at a time; use prefill for batches")
    for r in requests:
        if r.input_ids.dim() != 2 or r.input_ids.shape[0] != 1:
            raise ValueError(f"each request's input_ids must have shape (1, prompt length), got {tuple(r.input_ids.shape)}")
        if bool((r.input_ids == mask_id).any()):
            raise ValueError("the prompt contains the mask token; only the response canvas may be masked")
    lengths = {len(r.canvas) if r.canvas is not None else cfg.max_new_tokens for r in requests}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError("requests in one batch need the same non-zero response length")
    if len({r.start_step for r in requests}) != 1:
        raise ValueError("requests in one batch need the same start_step")
    return lengths.pop()


def batch_inputs(requests: Sequence[Request], starts, pad_id: Optional[int]) -> "Batch":
    prompts, prompt_mask = left_pad(requests, pad_id if pad_id is not None else 0)
    canvases = torch.tensor([s.ids for s in starts], dtype=torch.long, device=prompts.device)
    pixel_values = [r.pixel_values for r in requests if r.pixel_values is not None]
    grids = [r.image_grid_thw for r in requests if r.image_grid_thw is not None]
    return Batch(
        seq=torch.cat([prompts, canvases], dim=1),
        attention_mask=torch.cat([prompt_mask, torch.ones_like(canvases)], dim=1),
        pixel_values=torch.cat(pixel_values) if pixel_values else None,
        image_grid_thw=torch.cat(grids) if grids else None,
        prompt_len=prompts.shape[1],
    )


def forward_logits(model, batch: Batch, position_ids, cache: Optional[KVCache], scored) -> torch.Tensor:
    """Float logits (batch, n, vocab) of the outputs at absolute positions `scored` (batch, n).

    Output i predicts token i + 1, so the engine asks for (masked position - 1).
    With a filled cache only the positions the cache asks for are fed.
    """
    rows = cache.query_index() if cache is not None else None
    if rows is not None:
        out = model(input_ids=batch.seq[:, rows], attention_mask=batch.attention_mask, position_ids=position_ids,
                    cache=cache, logits_index=torch.searchsorted(rows, scored))
    elif cache is not None:
        out = model(input_ids=batch.seq, attention_mask=batch.attention_mask, pixel_values=batch.pixel_values,
                    image_grid_thw=batch.image_grid_thw, position_ids=position_ids, cache=cache, logits_index=scored)
    else:
        out = model(input_ids=batch.seq, attention_mask=batch.attention_mask, pixel_values=batch.pixel_values,
                    image_grid_thw=batch.image_grid_thw, logits_index=scored)
    if tuple(out.logits.shape[:2]) != tuple(scored.shape):  # a forward that ignored logits_index
        raise ValueError(f"the model returned logits of shape {tuple(out.logits.shape)} for logits_index of shape "
                         f"{tuple(scored.shape)}; see dimple.protocol (PlainDenoiser wraps an HF-style module)")
    return out.logits.float()
