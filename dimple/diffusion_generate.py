"""`model.diffusion_generate`: the released model card's generation call, run on this project's engine.

Owns the translation from the original `DimpleGenerationMixin.diffusion_generate`
(its keywords, its defaults, its `generation_config`, its two hook functions
and its output: `.sequences` and `.history`) to one `engine.stream_batch`
call. Semantics carried over from the original:

  * the response length is `max_new_tokens`, else `max_length - prompt length`,
    else 20; defaults are steps 512, alg "origin", temperature 0, eps 1e-3,
    threshold off, prefilling (`use_cache`) as in the model config (off);
  * `generation_tokens_hook_func(step, x, logits) -> x` is called once with
    (None, prompt + all-mask response, None), then after every iteration's
    commits with the tokens of that iteration's forward input (the whole
    sequence, or with prefilling the last prompt token + response) and the
    shifted logits; `generation_logits_hook_func(step, x, logits) -> logits`
    sees the shifted logits (position i scored by output i - 1) before any
    token is chosen;
  * `history` holds the whole sequence (prompt + response) after every
    iteration; decoding stops when nothing is masked.

Where the engine deliberately differs (see `engine`), so does this: the mask
token is never chosen, and a batch decodes each row as it would alone (the
original ranks confidences across the whole batch). Sampling draws its seed
from torch's global generator, so `torch.manual_seed` makes runs repeatable.
Only the "dim" pipeline exists; "dream" is refused. It knows nothing of
tokenizers, processors or the UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import torch
from transformers.utils import ModelOutput

from .config import DecodeConfig
from .engine import Request, stream_batch

# The original DimpleGenerationConfig's defaults for the settings this call reads.
DEFAULTS = dict(max_new_tokens=None, max_length=None, steps=512, temperature=0.0, top_p=None, top_k=None,
                alg="origin", alg_temp=None, alg_p_threshold=None, use_cache=None, use_original_confidence=True,
                decoding_pipeline="dim", eps=1e-3, output_history=False, return_dict_in_generate=False,
                mask_token_id=None, num_return_sequences=1, block_attention=False)
DEFAULT_NEW_TOKENS = 20  # the original's default max_length, counted past the prompt


@dataclass
class DiffusionGenerateOutput(ModelOutput):
    sequences: Optional[torch.LongTensor] = None  # (batch, prompt + response)
    history: Optional[list] = None  # one (batch, prompt + response) tensor per iteration


def generation_settings(model_config, generation_config, given: dict) -> dict:
    """Merge, lowest first: the original's defaults, the model config, `generation_config`, keywords."""
    settings = dict(DEFAULTS)
    settings["use_cache"] = bool(getattr(model_config, "use_cache", False) or False)
    settings["mask_token_id"] = getattr(model_config, "mask_token_id", None)
    if generation_config is not None:
        source = generation_config if isinstance(generation_config, Mapping) else generation_config.to_dict()
        settings.update({k: v for k, v in source.items() if k in DEFAULTS and v is not None})
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings


def check_pipeline(settings: dict) -> None:
    pipeline = settings["decoding_pipeline"]
    if pipeline == "dream":
        raise ValueError("decoding_pipeline='dream' (Dream's original schedule) is not supported: Dimple Studio "
                         "decodes with Dimple's confident decoding; use decoding_pipeline='dim'")
    if pipeline != "dim":
        raise ValueError(f"decoding_pipeline must be 'dim', got {pipeline!r}")
    if settings["num_return_sequences"] != 1:
        raise ValueError("num_return_sequences must be 1 (repeat the inputs to decode several samples)")
    if settings["block_attention"]:
        raise ValueError("block_attention is not supported; decoding uses full attention")


