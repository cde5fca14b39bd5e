"""Images that are not from Dimple-Tiny's world: noise, textures, random drawings and photographs.

Owns drawing such images from a seed and finding the photographs that ship
inside installed packages (matplotlib's sample data, scikit-image's and
scikit-learn's example images). Photographs are split by file: the held-out
ones never reach training. Every image comes back square (centre-cropped),
as Dimple-Tiny's assistant crops what a visitor uploads, so that it always
sees a 3x3 token grid.

It knows nothing of questions, tokenizers or models.
"""

from __future__ import annotations

import importlib.util
import math
import os
import random
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from dimple.processing import center_square

from . import world as W

SYNTHETIC = ("noise", "blobs", "stripes", "checker", "waves", "scribble", "polygons")
# Photographs by (package, path inside it); held out by file.
PHOTOS = {
    "train": [("skimage", "data/astronaut.png"), ("skimage", "data/camera.png"), ("skimage", "data/chelsea.png"),
              ("skimage", "data/coins.png"), ("skimage", "data/horse.png"), ("skimage", "data/hubble_deep_field.jpg"),
              ("skimage", "data/moon.png"), ("skimage", "data/motorcycle_left.png"), ("skimage", "data/rocket.jpg"),
              ("skimage", "data/retina.jpg"), ("skimage", "data/ihc.png"), ("skimage", "data/page.png"),
              ("skimage", "data/text.png"), ("skimage", "data/brick.png"), ("skimage", "data/grass.png"),
              ("skimage", "data/gravel.png"), ("skimage", "data/color.png"), ("skimage", "data/cell.png"),
              ("skimage", "data/logo.png"), ("sklearn", "datasets/images/china.jpg"),
              ("matplotlib", "mpl-data/sample_data/logo2.png")],
    "heldout": [("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
                ("matplotlib", "mpl-data/sample_data/Minduka_Present_Blue_Pack.png"),
                ("skimage", "data/coffee.png"), ("skimage", "data/motorcycle_right.png"),
                ("sklearn", "datasets/images/flower.jpg")],
}
SIDE = W.IMAGE_SIZE


def square(image: Image.Image) -> Image.Image:
    """The largest centred square of `image`, in RGB (as the assistant crops an upload for Tiny)."""
    return center_square(image.convert("RGB"))


@lru_cache(maxsize=None)
def photo_paths(split: str) -> tuple[str, ...]:
    """The photographs of `split` that the installed packages hold."""
    out = []
    for package, rel in PHOTOS[split]:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        path = os.path.join(list(spec.submodule_search_locations)[0], rel)
        if os.path.exists(path):
            out.append(path)
    return tuple(out)


@lru_cache(maxsize=64)
def _photo(path: str) -> Image.Image:
    return Image.open(path).convert("RGB")


def _random_color(rng: random.Random) -> tuple[int, int, int]:
    return tuple(rng.randrange(256) for _ in range(3))


def _synthetic(kind: str, rng: random.Random) -> Image.Image:
    nrng = np.random.default_rng(rng.randrange(2**32))
    if kind == "noise":
        scale = rng.choice((1, 4, 12))
        small = nrng.integers(0, 256, (SIDE // scale + 1, SIDE // scale + 1, 3), dtype=np.uint8)
        return Image.fromarray(small).resize((SIDE, SIDE), Image.NEAREST if rng.random() < 0.5 else Image.BICUBIC)
    if kind == "waves":
        y, x = np.mgrid[0:SIDE, 0:SIDE] / SIDE
        chans = [127 + 120 * np.sin(2 * math.pi * (rng.uniform(0.5, 6) * x + rng.uniform(0.5, 6) * y + rng.random()))
                 for _ in range(3)]
        return Image.fromarray(np.stack(chans, -1).astype(np.uint8))
    img = Image.new("RGB", (SIDE, SIDE), _random_color(rng))
    draw = ImageDraw.Draw(img)
    if kind == "blobs":
        for _ in range(rng.randint(10, 40)):
            x, y, r = rng.randrange(SIDE), rng.randrange(SIDE), rng.randint(5, 40)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=_random_color(rng))
        return img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 6)))
    if kind == "stripes":
        width, c2 = rng.randint(3, 24), _random_color(rng)
        for i in range(-SIDE, 2 * SIDE, 2 * width):
            slant = SIDE * rng.choice((0, 1))
            rng.randrange(2)  # a draw the first version spent here: kept, so every image stays the one trained on
            draw.polygon([(i, 0), (i + width, 0), (i + width + slant, SIDE), (i, SIDE)], fill=c2)
        return img
    if kind == "checker":
        n, c2 = rng.randint(3, 14), _random_color(rng)
        step = SIDE / n
        for r in range(n):
            for c in range(n):
                if (r + c) % 2:
                    draw.rectangle([c * step, r * step, (c + 1) * step, (r + 1) * step], fill=c2)
        return img
    if kind == "scribble":
        for _ in range(rng.randint(3, 25)):
            pts = [(rng.randrange(SIDE), rng.randrange(SIDE)) for _ in range(rng.randint(2, 6))]
            draw.line(pts, fill=_random_color(rng), width=rng.randint(1, 6))
        return img
    for _ in range(rng.randint(8, 30)):  # polygons: many small random ones, overlapping
        cx, cy, r = rng.randrange(SIDE), rng.randrange(SIDE), rng.randint(6, 30)
        pts = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in sorted(rng.uniform(0, 6.28) for _ in range(5))]
        draw.polygon(pts, fill=_random_color(rng))
    return img


def _photo_view(path: str, rng: random.Random, augment: bool) -> Image.Image:
    img = square(_photo(path))
    if augment:
        s = img.size[0]
        c = int(s * rng.uniform(0.4, 1.0))
        x, y = rng.randint(0, s - c), rng.randint(0, s - c)
        img = img.crop((x, y, x + c, y + c))
        if rng.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return img.resize((SIDE, SIDE), Image.BICUBIC)


def image(rng: random.Random, split: str = "train") -> Image.Image:
    """A square, SIDE-pixel image from no scene of the world. Held-out synthetic images differ by seed only;
    held-out photographs are other files, shown whole."""
    photos = photo_paths(split)
    if photos and rng.random() < 0.45:
        return _photo_view(rng.choice(photos), rng, augment=(split == "train"))
    return _synthetic(rng.choice(SYNTHETIC), rng)
