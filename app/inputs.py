"""Turn raw UI / API inputs into clean values, or a ValueError that says what is wrong.

Owns the checks between a person (or an API client) and the library that the
library does not make itself: reading an uploaded image file safely (size
limits, decompression bombs, odd modes, EXIF rotation, animations), the
`branch` API's canvas arguments, and `make_config`, the studio's name for the
library's one settings check (`dimple.settings.decode_config`: the defaults
table and the coercion of values that arrive as floats, strings or None). It
knows nothing of Gradio (callers turn ValueError into gr.Error).
"""

from __future__ import annotations

import os
from typing import Any, Optional

from PIL import Image, ImageOps, UnidentifiedImageError

from dimple.config import DecodeConfig
from dimple.settings import check_prompt, decode_config, whole_number

__all__ = ["check_branch", "check_prompt", "load_image", "make_config", "to_rgb"]

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


def make_config(*, max_new_tokens_limit: Optional[int] = None, **controls) -> DecodeConfig:
    """Controls as they arrive from the UI or API (any subset; the rest from the defaults table) -> a
    validated DecodeConfig (dimple.settings.decode_config)."""
    return decode_config(controls, limit=max_new_tokens_limit)


def _ids(name: str, value: Any) -> list[int]:
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{name} must be a list of integers, got {value!r}") from None
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list of integers, got {value!r}")
    return [whole_number(f"{name}[{i}]", v) for i, v in enumerate(value)]


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
    step = 0 if start.get("start_step") in (None, "") else whole_number("start_step", start["start_step"])
    if step < 0:
        raise ValueError(f"start_step must be 0 or more (the iteration the canvas was taken after), got {step}")
    masked = None if start.get("start_masked") in (None, "") else whole_number("start_masked", start["start_masked"])
    return {"canvas": canvas, "fixed": fixed, "start_step": step, "start_masked": masked}
