"""DecodeConfig: every knob of Dimple's decoding, validated in one place.

Owns the names and ranges of the decoding settings (upstream names from
Dimple's `DimpleGenerationConfig`) and the message a bad value gets. It does
not know about models, tensors or the UI; token ids left as None are filled
from the model's config by the engine.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Optional

from .blocks import plan

ALGORITHMS = ("maskgit_plus", "topk_margin", "entropy", "origin", "autoregressive")

# Upper bounds that keep one request from monopolising a shared server.
MAX_NEW_TOKENS_LIMIT = 4096
MAX_STEPS_LIMIT = 4096


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not (low <= value <= high):
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


def _check_float(name: str, value, low: float, high: float) -> None:
    if not _is_number(value) or not (low <= value <= high):
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class DecodeConfig:
    max_new_tokens: int = 32  # response canvas length (ignored when a template fixes the length)
    steps: int = 32  # most iterations allowed; the schedule's resolution; the last one commits everything
    alg: str = "maskgit_plus"  # confidence kind / commit order, see ALGORITHMS
    alg_p_threshold: float = 0.9  # confident decoding: commit every masked position above this; 0 = off
    temperature: float = 0.0  # 0 = greedy token choice
    top_p: Optional[float] = None  # nucleus filter on the token distribution (None or 1 = off)
    top_k: Optional[int] = None  # keep the k most likely tokens (None = off)
    alg_temp: float = 0.0  # > 0: sample fallback positions from softmax(confidence / alg_temp)
    use_original_confidence: bool = True  # score with the unfiltered distribution, as upstream recommends
    prefill: bool = True  # keep the prompt's key/value cache after the first iteration
    mask_token_id: Optional[int] = None  # None: model.config.mask_token_id
    seed: Optional[int] = 0  # None: do not reseed (non-reproducible sampling)
    eps: float = 1e-3  # last value of the schedule grid linspace(1, eps, steps + 1)
    skip_padding: bool = False  # beyond the paper: once an end token is committed, pad the masked tail at once
    response_cache: int = 0  # beyond the paper: reuse committed response keys/values, refresh every N iterations (0 = off)
    # beyond the paper (LLaDA's semi-autoregressive decoding): blocks of this many positions, left to right, the
    # steps split across them (dimple.blocks); None = the whole canvas at once (the paper)
    block_length: Optional[int] = None

    def validate(self) -> "DecodeConfig":
        _check_int("max_new_tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS_LIMIT)
        _check_int("steps", self.steps, 1, MAX_STEPS_LIMIT)
        if self.alg not in ALGORITHMS:
            raise ValueError(f"alg must be one of {', '.join(ALGORITHMS)}, got {self.alg!r}")
        _check_float("alg_p_threshold", self.alg_p_threshold, 0.0, 1.0)
        _check_float("temperature", self.temperature, 0.0, 100.0)
        if self.top_p is not None:
            _check_float("top_p", self.top_p, 1e-6, 1.0)
        if self.top_k is not None:
            _check_int("top_k", self.top_k, 1, 10_000_000)
        _check_float("alg_temp", self.alg_temp, 0.0, 100.0)
        _check_float("eps", self.eps, 1e-9, 0.5)
        for name in ("use_original_confidence", "prefill", "skip_padding"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        _check_int("response_cache", self.response_cache, 0, MAX_STEPS_LIMIT)
        if self.response_cache and not self.prefill:
            raise ValueError("response_cache needs prefill on (it extends the prompt cache to the response)")
        self._check_blocks()
        if self.mask_token_id is not None:
            _check_int("mask_token_id", self.mask_token_id, 0, 10_000_000)
        if self.seed is not None:
            _check_int("seed", self.seed, 0, 2**63 - 1)
        return self

    def _check_blocks(self) -> None:
        """block_length in range, and at least one step per block of max_new_tokens (the engine checks again
        against a template's canvas length)."""
        if self.block_length is not None:
            _check_int("block_length", self.block_length, 1, MAX_NEW_TOKENS_LIMIT)
            plan(self.block_length, self.max_new_tokens, self.steps)

    @property
    def threshold_on(self) -> bool:
        return self.alg_p_threshold > 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DecodeConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown decode settings: {', '.join(unknown)}")
        return cls(**data)

    def with_(self, **changes) -> "DecodeConfig":
        return replace(self, **changes)
