"""A request's decoding settings, checked in one place, and the one table of their defaults.

Owns the defaults every front end starts from (`DEFAULTS`, which is
`DecodeConfig`'s own table: the studio's controls, the web API's keywords,
the CLI's flags and the teaching tools all read it, a model card overrides
it) and the one check of a request's values as they arrive from a form, a
JSON call or a command line (`decode_config`: numbers given as text, "off"
spelt as top_p >= 1 or top_k <= 0, an empty seed, block_length None or "off"; the model's canvas limit)
and of its prompt (`check_prompt`). Every refusal is a ValueError naming the
setting. It knows nothing of models, images or the UI.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

from .config import ALGORITHMS, DecodeConfig
from .processing import MAX_PROMPT_CHARS

DEFAULTS = DecodeConfig()  # the table: DecodeConfig's fields and their comments (dimple/config.py)


def check_prompt(prompt: Any) -> str:
    """The question, trimmed; ValueError when it is empty or longer than MAX_PROMPT_CHARS."""
    if prompt is None or not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt: it is empty; type a question about the image")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"prompt: {len(prompt)} characters is too long (at most {MAX_PROMPT_CHARS})")
    return prompt.strip()


def _number(name: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def whole_number(name: str, value: Any) -> int:
    """`value` (a number or its text) as an int; ValueError naming `name` when it is not a whole number."""
    x = _number(name, value)
    if x != int(x):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(x)


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, str):
        value = value.strip().lower() in ("1", "true", "yes", "on")
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _top_p(value: Any) -> Optional[float]:
    p = None if value in (None, "") else _number("top_p", value)
    return None if p is not None and p >= 1.0 else p


def _top_k(value: Any) -> Optional[int]:
    k = None if value in (None, "") else whole_number("top_k", value)
    return None if k is not None and k <= 0 else k


OFF = ("", "off", "none")  # how a front end spells "no blocks" (a dropdown's label starts with one of them)


def _block_length(value: Any) -> Optional[int]:
    """None (the paper's whole canvas) for None or "off"; otherwise a whole number (DecodeConfig checks its range)."""
    if value is None or (isinstance(value, str) and value.strip().lower().split(" ")[0] in OFF):
        return None
    return whole_number("block_length", value)


def _alg(value: Any) -> str:
    if value not in ALGORITHMS:
        raise ValueError(f"alg must be one of {', '.join(ALGORITHMS)}, got {value!r}")
    return value


# How each setting a front end sends is read (a setting not listed here is not taken from a request).
READERS = {
    "max_new_tokens": lambda v: whole_number("max_new_tokens", v),
    "steps": lambda v: whole_number("steps", v),
    "alg": _alg,
    "alg_p_threshold": lambda v: _number("alg_p_threshold", v),
    "temperature": lambda v: _number("temperature", v),
    "top_p": _top_p,
    "top_k": _top_k,
    "alg_temp": lambda v: _number("alg_temp", v),
    "prefill": lambda v: _flag("prefill", v),
    "seed": lambda v: 0 if v in (None, "") else whole_number("seed", v),
    "block_length": _block_length,
}


def decode_config(values: Mapping[str, Any], base: DecodeConfig = DEFAULTS, limit: Optional[int] = None) -> DecodeConfig:
    """A request's settings over `base` (a model's defaults) -> a validated DecodeConfig; ValueError naming
    the first bad one. `limit`: the model's longest canvas."""
    unknown = sorted(set(values) - set(READERS))
    if unknown:
        raise ValueError(f"unknown decode settings: {', '.join(unknown)}")
    changes = {name: READERS[name](value) for name, value in values.items()}
    n_new = changes.get("max_new_tokens", base.max_new_tokens)
    if limit is not None and n_new > limit:
        raise ValueError(f"max_new_tokens must be an integer in [1, {limit}] for this model, got {n_new}")
    return base.with_(**changes).validate()
