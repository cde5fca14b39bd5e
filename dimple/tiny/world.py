"""The visual world Dimple-Tiny lives in: seeded scenes, words, bar charts and their questions.

Owns the closed vocabulary (shapes, colours, sizes, positions, words), the
scenes (objects in a 3x3 layout, words in rows, bar charts) and the
question/answer pairs each category asks of a scene. How a scene is drawn
is drawing.py's (re-exported here: render, model_view and the image sizes).
Everything is a pure function of an integer seed; the train and eval splits
use disjoint seed ranges. It knows nothing of tokenizers, tensors or models.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from typing import Optional

from PIL import Image

from .drawing import CELL, COLORS, GRID, IMAGE_SIZE, MODEL_IMAGE_SIZE, model_view, render  # noqa: F401 (the world's API)

SHAPES = ("circle", "square", "triangle", "star")
COLOR_NAMES = tuple(COLORS)
SIZES = ("big", "small")
# Cells in reading order (row-major); the name of cell r*3+c.
POSITIONS = (
    "top left", "top center", "top right",
    "middle left", "center", "middle right",
    "bottom left", "bottom center", "bottom right",
)
ROWS = ("top", "middle", "bottom")
WORDS = ("cat", "dog", "sun", "tree", "fish", "bird", "car", "boat",
         "moon", "cake", "book", "hat", "key", "cup", "bus", "frog")
BAR_LABELS = ("A", "B", "C", "D", "E", "F")
TEXT_COLORS = ("red", "green", "blue", "purple", "black")

# Evaluation categories (each question kind is its own category).
CATEGORIES = ("describe", "count", "exists", "attribute", "position", "ocr", "chart", "structured")
# Dense "what is in each row / everything" supervision for the vision warm-up stage.
WARMUP_CATEGORIES = ("cells",)
ALL_CATEGORIES = CATEGORIES + WARMUP_CATEGORIES
SCENE_CATEGORIES = ("describe", "count", "exists", "attribute", "position", "structured", "cells")
SCENE_KIND = {**{c: "objects" for c in SCENE_CATEGORIES}, "ocr": "text", "chart": "chart"}  # the scene each asks about

MAX_OBJECTS = 6
MAX_LIST_OBJECTS = 4  # describe / structured answers list at most this many objects
MAX_ANSWER_WORDS = 40

# Disjoint seed ranges for the splits.
SPLIT_BASE = {"train": 0, "eval": 1_000_000_000}
SPLIT_SIZE = 1_000_000_000


@dataclass
class Obj:
    shape: str
    color: str
    size: str
    cell: int  # 0..8, reading order

    @property
    def position(self) -> str:
        return POSITIONS[self.cell]

    def name(self, size: bool = False) -> str:
        return f"{self.size} {self.color} {self.shape}" if size else f"{self.color} {self.shape}"


@dataclass
class Scene:
    kind: str  # "objects" | "text" | "chart"
    objects: list[Obj] = field(default_factory=list)  # kind objects, sorted by cell
    words: list[tuple[int, str, str]] = field(default_factory=list)  # kind text: (row, word, colour)
    bars: list[tuple[str, int, str]] = field(default_factory=list)  # kind chart: (label, value, colour), left to right

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "objects": [vars(o) for o in self.objects],
            "words": [list(w) for w in self.words],
            "bars": [list(b) for b in self.bars],
        }


@dataclass
class Asked:
    """A question, its canonical answer, and the facts that `forms.vary` says it with in other words."""
    question: str
    answer: str
    facts: dict = field(default_factory=dict)


@dataclass
class Sample:
    image: Image.Image
    question: str
    answer: str
    category: str
    seed: int = -1
    scene: Optional[Scene] = None


# --------------------------------------------------------------------- scenes
def random_objects_scene(rng: random.Random, n_objects: Optional[int] = None, max_objects: int = MAX_OBJECTS) -> Scene:
    n = n_objects if n_objects is not None else rng.randint(1, max_objects)
    if not 1 <= n <= 9:
        raise ValueError(f"n_objects must be in [1, 9], got {n}")
    cells = sorted(rng.sample(range(9), n))
    objs = [Obj(rng.choice(SHAPES), rng.choice(COLOR_NAMES), rng.choice(SIZES), c) for c in cells]
    return Scene("objects", objects=objs)


def random_text_scene(rng: random.Random) -> Scene:
    n = rng.randint(1, 3)
    rows = sorted(rng.sample(range(3), n))
    words = rng.sample(WORDS, n)
    return Scene("text", words=[(r, w, rng.choice(TEXT_COLORS)) for r, w in zip(rows, words)])


def random_chart_scene(rng: random.Random) -> Scene:
    labels = sorted(rng.sample(BAR_LABELS, 3))
    values = rng.sample(range(1, 10), 3)  # distinct, so tallest / shortest are unique
    colors = [rng.choice(("red", "orange", "green", "blue", "purple")) for _ in labels]
    return Scene("chart", bars=list(zip(labels, values, colors)))


# ----------------------------------------------------------------- questions
def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _plural(shape: str) -> str:
    return shape + "s"


def describe_answer(objs: list[Obj]) -> str:
    return ", ".join(f"{o.position}: {o.name(size=True)}" for o in objs)


def structured_answer(objs: list[Obj]) -> str:
    return json.dumps({o.position: o.name() for o in objs})


def chart_answer(bars) -> str:
    return ", ".join(f"{label}: {value}" for label, value, _ in bars)


def exists_target(objs: list[Obj], rng: random.Random) -> tuple[str, str, bool]:
    """(colour, shape, present) for an "is there" question: present half the time; absent ones are
    POPE-style, random or adversarial (sharing a present colour or shape)."""
    present = {(o.color, o.shape) for o in objs}
    if rng.random() < 0.5:
        color, shape = rng.choice(sorted(present))
        return color, shape, True
    absent = [(c, s) for c in COLOR_NAMES for s in SHAPES if (c, s) not in present]
    near = [(c, s) for (c, s) in absent if any(c == pc or s == ps for pc, ps in present)]
    pool = near if near and rng.random() < 0.5 else absent
    color, shape = rng.choice(pool)
    return color, shape, False


def ask(scene: Scene, category: str, rng: random.Random) -> tuple[str, str]:
    """One (question, answer) pair of `category` about `scene` (which must be of the matching kind)."""
    got = ask_facts(scene, category, rng)
    return got.question, got.answer


def ask_facts(scene: Scene, category: str, rng: random.Random) -> Asked:
    """`ask`, with the answer's facts (what `forms.vary` needs to say it in another form)."""
    if category not in ALL_CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(ALL_CATEGORIES)}, got {category!r}")
    if scene.kind != SCENE_KIND[category]:
        raise ValueError(f"{category} questions need {_a(SCENE_KIND[category])} {SCENE_KIND[category]} scene")
    got = _ASKERS[category](scene, rng)
    return got if isinstance(got, Asked) else Asked(*got)


