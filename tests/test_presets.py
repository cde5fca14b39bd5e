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


def test_a_varied_numbered_list_names_the_canonical_objects_in_other_orders_and_words():
    from dimple.tiny import score

    rng, forms_seen = random.Random(4), set()
    scene = next(s for s in (world.random_objects_scene(rng) for _ in range(500)) if len(s.objects) >= 4)
    template = presets.PRESETS["Numbered list"].template
    canonical = presets.filled_text(template, presets.sample(scene, random.Random(0), name="Numbered list")[3])
    for seed in range(40):
        fills = presets.sample(scene, random.Random(seed), name="Numbered list", vary=True)[3]
        text = presets.filled_text(template, fills)
        assert score.same_meaning(text, canonical), text
        forms_seen.add(text)
    assert len(forms_seen) >= 5  # orders and synonyms: the list has choices to resolve
    assert all(presets.filled_text(template, presets.sample(scene, random.Random(s), name="Numbered list")[3])
               == canonical for s in range(10))  # unvaried (the evaluation's expected text): always one form
