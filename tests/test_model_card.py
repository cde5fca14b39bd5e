"""A model's card comes from the file beside its weights (`dimple.card`); the library imports no model's world.

Dimple-Tiny writes its card (`dimple.tiny.card.write_card`); the shipped file must be what Tiny would write now,
so the card the studio shows cannot drift from Tiny's code or its evaluation.
"""

import json

import pytest

from dimple.card import CARD_FILE, ModelCard, general_card, load_hook, read_card
from dimple.loading import ASSETS
from dimple.tiny import card as tiny_card

SHIPPED = ASSETS / "dimple-tiny"


def test_the_shipped_card_file_is_what_tiny_writes_now():
    # if this fails: python -m dimple.tiny.card assets/dimple-tiny
    assert read_card(SHIPPED, "tiny") == ModelCard(**tiny_card.card_fields(SHIPPED))


def test_a_written_card_reads_back_equal(tmp_path):
    tiny_card.write_card(tmp_path)
    card = read_card(tmp_path, str(tmp_path))
    assert card == ModelCard(**tiny_card.card_fields(tmp_path))
    assert card.name == "Dimple-Tiny" and card.needs_image and isinstance(card.suggestions, tuple)


def test_a_folder_without_a_card_gets_the_general_card(tmp_path):
    card = read_card(tmp_path, "rp-yu/Dimple-7B")
    assert card == general_card("rp-yu/Dimple-7B")
    assert card.name == "Dimple-7B" and card.scenes is None and not card.needs_image


def test_a_partial_card_overrides_the_general_one(tmp_path):
    (tmp_path / CARD_FILE).write_text(json.dumps({"name": "Mine", "system": None, "defaults": {"steps": 8}}))
    card = read_card(tmp_path, str(tmp_path))
    assert (card.name, card.system, card.defaults["steps"]) == ("Mine", None, 8)
    assert card.defaults["max_new_tokens"] == general_card("x").defaults["max_new_tokens"]


def test_an_old_kind_only_card_file_names_the_tool_that_rewrites_it(tmp_path):
    (tmp_path / CARD_FILE).write_text(json.dumps({"kind": "tiny"}))
    with pytest.raises(ValueError, match="python -m dimple.tiny.card"):
        read_card(tmp_path, "tiny")


def test_the_scene_generator_a_card_names_draws_a_scene():
    image, question = load_hook(read_card(SHIPPED, "tiny").scenes)(3)
    assert image.size[0] > 0 and question.strip()


@pytest.mark.parametrize("spec", ["os:system", "dimple.card", "dimple.card:", "builtins:print", "dimple.card:CARD_FILE"])
def test_a_card_cannot_name_code_outside_this_distribution_or_a_non_function(spec):
    with pytest.raises(ValueError, match="names"):
        load_hook(spec)
