"""Turn raw UI / API inputs into clean values, or a ValueError that says what is wrong.

Owns the checks between a person (or an API client) and the library: reading
an uploaded image file safely (size limits, decompression bombs, odd modes,
EXIF rotation, animations), coercing the decoding controls (Gradio numbers
arrive as floats, strings or None) into a validated `DecodeConfig`, and the
prompt's limits. It knows nothing of Gradio (callers turn ValueError into
gr.Error) and nothing of the model beyond the DecodeConfig fields.
"""

from __future__ import annotations

import math
import os
from typing import Any, Optional

from PIL import Image, ImageOps, UnidentifiedImageError

from dimple.config import ALGORITHMS, DecodeConfig
from dimple.processing import MAX_PROMPT_CHARS

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # declared width x height; beyond this we refuse before decoding


def load_image(source: Any) -> Optional[Image.Image]:
    """A file path, PIL image or None -> an RGB PIL image (None stays None)."""
    if source is None or source == "":
        return None
    if isinstance(source, Image.Image):
        img = source
    else:
        path = str(source)
        if not os.path.isfile(path):
            raise ValueError("image: the uploaded file could not be found; upload it again")
        size = os.path.getsize(path)
        if size == 0:
            raise ValueError("image: the uploaded file is empty")
        if size > MAX_IMAGE_BYTES:
            raise ValueError(f"image: the file is {size / 1e6:.1f} MB; the limit is {MAX_IMAGE_BYTES // 2**20} MB")
        try:
            img = Image.open(path)
            w, h = img.size
            if w * h > MAX_IMAGE_PIXELS:
                raise ValueError(f"image: {w}x{h} pixels is too large (at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels)")
            img.seek(0)  # animated images: the first frame
            img.load()
        except ValueError:
            raise
        except Image.DecompressionBombError:
            raise ValueError("image: the file declares a huge size (a decompression bomb); refused") from None
        except UnidentifiedImageError:
            raise ValueError("image: the file is not an image (PNG, JPEG, GIF, WebP or BMP expected)") from None
        except (OSError, SyntaxError, EOFError) as exc:
            raise ValueError(f"image: the file is damaged or truncated ({exc})") from None
    return to_rgb(img)


def to_rgb(img: Image.Image) -> Image.Image:
    """Upright RGB: EXIF rotation applied, transparency over white, 16-bit and CMYK converted."""
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block is no reason to refuse the picture
        pass
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L") if img.mode != "I" else img.convert("L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return img.convert("RGB") if img.mode != "RGB" else img.copy()


def check_prompt(prompt: Any) -> str:
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


def _integer(name: str, value: Any) -> int:
    x = _number(name, value)
    if x != int(x):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(x)


def make_config(*, alg_p_threshold=0.9, prefill=True, steps=32, max_new_tokens=32, alg="maskgit_plus",
                temperature=0.0, top_p=None, top_k=None, alg_temp=0.0, seed=0,
                max_new_tokens_limit: Optional[int] = None) -> DecodeConfig:
    """Controls as they arrive from the UI or API -> a validated DecodeConfig.

    top_p >= 1 or empty and top_k <= 0 or empty mean "off"; an empty seed means 0.
    """
    if alg not in ALGORITHMS:
        raise ValueError(f"alg must be one of {', '.join(ALGORITHMS)}, got {alg!r}")
    if isinstance(prefill, str):
        prefill = prefill.strip().lower() in ("1", "true", "yes", "on")
    if not isinstance(prefill, bool):
        raise ValueError(f"prefill must be true or false, got {prefill!r}")
    top_p_v = None if top_p in (None, "") else _number("top_p", top_p)
    if top_p_v is not None and top_p_v >= 1.0:
        top_p_v = None
    top_k_v = None if top_k in (None, "") else _integer("top_k", top_k)
    if top_k_v is not None and top_k_v <= 0:
        top_k_v = None
    n_new = _integer("max_new_tokens", max_new_tokens)
    if max_new_tokens_limit is not None and n_new > max_new_tokens_limit:
        raise ValueError(f"max_new_tokens must be an integer in [1, {max_new_tokens_limit}] for this model, got {n_new}")
    cfg = DecodeConfig(
        max_new_tokens=n_new,
        steps=_integer("steps", steps),
        alg=alg,
        alg_p_threshold=_number("alg_p_threshold", alg_p_threshold),
        temperature=_number("temperature", temperature),
        top_p=top_p_v,
        top_k=top_k_v,
        alg_temp=_number("alg_temp", alg_temp),
        prefill=prefill,
        seed=0 if seed in (None, "") else _integer("seed", seed),
    )
    return cfg.validate()


def _ids(name: str, value: Any) -> list[int]:
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{name} must be a list of integers, got {value!r}") from None
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list of integers, got {value!r}")
    return [_integer(f"{name}[{i}]", v) for i, v in enumerate(value)]


def check_branch(start: dict, max_new_tokens: int, template: Optional[str]) -> dict:
    """The `branch` API's canvas, fixed, start_step, start_masked -> the keywords of `Assistant.branch`, or a
    ValueError naming the problem (token ids and ranges are the engine's to check, against the model)."""
    if template:
        raise ValueError("template: a branch's canvas already holds its fixed tokens; leave template empty")
    if start.get("canvas") in (None, "", []):
        raise ValueError("canvas: give the response canvas, one token id per position (the mask id where masked)")
    canvas = _ids("canvas", start["canvas"])
    if len(canvas) != max_new_tokens:
        raise ValueError(f"canvas has {len(canvas)} positions but max_new_tokens is {max_new_tokens}; they must match")
    fixed = None if start.get("fixed") in (None, "") else _ids("fixed", start["fixed"])
    step = 0 if start.get("start_step") in (None, "") else _integer("start_step", start["start_step"])
    if step < 0:
        raise ValueError(f"start_step must be 0 or more (the iteration the canvas was taken after), got {step}")
    masked = None if start.get("start_masked") in (None, "") else _integer("start_masked", start["start_masked"])
    return {"canvas": canvas, "fixed": fixed, "start_step": step, "start_masked": masked}
