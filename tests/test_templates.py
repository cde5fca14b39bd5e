"""The template grammar (dimple/tiny/templates.py): shapes that parse, elastic slot lengths, held-out shapes kept out."""

import random
import re

import pytest
from transformers import AutoTokenizer

from dimple.structure import parse_template
from dimple.tiny import presets, templates, world
from dimple.tiny.data import WorldData
from dimple.tiny.train import TrainConfig

from conftest import TOKENIZER_DIR

# What marks each held-out shape in a template's text.
HELDOUT_MARKS = {"paren_numbered": re.compile(r"(^|\n)1\) "), "starred": re.compile(r"(^|\n)\* "),
                 "result_prefix": re.compile(r"^Result: ")}


def _scenes(n, seed=0):
    rng = random.Random(seed)
    makers = (world.random_objects_scene, world.random_objects_scene, world.random_text_scene, world.random_chart_scene)
    return [(makers[i % 4](rng), rng) for i in range(n)]


def test_every_heldout_shape_has_a_mark_and_the_split_is_as_declared():
    assert {n for n, s in templates.SHAPES.items() if s.split == "heldout"} == set(HELDOUT_MARKS)
    for scene, rng in _scenes(300):
        got = templates.sample(scene, rng, "heldout")
        if got is not None:
            assert HELDOUT_MARKS[got[0]].search(got[1]), got


def test_the_grammars_heldout_shapes_never_reach_training():
    data = WorldData(TrainConfig(pool_per_kind=8, vision_warmup_steps=0, curriculum_steps=0),
                     AutoTokenizer.from_pretrained(TOKENIZER_DIR))
    seen = set()
    for _ in range(600):
        scene = data.pools[data.rng.choice(list(data.pools)[:6])].scenes[0]
        got = data._ask("template", scene, "full")
        if got is None:
            continue
        template = got[2][0]
        seen.add(template.split("<mask>")[0][:3])
        assert not any(mark.search(template) for mark in HELDOUT_MARKS.values()), template
    assert len(seen) >= 5  # several training shapes were drawn


def test_every_shape_builds_a_template_that_parses_with_one_filling_per_slot():
    built = set()
    for scene, rng in _scenes(400):
        for split in ("train", "heldout"):
            got = templates.sample(scene, rng, split)
            if got is None:
                continue
            name, template, turn, fills = got
            slots = [s for s in parse_template(template) if s.kind == "mask"]
            assert len(slots) == len(fills) and all(fills), (name, template)
            built.add(name)
    assert built == set(templates.SHAPES)


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_slot_lengths_run_from_one_to_twice_the_filling(n):
    rng = random.Random(n)
    lengths = [templates.slot_lengths([n], rng)[0] for _ in range(400)]
    assert min(lengths) >= 1 and max(lengths) <= 2 * n
    assert max(lengths) > n  # padding lands inside the slot
    if n > 1:
        assert min(lengths) < n  # a short slot holds the start of its filling
    assert all(k >= n for k in (templates.slot_lengths([n], rng, at_least_filling=True)[0] for _ in range(100)))


def test_the_browser_json_template_is_a_training_shape():
    # issue 31: {"top center": "<mask:5>", "top right": "<mask:5>"}<eos> with "List the objects as JSON." broke Tiny 2
    rng = random.Random(0)
    scene = world.Scene("objects", objects=[world.Obj("circle", "yellow", "big", 1), world.Obj("star", "red", "small", 2)])
    shapes = set()
    for _ in range(200):
        got = templates.sample(scene, rng, "train", "json_positions")
        shapes.add(got[1])
    assert '{"top center": "<mask>", "top right": "<mask>"}<eos>' in shapes
    assert presets.filled_text('{"top center": "<mask>", "top right": "<mask>"}<eos>',
                               ["yellow circle", "red star"]) == '{"top center": "yellow circle", "top right": "red star"}'
