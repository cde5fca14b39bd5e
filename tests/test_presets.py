"""Tiny 2's presets: every template parses, its fillings fit its slots, and the filled text reads right."""

import random

import pytest
from transformers import AutoTokenizer

from dimple.structure import parse_template
from dimple.tiny import presets, world

from conftest import TOKENIZER_DIR


@pytest.mark.parametrize("name", list(presets.PRESETS))
def test_every_preset_has_a_filling_that_fits_its_slots(name):
    tok = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    preset = presets.PRESETS[name]
    slots = [seg.count for seg in parse_template(preset.template) if seg.kind == "mask"]
    rng = random.Random(0)
    filled = 0
    for _ in range(200):
        scene = rng.choice((world.random_objects_scene, world.random_text_scene, world.random_chart_scene))(rng)
        got = presets.sample(scene, rng, name=name)
        if got is None:
            continue
        fills = got[3]
        assert len(fills) == len(slots)
        for text, room in zip(fills, slots):
            assert len(tok(text, add_special_tokens=False)["input_ids"]) <= room, (name, text)
        filled += 1
    assert filled >= 50


def test_the_filled_text_keeps_the_template_and_drops_the_end():
    t = presets.PRESETS["JSON object"].template
    assert presets.filled_text(t, ["red", "star", "big"]) == '{"color": "red", "shape": "star", "size": "big"}'
    assert presets.with_slot_lengths(t, [1, 2, 3]).count("<mask:") == 3
