"""The model interface the engine relies on, written down as `typing.Protocol`s.

Owns the names, keywords and shapes of every call `dimple.engine` makes on a
model, so that a model (DimpleModel, a wrapper, a test stand-in) can be
checked against one definition instead of being probed at run time:

  * `Denoiser`: the forward a decode without prefilling needs. The engine
    passes `logits_index` (batch, n), the outputs it will score, and expects
    `.logits` of shape (batch, n, vocab) back: the vocabulary projection is the
    widest matrix of the model, and a decoder needs only a few of its rows.
  * `CachedDenoiser`: with prefilling (`DecodeConfig.prefill`), the same
    forward also takes the whole sequence's rotary positions and a key/value
    cache (`dimple.kv_cache`), and the model computes those positions once
    (`rope_index`).

An HF-style module whose forward has no `logits_index` (docs/DESIGN.md's
"any module with that forward") decodes through `PlainDenoiser`, which gathers
the rows from its full logits. What this file does not know: how a model
computes anything, and the decoding schedule.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol

import torch


class DenoiserOutput(Protocol):
    logits: torch.Tensor  # (batch, n, vocab), raw: output i predicts token i + 1 (the engine shifts)


class Denoiser(Protocol):
    config: Any  # reads mask_token_id, eos_token_id, pad_token_id (each may be None or absent)

    def __call__(
        self,
        *,
        input_ids: torch.LongTensor,  # (batch, fed positions)
        attention_mask: Optional[torch.Tensor],  # (batch, total length), 1 where a real token
        pixel_values: Optional[torch.Tensor],  # (patches, 1176) or None
        image_grid_thw: Optional[torch.LongTensor],  # (images, 3) or None
        logits_index: torch.LongTensor,  # (batch, n): fed positions whose outputs to return
    ) -> DenoiserOutput: ...


class CachedDenoiser(Protocol):
    config: Any

    def __call__(
        self,
        *,
        input_ids: torch.LongTensor,  # the whole sequence, or with a filled cache the positions it asks for
        attention_mask: Optional[torch.Tensor],
        logits_index: torch.LongTensor,
        position_ids: torch.LongTensor,  # (3, batch, total length): of the whole sequence
        cache: Any,  # a dimple.kv_cache cache: the model feeds cache.query_index() and extends it per layer
        pixel_values: Optional[torch.Tensor] = None,
        image_grid_thw: Optional[torch.LongTensor] = None,
    ) -> DenoiserOutput: ...

    def rope_index(self, input_ids: torch.LongTensor, image_grid_thw: Optional[torch.LongTensor] = None,
                   attention_mask: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, Any]: ...


class _Rows:
    def __init__(self, logits: torch.Tensor) -> None:
        self.logits = logits


class PlainDenoiser:
    """A `Denoiser` made of a module whose forward(input_ids, attention_mask, pixel_values, image_grid_thw)
    returns `.logits` for every position: it computes them all and returns the rows at `logits_index`."""

    def __init__(self, module) -> None:
        self.module = module
        self.config = module.config

    def __call__(self, *, input_ids, attention_mask, pixel_values, image_grid_thw, logits_index) -> _Rows:
        logits = self.module(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values,
                             image_grid_thw=image_grid_thw).logits
        return _Rows(torch.gather(logits, 1, logits_index[..., None].expand(-1, -1, logits.shape[-1])))