def response_length(settings: dict, prompt_len: int, max_positions: Optional[int]) -> int:
    if settings["max_new_tokens"] is not None:
        return int(settings["max_new_tokens"])
    if settings["max_length"] is not None:
        n = int(settings["max_length"]) - prompt_len
        if n < 1:
            raise ValueError(f"max_length {settings['max_length']} leaves no room after the {prompt_len}-token prompt; "
                             "set max_new_tokens instead")
        return n
    n = DEFAULT_NEW_TOKENS
    return min(n, max_positions - prompt_len) if max_positions else n


def decode_config(settings: dict, length: int) -> DecodeConfig:
    seed = int(torch.randint(0, 2**62, (1,)).item())  # from the global generator, as the original samples
    return DecodeConfig(
        max_new_tokens=length, steps=int(settings["steps"]), alg=settings["alg"],
        alg_p_threshold=float(settings["alg_p_threshold"] or 0.0), temperature=float(settings["temperature"]),
        top_p=settings["top_p"], top_k=settings["top_k"], alg_temp=float(settings["alg_temp"] or 0.0),
        use_original_confidence=bool(settings["use_original_confidence"]), prefill=bool(settings["use_cache"]),
        mask_token_id=settings["mask_token_id"], seed=seed, eps=float(settings["eps"]),
    ).validate()


def split_requests(input_ids, attention_mask, pixel_values, image_grid_thw, image_token_id, merge: int, canvas):
    """One engine Request per row: left padding removed, each row with its own images, in order."""
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    sizes = [] if image_grid_thw is None else [int(t * h * w) for t, h, w in image_grid_thw.tolist()]
    requests, image, patch = [], 0, 0
    for b in range(input_ids.shape[0]):
        keep = attention_mask[b].bool()
        first = int(keep.nonzero()[0]) if bool(keep.any()) else keep.numel()
        if not bool(keep[first:].all()):
            raise ValueError("input_ids are right-padded; pad on the left (the processor does)")
        ids = input_ids[b : b + 1, first:]
        need, start_image, start_patch = int((ids == image_token_id).sum()), image, patch
        while need > 0 and image < len(sizes):
            need -= sizes[image] // merge**2
            patch += sizes[image]
            image += 1
        if need != 0:
            raise ValueError(f"row {b}: its image tokens do not match the image_grid_thw given")
        pixels = pixel_values[start_patch:patch] if patch > start_patch else None
        grids = image_grid_thw[start_image:image] if image > start_image else None
        row_canvas = canvas[b].tolist()
        requests.append(Request(ids, torch.ones_like(ids), pixels, grids, row_canvas))
    return requests


class HookedModel:
    """The model as the engine sees it, with the caller's logits hook between forward and decoding."""

    def __init__(self, model, logits_hook: Optional[Callable]):
        self.model, self.config, self.logits_hook = model, model.config, logits_hook
        self.calls, self.last_input, self.last_logits = 0, None, None

    def rope_index(self, input_ids, image_grid_thw=None, attention_mask=None):
        return self.model.rope_index(input_ids, image_grid_thw, attention_mask)

    def forward(self, input_ids, attention_mask, logits_index, pixel_values=None, image_grid_thw=None,
                position_ids=None, cache=None):
        """The CachedDenoiser forward (dimple/protocol.py): the hook sees every fed position's logits, as in the
        original; the engine gets the rows at `logits_index`."""
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, pixel_values=pixel_values,
                         image_grid_thw=image_grid_thw, position_ids=position_ids, cache=cache)
        raw = out.logits
        shifted = torch.cat([raw[:, :1], raw[:, :-1]], dim=1)  # position i scored by output i - 1
        if self.logits_hook is not None:
            shifted = self.logits_hook(self.calls, input_ids, shifted)
        self.calls += 1
        self.last_input, self.last_logits = input_ids, shifted
        # back to the engine's convention: output i scores position i + 1
        logits = torch.cat([shifted[:, 1:], raw[:, -1:]], dim=1)
        return ModelOutput(logits=torch.gather(logits, 1, logits_index[..., None].expand(-1, -1, logits.shape[-1])))

    __call__ = forward


