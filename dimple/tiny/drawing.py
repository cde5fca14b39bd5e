"""How Dimple-Tiny's world is drawn: a scene's pixels, and the image the model sees.

Owns the image sizes (168x168 drawn, a 3x3 layout of 56 px cells; the model
sees 84x84, where each cell is exactly one merged image token), the colours,
the background and how objects, words and bar charts are painted (PIL). The
background is a faint two-way gradient (red falls from top to bottom, blue
from left to right), so that every image patch can tell where it sits;
objects are large and saturated. It reads a world.Scene's fields (kind,
objects, words, bars) and knows nothing of questions, tokenizers or models.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

IMAGE_SIZE = 168  # drawn size (what people see)
GRID = 3
CELL = IMAGE_SIZE // GRID  # 56 px
# What Dimple-Tiny sees: the image processor (max_pixels = MODEL_IMAGE_SIZE**2) halves 168 to 84 px,
# 6x6 patches of 14 px, 3x3 merged image tokens: exactly one merged token per cell.
MODEL_IMAGE_SIZE = 84

COLORS = {
    "red": (220, 30, 30),
    "orange": (245, 140, 0),
    "yellow": (230, 205, 0),
    "green": (30, 160, 50),
    "blue": (30, 80, 225),
    "purple": (140, 50, 185),
    "pink": (250, 110, 200),
    "black": (25, 25, 25),
}


def _background() -> Image.Image:
    return _background_cached().copy()


@lru_cache(maxsize=1)
def _background_cached() -> Image.Image:
    img = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE))
    px = img.load()
    for y in range(IMAGE_SIZE):
        for x in range(IMAGE_SIZE):
            px[x, y] = (250 - (45 * y) // IMAGE_SIZE, 246, 250 - (45 * x) // IMAGE_SIZE)
    return img


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont:
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
                 "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"):
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    pts = []
    for i in range(10):
        ang = -math.pi / 2 + i * math.pi / 5
        rad = r if i % 2 == 0 else r * 0.45
        pts.append((cx + rad * math.cos(ang), cy + rad * math.sin(ang)))
    return pts


def _draw_object(draw: ImageDraw.ImageDraw, o) -> None:
    r, c = divmod(o.cell, GRID)
    cx, cy = c * CELL + CELL / 2, r * CELL + CELL / 2
    half = 25 if o.size == "big" else 14
    fill = COLORS[o.color]
    if o.shape == "circle":
        draw.ellipse([cx - half, cy - half, cx + half, cy + half], fill=fill)
    elif o.shape == "square":
        h = half * 0.9
        draw.rectangle([cx - h, cy - h, cx + h, cy + h], fill=fill)
    elif o.shape == "triangle":
        draw.polygon([(cx, cy - half), (cx - half, cy + half * 0.85), (cx + half, cy + half * 0.85)], fill=fill)
    elif o.shape == "star":
        draw.polygon(_star(cx, cy + 1, half * 1.1), fill=fill)
    else:  # pragma: no cover - closed vocabulary
        raise ValueError(o.shape)


def model_view(image: Image.Image) -> Image.Image:
    """The image as Dimple-Tiny's processor resizes it (bicubic, to MODEL_IMAGE_SIZE)."""
    image = image.convert("RGB")
    if image.size != (MODEL_IMAGE_SIZE, MODEL_IMAGE_SIZE):
        image = image.resize((MODEL_IMAGE_SIZE, MODEL_IMAGE_SIZE), Image.BICUBIC)
    return image


def render(scene) -> Image.Image:
    """A world.Scene as people see it (IMAGE_SIZE square)."""
    img = _background()
    draw = ImageDraw.Draw(img)
    if scene.kind == "objects":
        for o in scene.objects:
            _draw_object(draw, o)
    elif scene.kind == "text":
        font = _font(46)
        for row, word, color in scene.words:
            cy = row * CELL + CELL / 2
            draw.text((IMAGE_SIZE / 2, cy), word, fill=COLORS[color], font=font, anchor="mm")
    elif scene.kind == "chart":
        base = 2 * CELL + 28  # bars stand on this line; labels below it
        draw.line([(4, base), (IMAGE_SIZE - 4, base)], fill=(60, 60, 60), width=3)
        vfont, lfont = _font(24), _font(26)
        for i, (label, value, color) in enumerate(scene.bars):
            cx = i * CELL + CELL / 2
            top = base - 10 * value
            draw.rectangle([cx - 18, top, cx + 18, base - 1], fill=COLORS[color])
            draw.text((cx, top - 1), str(value), fill=(20, 20, 20), font=vfont, anchor="mb")
            draw.text((cx, base + 2), label, fill=(20, 20, 20), font=lfont, anchor="mt")
    else:
        raise ValueError(f"unknown scene kind {scene.kind!r}")
    return img