def _ask_cells(scene: Scene, rng: random.Random) -> tuple[str, str]:
    row = rng.randrange(3)
    parts = []
    for c in range(row * 3, row * 3 + 3):
        o = next((o for o in scene.objects if o.cell == c), None)
        parts.append(o.name(size=True) if o else "nothing")
    return f"What is in the {ROWS[row]} row?", ", ".join(parts)


def _ask_count(scene: Scene, rng: random.Random) -> tuple[str, str]:
    objs, kind = scene.objects, rng.randrange(3)
    if kind == 0:
        q, n, noun = "How many objects are there?", len(objs), "objects"
    elif kind == 1:
        shape = rng.choice(SHAPES)
        q, n, noun = f"How many {_plural(shape)} are there?", sum(o.shape == shape for o in objs), _plural(shape)
    else:
        color = rng.choice(COLOR_NAMES)
        q, n, noun = f"How many {color} objects are there?", sum(o.color == color for o in objs), f"{color} objects"
    return Asked(q, str(n), {"form": "count", "n": n, "noun": noun})


def _ask_exists(scene: Scene, rng: random.Random) -> tuple[str, str]:
    color, shape, yes = exists_target(scene.objects, rng)
    return Asked(f"Is there {_a(color)} {color} {shape}?", "yes" if yes else "no",
                 exists_facts(scene.objects, color, shape, yes))