def tokens_edit(hooked: HookedModel, tokens_hook: Callable, response_len: int):
    """The engine's `edit`: the caller's tokens hook over this iteration's forward input."""

    def edit(i: int, seq: torch.Tensor) -> None:
        width = hooked.last_input.shape[1]
        x = seq[:, -width:].clone()
        new = tokens_hook(i, x, hooked.last_logits)
        if not isinstance(new, torch.Tensor) or new.shape != x.shape:
            raise ValueError(f"generation_tokens_hook_func must return a tensor of shape {tuple(x.shape)}")
        seq[:, -response_len:] = new[:, -response_len:].to(seq.device)

    return edit


class DiffusionGenerationMixin:
    """Adds the original's `diffusion_generate` to DimpleModel."""

    @torch.no_grad()
    def diffusion_generate(self, inputs: Optional[torch.LongTensor] = None, generation_config=None, *,
                           attention_mask=None, pixel_values=None, image_grid_thw=None, max_new_tokens=None,
                           max_length=None, steps=None, temperature=None, top_p=None, top_k=None, alg=None,
                           alg_temp=None, alg_p_threshold=None, use_cache=None, use_original_confidence=None,
                           decoding_pipeline=None, eps=None, output_history=None, return_dict_in_generate=None,
                           mask_token_id=None, generation_tokens_hook_func: Optional[Callable] = None,
                           generation_logits_hook_func: Optional[Callable] = None):
        """Decode a response for each row of `inputs` (batch, prompt); see the module docstring."""
        if inputs is None or inputs.dim() != 2:
            raise ValueError("inputs must be the prompt's input_ids, shape (batch, prompt length)")
        given = dict(max_new_tokens=max_new_tokens, max_length=max_length, steps=steps, temperature=temperature,
                     top_p=top_p, top_k=top_k, alg=alg, alg_temp=alg_temp, alg_p_threshold=alg_p_threshold,
                     use_cache=use_cache, use_original_confidence=use_original_confidence,
                     decoding_pipeline=decoding_pipeline, eps=eps, output_history=output_history,
                     return_dict_in_generate=return_dict_in_generate, mask_token_id=mask_token_id)
        settings = generation_settings(self.config, generation_config, given)
        check_pipeline(settings)
        length = response_length(settings, inputs.shape[1], getattr(self.config, "max_position_embeddings", None))
        cfg = decode_config(settings, length)
        canvas = torch.full((inputs.shape[0], length), int(cfg.mask_token_id), dtype=inputs.dtype, device=inputs.device)
        if generation_tokens_hook_func is not None:
            start = generation_tokens_hook_func(None, torch.cat([inputs, canvas], dim=1), None)
            canvas = start[:, inputs.shape[1]:]
        merge = int(self.config.vision_config.get("spatial_merge_size", 2))
        requests = split_requests(inputs, attention_mask, pixel_values, image_grid_thw, self.config.image_token_id,
                                  merge, canvas)
        hooks = generation_tokens_hook_func is not None or generation_logits_hook_func is not None
        engine_model = HookedModel(self, generation_logits_hook_func) if hooks else self
        edit = tokens_edit(engine_model, generation_tokens_hook_func, length) if generation_tokens_hook_func else None
        history = []
        trajs = []
        for n, trajs in enumerate(stream_batch(engine_model, requests, cfg, edit=edit)):
            if n and settings["output_history"] and settings["return_dict_in_generate"]:
                history.append(_sequences(inputs, trajs))
        sequences = _sequences(inputs, trajs)
        if not settings["return_dict_in_generate"]:
            return sequences
        return DiffusionGenerateOutput(sequences=sequences, history=history if settings["output_history"] else None)


def _sequences(inputs: torch.LongTensor, trajs) -> torch.LongTensor:
    responses = torch.tensor([t.response_ids for t in trajs], dtype=inputs.dtype, device=inputs.device)
    return torch.cat([inputs, responses], dim=1)
