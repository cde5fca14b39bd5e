"""Structure priors Dimple-Tiny 2 is trained to fill: the app's presets and elastic slots.

Owns the preset templates (in the template syntax of `dimple/structure.py`),
which questions each suits, and each preset's filling for a scene: the text
that goes into every slot. A slot may be longer than its filling: beyond the
paper, whose padding sits only after the answer, Tiny 2 is trained with
`<|endoftext|>` pads inside the answer, where a template's extra slot
positions are, so a visitor never has to count tokens ("elastic slots"). The
pads are never shown in the answer's text.

It knows the world's scenes and the question phrasings; tokenizing a template
and its fillings is the training data's job.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Callable, Optional

from . import dialogue as D
from . import forms
from . import world as W

SHORT_KINDS = ("count_all", "count_shape", "count_color", "exists", "color_of_shape", "shape_of_color", "color_at",
               "shape_at", "size", "position", "ocr_row", "ocr_count", "chart_value", "chart_tallest",
               "chart_shortest")


@dataclass(frozen=True)
class Preset:
    template: str  # structure-prior template; <mask:N> slots are elastic
    kinds: tuple[str, ...]  # question kinds (dialogue.py) the preset suits
    # the filling of each slot, in order; given a generator, in one of its valid forms (training), else canonical
    fills: Callable[[W.Scene, D.Turn, Optional[random.Random]], Optional[list[str]]]
    example: str  # a question to show next to it


def _answer(scene, turn, rng):
    return [turn.answer]


def _object(scene, turn) -> Optional[W.Obj]:
    cell = turn.about.get("cell")
    return next((o for o in scene.objects if o.cell == cell), None)


def _color_shape(scene, turn, rng):
    o = _object(scene, turn)
    return o and [o.color, o.shape]


def _json_object(scene, turn, rng):
    o = _object(scene, turn)
    return o and [o.color, o.shape, o.size]


def _numbered(scene, turn, rng):
    """The scene's first three objects in reading order; varied, they come in any of a description's orders
    and with its synonyms ("upper left: large red circle"), so the list has choices to resolve like any
    description, and the scorer reads it as a set (`score.numbered_items`)."""
    objs = scene.objects[:3]
    if rng is None:
        items = [f"{o.position}: {o.name(size=True)}" for o in objs]
    else:
        v = forms.voice(rng)
        items = [f"{forms.position_words(o.position, v)}: {forms.thing(o, v, article=False)}" for o in forms.ordered(objs, v)]
    return items + ["nothing"] * (3 - len(objs))


PRESETS: dict[str, Preset] = {
    "Answer: …": Preset("Answer: <mask:6>.<eos>", SHORT_KINDS, _answer, "How many circles are there?"),
    "Fixed length (8 slots)": Preset("<mask:8><eos>", SHORT_KINDS, _answer, "Where is the red circle?"),
    "Color and shape": Preset("Color: <mask:3>. Shape: <mask:3>.<eos>", ("object_at",), _color_shape,
                              "What is at the center?"),
    "JSON object": Preset('{"color": "<mask:3>", "shape": "<mask:3>", "size": "<mask:3>"}<eos>', ("object_at",),
                          _json_object, "What is at the top left?"),
    "Numbered list": Preset("1. <mask:8>\n2. <mask:8>\n3. <mask:8><eos>", ("describe",), _numbered,
                            "Describe the image."),
}


def _rewrite(template: str, slot, eos: str) -> str:
    """`template` with its text kept, each slot k replaced by slot(k, count) and each <eos> by `eos`."""
    from dimple.structure import parse_template

    out, k = [], 0
    for seg in parse_template(template):
        if seg.kind == "text":
            out.append(seg.text)
        elif seg.kind == "eos":
            out.append(eos)
        else:
            out.append(slot(k, seg.count))
            k += 1
    return "".join(out)


def filled_text(template: str, fills: list[str]) -> str:
    """What the answer reads once the slots hold `fills` (pads are not shown)."""
    return _rewrite(template, lambda k, _count: fills[k], "")


def with_slot_lengths(template: str, lengths: list[int]) -> str:
    """`template` with its slots resized to `lengths` (training draws slots longer than their fillings)."""
    return _rewrite(template, lambda k, _count: f"<mask:{lengths[k]}>", "<eos>")


def draw(entries: dict, scene: W.Scene, rng: random.Random, split: str, name: Optional[str], build):
    """(name, template, question turn, fillings) for an entry of `entries` (each has `kinds`) that suits the
    scene, or None; `build(entry, scene, turn, rng)` gives (template, fillings) or None. Shared by the presets
    and the template grammar (`templates.sample`)."""
    names = [n for n, e in entries.items() if any(D.KIND_SCENE[k] == scene.kind for k in e.kinds)]
    if name is not None:
        names = [name] if name in names else []
    if not names:
        return None
    name = rng.choice(names)
    entry = entries[name]
    kinds = [k for k in entry.kinds if D.KIND_SCENE[k] == scene.kind]
    for _ in range(10):
        turn = D.ask(scene, rng.choice(kinds), rng, split)
        got = turn and build(entry, scene, turn, rng)
        if got:
            return name, got[0], turn, got[1]
    return None


def _preset_build(preset: Preset, scene: W.Scene, turn: D.Turn, rng: random.Random, vary: bool):
    fills = preset.fills(scene, turn, rng if vary else None)
    return fills and (preset.template, fills)


def sample(scene: W.Scene, rng: random.Random, split: str = "train", name: Optional[str] = None,
           vary: bool = False):
    """(preset name, template, question turn, fillings) for a scene the preset suits, or None; `vary`: the
    fillings in one of their valid forms (training), else the canonical one (the evaluation's expected text)."""
    return draw(PRESETS, scene, rng, split, name, functools.partial(_preset_build, vary=vary))