def exists_facts(objs: list[Obj], color: str, shape: str, yes: bool) -> dict:
    """Facts of a yes/no answer; a yes names a place only when one object fits."""
    fits = [o for o in objs if (o.color, o.shape) == (color, shape)]
    return {"form": "exists", "yes": yes, "color": color, "shape": shape,
            "pos": fits[0].position if len(fits) == 1 else ""}


def _unique(objs, o) -> bool:
    return sum(p.color == o.color and p.shape == o.shape for p in objs) == 1


def _ask_attribute(scene: Scene, rng: random.Random) -> tuple[str, str]:
    objs = scene.objects
    shapes, colors = [o.shape for o in objs], [o.color for o in objs]
    options = []
    for o in objs:
        color = {"form": "attribute", "value": o.color, "subject": o.shape}
        shape = {"form": "shape", "value": o.shape}
        if shapes.count(o.shape) == 1:
            options.append(Asked(f"What color is the {o.shape}?", o.color, color))
        if colors.count(o.color) == 1:
            options.append(Asked(f"What shape is the {o.color} object?", o.shape, shape))
        options.append(Asked(f"What color is the object at the {o.position}?", o.color, color))
        options.append(Asked(f"What shape is at the {o.position}?", o.shape, shape))
        if _unique(objs, o):
            options.append(Asked(f"What size is the {o.color} {o.shape}?", o.size,
                                 {"form": "attribute", "value": o.size, "subject": f"{o.color} {o.shape}"}))
    return rng.choice(options)


def _ask_position(scene: Scene, rng: random.Random) -> tuple[str, str]:
    objs = scene.objects
    options = [Asked(f"Where is the {o.color} {o.shape}?", o.position, {"form": "position", "pos": o.position})
               for o in objs if _unique(objs, o)]
    if not options:  # every object has a twin: ask for the first one of them
        options.append(Asked(f"Where is the first {objs[0].color} {objs[0].shape}?", objs[0].position,
                             {"form": "position", "pos": objs[0].position}))
    return rng.choice(options)


def _ask_ocr(scene: Scene, rng: random.Random) -> tuple[str, str]:
    words = scene.words
    text = " ".join(w for _, w, _ in words)
    if len(words) == 1:
        q = "What word is written?" if rng.random() < 0.5 else "Read the text."
        return Asked(q, text, {"form": "words", "text": text})
    kind = rng.randrange(3)
    if kind == 0:
        return Asked("Read the text.", text, {"form": "words", "text": text})
    if kind == 1:
        row, word, _ = rng.choice(words)
        return Asked(f"What word is written at the {ROWS[row]}?", word, {"form": "words", "text": word})
    return Asked("How many words are written?", str(len(words)), {"form": "count", "n": len(words), "noun": "words"})


def _ask_chart(scene: Scene, rng: random.Random) -> tuple[str, str]:
    bars = scene.bars
    kind = rng.randrange(4)
    if kind == 0:
        label, value, _ = rng.choice(bars)
        return Asked(f"What is the value of {label}?", str(value), {"form": "bar_value", "label": label, "value": str(value)})
    if kind in (1, 2):
        most = "tallest" if kind == 1 else "shortest"
        label = (max if kind == 1 else min)(bars, key=lambda b: b[1])[0]
        return Asked(f"Which bar is the {most}?", label, {"form": "bar_label", "label": label, "superlative": most})
    return Asked("Describe the chart.", chart_answer(bars), {"form": "chart"})


