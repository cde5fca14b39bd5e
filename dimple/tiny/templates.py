"""Structure priors a visitor writes: templates drawn from a grammar, some shapes held out (Tiny 3).

Owns the shapes of template Tiny 3 is trained to fill beyond the app's
presets (`presets.py`): JSON objects whose keys are positions, colours or
fixed words; numbered and bulleted lists of 1-6 items; answer prefixes;
sentences with blanks. Each shape says which question kinds (dialogue.py)
it suits and builds, for a scene and a question, the template text (in the
syntax of `dimple/structure.py`, one `<mask>` per slot) and the filling of
every slot. Slots are resized by `slot_lengths`: from 1 to twice the
filling, so that padding lands inside slots of every length (the elastic
slots) and a short slot holds the start of its filling.

Shapes whose split is "heldout" never reach training; the visitor
evaluation fills them (a visitor's own template). It knows nothing of
tokenizers or models.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Callable, Optional

from . import dialogue as D
from . import world as W
from .presets import SHORT_KINDS, draw

SLOT = "<mask>"
MAX_ITEMS = 6  # the longest list a shape draws
SHORT_SLOT_SHARE = 0.1  # share of slots drawn shorter than their filling (they hold its start)


@dataclass(frozen=True)
class Shape:
    split: str  # "train" or "heldout": a held-out shape never reaches training
    kinds: tuple[str, ...]  # question kinds (dialogue.py) it suits
    build: Callable[[W.Scene, D.Turn, random.Random], Optional[tuple[str, list[str]]]]  # (template, fillings)


def _item(o: W.Obj) -> str:
    return f"{o.position}: {o.name(size=True)}"


def _json(keys: list[str], fills: list[str]) -> tuple[str, list[str]]:
    body = ", ".join(f"{json.dumps(k)}: \"{SLOT}\"" for k in keys)
    return "{" + body + "}<eos>", fills


def _json_positions(scene, turn, rng):
    """{"top left": "<mask>", ...}: the objects' cells (now and then an empty one), in any order."""
    cells = [o.cell for o in scene.objects]
    if rng.random() < 0.3:
        cells.append(rng.choice([c for c in range(9) if c not in cells] or cells))
    cells = rng.sample(cells, rng.randint(1, len(cells)))
    by_cell = {o.cell: o.name() for o in scene.objects}
    return _json([W.POSITIONS[c] for c in cells], [by_cell.get(c, "nothing") for c in cells])


def _json_colors(scene, turn, rng):
    """{"red": "<mask>", ...}: colours that one object has, each filled with its shape."""
    colors = [o.color for o in scene.objects]
    unique = [o for o in scene.objects if colors.count(o.color) == 1]
    if not unique:
        return None
    picked = rng.sample(unique, rng.randint(1, len(unique)))
    return _json([o.color for o in picked], [o.shape for o in picked])


FIELDS = {"color": lambda o: o.color, "shape": lambda o: o.shape, "size": lambda o: o.size,
          "position": lambda o: o.position}


def _json_fields(scene, turn, rng):
    """{"shape": "<mask>", "color": "<mask>"}: fixed words about the object a question points at."""
    o = next((o for o in scene.objects if o.cell == turn.about.get("cell")), None)
    if o is None:
        return None
    keys = rng.sample(tuple(FIELDS), rng.randint(1, len(FIELDS)))
    return _json(keys, [FIELDS[k](o) for k in keys])


def _list(marker: Callable[[int], str]):
    """A list of 1-6 items, each an object in reading order, "nothing" past the last."""
    def build(scene, turn, rng):
        n = rng.randint(1, MAX_ITEMS)
        items = [_item(o) for o in scene.objects[:n]] + ["nothing"] * max(0, n - len(scene.objects))
        return "\n".join(f"{marker(i + 1)}{SLOT}" for i in range(n)) + "<eos>", items
    return build


def _prefix(text: str):
    def build(scene, turn, rng):
        end = rng.choice((".<eos>", "<eos>"))
        return f"{text}{SLOT}{end}", [turn.answer]
    return build


BLANKS = {  # question kind -> sentence frames with one blank; {x} is the referent the question named
    "count_all": ("There are {slot} objects.", "I count {slot}."),
    "count_shape": ("There are {slot} {x}s.", "Number: {slot}."),
    "color_of_shape": ("The {x} is {slot}.", "Its color is {slot}."),
    "position_of_shape": ("The {x} is at the {slot}.", "It is in the {slot}."),
    "position": ("It is at the {slot}.", "Position: {slot}."),
}


def _blank(scene, turn, rng):
    o = next((o for o in scene.objects if o.cell == turn.about.get("cell")), None)
    x = turn.about.get("shape") or (o.shape if o else "")
    frame = rng.choice(BLANKS[turn.kind])
    return frame.format(slot=SLOT, x=x) + "<eos>", [turn.answer]


SHAPES: dict[str, Shape] = {
    "json_positions": Shape("train", ("structured", "describe"), _json_positions),
    "json_colors": Shape("train", ("structured",), _json_colors),
    "json_fields": Shape("train", ("object_at", "color_at", "shape_at"), _json_fields),
    "numbered": Shape("train", ("describe",), _list(lambda i: f"{i}. ")),
    "dashed": Shape("train", ("describe",), _list(lambda i: "- ")),
    "answer_prefix": Shape("train", SHORT_KINDS, _prefix("Answer: ")),
    "blank_sentence": Shape("train", tuple(BLANKS), _blank),
    # held out: a visitor's own shapes, never trained
    "paren_numbered": Shape("heldout", ("describe",), _list(lambda i: f"{i}) ")),
    "starred": Shape("heldout", ("describe",), _list(lambda i: "* ")),
    "result_prefix": Shape("heldout", SHORT_KINDS, _prefix("Result: ")),
}


def slot_lengths(fill_lengths: list[int], rng: random.Random, at_least_filling: bool = False) -> list[int]:
    """A length for each slot: from its filling's length to twice it, now and then shorter."""
    out = []
    for n in fill_lengths:
        if not at_least_filling and n > 1 and rng.random() < SHORT_SLOT_SHARE:
            out.append(rng.randint(1, n - 1))
        else:
            out.append(rng.randint(max(1, n), max(1, 2 * n)))
    return out


def sample(scene: W.Scene, rng: random.Random, split: str = "train", name: Optional[str] = None):
    """(shape name, template with one-token slots, question turn, fillings) of `split`, or None."""
    shapes = {n: s for n, s in SHAPES.items() if s.split == split}
    return draw(shapes, scene, rng, split, name, lambda shape, sc, turn, r: shape.build(sc, turn, r))
