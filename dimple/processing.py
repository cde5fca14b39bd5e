"""Images to patches and conversations to token ids, the Qwen2-VL way.

Owns the image side of the input (smart resize to multiples of 28 within
`min_pixels`/`max_pixels`, CLIP normalisation, patches of 2 x 14 x 14 in 2x2
merge order flattened to 1176 values, `image_grid_thw`) and the prompt text
(the `<|im_start|>` chat format, `<|image_pad|>` expanded to one token per
merged patch). It does not know the model or the decoding; tokens come from
the tokenizer it is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # per RGB channel: the normalisation every Dimple checkpoint saw
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_ASPECT_RATIO = 200
MAX_PROMPT_CHARS = 4000  # longest question accepted, by the library and the app alike


def smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 14 * 14 * 4 * 1280):
    """Nearest size with both sides multiples of `factor` and area in [min_pixels, max_pixels]."""
    if min(height, width) < 1:
        raise ValueError(f"image is empty ({width}x{height})")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ValueError(f"image aspect ratio must be below {MAX_ASPECT_RATIO}, got {width}x{height}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return max(h_bar, factor), max(w_bar, factor)


def patchify(images: torch.Tensor, patch_size: int = 14, merge_size: int = 2, temporal_patch_size: int = 2):
    """Normalised images (batch, 3, H, W) -> (batch * grid_h * grid_w, 3 * tps * ps * ps), grid (h, w).

    Each still image is repeated `temporal_patch_size` times (one temporal
    patch); patches are ordered so that each 2x2 merge group is contiguous.
    """
    b, c, h, w = images.shape
    gh, gw = h // patch_size, w // patch_size
    x = images.unsqueeze(1).expand(b, temporal_patch_size, c, h, w)
    x = x.reshape(b, temporal_patch_size, c, gh // merge_size, merge_size, patch_size, gw // merge_size, merge_size, patch_size)
    # -> batch, gh/m, gw/m, m, m, channel, temporal, ps, ps
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(b * gh * gw, c * temporal_patch_size * patch_size * patch_size), (gh, gw)


def center_square(image: Image.Image) -> Image.Image:
    """The largest centred square of `image` (a model trained on square pictures sees every upload whole-grid)."""
    w, h = image.size
    s = min(w, h)
    if w == h:
        return image
    return image.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))


def normalize_uint8(images: torch.Tensor) -> torch.Tensor:
    """uint8 (batch, 3, H, W) -> float32 CLIP-normalised."""
    mean = torch.tensor(CLIP_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return (images.float() * (1 / 255) - mean) / std


@dataclass
class DimpleImageProcessor:
    min_pixels: int = 3136  # smallest image area after resizing
    max_pixels: int = 12544  # largest image area after resizing (bounds the image token count)
    patch_size: int = 14
    merge_size: int = 2  # 2x2 patches merge into one language-model token
    temporal_patch_size: int = 2

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size

    def resize(self, image: Image.Image) -> Image.Image:
        image = image.convert("RGB")
        h, w = smart_resize(image.height, image.width, self.factor, self.min_pixels, self.max_pixels)
        if (h, w) != (image.height, image.width):
            image = image.resize((w, h), Image.BICUBIC)
        return image

    def __call__(self, images: Sequence[Image.Image] | Image.Image) -> dict:
        if isinstance(images, Image.Image):
            images = [images]
        values, grids = [], []
        for image in images:
            array = np.asarray(self.resize(image), dtype=np.uint8).transpose(2, 0, 1).copy()
            pixels = normalize_uint8(torch.from_numpy(array)[None])
            patches, (gh, gw) = patchify(pixels, self.patch_size, self.merge_size, self.temporal_patch_size)
            values.append(patches)
            grids.append([1, gh, gw])
        return {"pixel_values": torch.cat(values), "image_grid_thw": torch.tensor(grids, dtype=torch.long)}

    def n_image_tokens(self, image_grid_thw: torch.Tensor) -> list[int]:
        return [int(t * h * w) // (self.merge_size**2) for t, h, w in image_grid_thw.tolist()]


# ----- prompts -----------------------------------------------------------------
IMAGE_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"


def chat_prompt(question: str, history: Sequence[tuple[str, str]] = (), system: Optional[str] = None, with_image: bool = True) -> str:
    """Qwen-style chat text ending with the assistant turn's opening.

    The image (one per conversation) goes before the text of the first user turn.
    """
    parts = []
    if system:
        parts.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    turns = list(history) + [(question, None)]
    for n, (user, answer) in enumerate(turns):
        image = IMAGE_PLACEHOLDER if (with_image and n == 0) else ""
        parts.append(f"<|im_start|>user\n{image}{user}<|im_end|>\n<|im_start|>assistant\n")
        if answer is not None:
            parts.append(f"{answer}<|im_end|>\n")
    return "".join(parts)


def expand_image_tokens(text: str, n_tokens: Sequence[int], image_pad: str = "<|image_pad|>") -> str:
    """Replace the k-th `<|image_pad|>` with n_tokens[k] copies of it."""
    pieces = text.split(image_pad)
    if len(pieces) - 1 != len(n_tokens):
        raise ValueError(f"{len(pieces) - 1} image placeholders for {len(n_tokens)} images")
    out = [pieces[0]]
    for count, piece in zip(n_tokens, pieces[1:]):
        out.append(image_pad * count + piece)
    return "".join(out)


def encode_prompt(tokenizer, processor: DimpleImageProcessor, question: str, image: Optional[Image.Image] = None,
                  history: Sequence[tuple[str, str]] = (), system: Optional[str] = None) -> dict:
    """Token ids (1, L), attention mask and image tensors for one conversation turn."""
    text = chat_prompt(question, history, system, with_image=image is not None)
    batch = {}
    if image is not None:
        batch = processor([image])
        text = expand_image_tokens(text, processor.n_image_tokens(batch["image_grid_thw"]))
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    input_ids = torch.tensor([ids], dtype=torch.long)
    batch.update(input_ids=input_ids, attention_mask=torch.ones_like(input_ids))
    return batch