_ASKERS = {  # category -> (scene, rng) -> (question, answer)
    "describe": lambda scene, rng: Asked("Describe the image.", describe_answer(scene.objects), {"form": "describe"}),
    "structured": lambda scene, rng: Asked("List the objects as JSON.", structured_answer(scene.objects),
                                           {"form": "structured"}),
    "cells": _ask_cells, "count": _ask_count, "exists": _ask_exists, "attribute": _ask_attribute,
    "position": _ask_position, "ocr": _ask_ocr, "chart": _ask_chart,
}


# ------------------------------------------------------------------ samples


def make_scene(rng: random.Random, category: str, n_objects: Optional[int] = None) -> Scene:
    kind = SCENE_KIND[category]
    if kind == "text":
        return random_text_scene(rng)
    if kind == "chart":
        return random_chart_scene(rng)
    limit = MAX_LIST_OBJECTS if category in ("describe", "structured") else MAX_OBJECTS
    if n_objects is not None:
        n_objects = min(n_objects, limit)
    return random_objects_scene(rng, n_objects=n_objects, max_objects=limit)


def make_sample(seed: int, category: Optional[str] = None, n_objects: Optional[int] = None) -> Sample:
    """The sample of `seed` (deterministic). `category` None: drawn from CATEGORIES by the seed."""
    if category is not None and category not in ALL_CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(ALL_CATEGORIES)}, got {category!r}")
    rng = random.Random(int(seed) * 1_000_003 + 17)
    if category is None:
        category = rng.choice(CATEGORIES)
    scene = make_scene(rng, category, n_objects)
    question, answer = ask(scene, category, rng)
    return Sample(render(scene), question, answer, category, int(seed), scene)


def split_seeds(split: str, n: int, start: int = 0) -> list[int]:
    """`n` seeds of `split` ("train" or "eval"); the ranges never overlap."""
    if split not in SPLIT_BASE:
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
    if n < 0 or start < 0 or start + n > SPLIT_SIZE:
        raise ValueError(f"seeds [{start}, {start + n}) lie outside the split's [0, {SPLIT_SIZE})")
    base = SPLIT_BASE[split]
    return list(range(base + start, base + start + n))


def split_of(seed: int) -> str:
    for name, base in SPLIT_BASE.items():
        if base <= seed < base + SPLIT_SIZE:
            return name
    raise ValueError(f"seed {seed} is in no split")


def corpus(n: int = 4000, seed: int = 0) -> list[str]:
    """Text of the world (questions, answers and the closed vocabulary) for training a tokenizer."""
    lines = []
    for s in range(seed, seed + n):
        for cat in ALL_CATEGORIES:
            rng = random.Random(s * 7919 + ALL_CATEGORIES.index(cat))
            scene = make_scene(rng, cat)
            q, a = ask(scene, cat, rng)
            lines.append(q)
            lines.append(a)
    vocab = list(SHAPES) + [_plural(s) for s in SHAPES] + list(COLOR_NAMES) + list(SIZES) + list(POSITIONS)
    vocab += list(ROWS) + list(WORDS) + list(BAR_LABELS) + [str(i) for i in range(10)] + ["yes", "no", "nothing"]
    lines.append(" ".join(vocab))
    return lines


def write_examples(folder: str = "assets/examples") -> list[str]:
    """Save example PNGs (scenes, words, charts) and an index.json of their questions; returns the paths."""
    os.makedirs(folder, exist_ok=True)
    paths, index = [], []
    plan = [("describe", 2), ("count", 5), ("position", 3), ("exists", 1), ("ocr", None), ("ocr", None),
            ("chart", None), ("chart", None)]
    for i, (cat, n_obj) in enumerate(plan):
        seed = SPLIT_BASE["eval"] + SPLIT_SIZE - 1 - i  # far from the seeds evaluation uses
        s = make_sample(seed, cat, n_objects=n_obj)
        name = f"{s.scene.kind}_{i}.png"
        path = os.path.join(folder, name)
        s.image.save(path)
        paths.append(path)
        index.append({"file": name, "category": cat, "question": s.question, "answer": s.answer})
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    return paths


if __name__ == "__main__":  # pragma: no cover
    import sys

    print("\n".join(write_examples(sys.argv[1] if len(sys.argv) > 1 else "assets/examples")))
