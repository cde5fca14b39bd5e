"""Dimple-Tiny's card: its measured sentences come from the evaluation JSON shipped beside the weights."""

import copy
import json

import pytest

from dimple.loading import ASSETS
from dimple.tiny import card

SHIPPED = ASSETS / "dimple-tiny"


@pytest.fixture(scope="module")
def shipped_eval():
    return json.loads((SHIPPED / card.EVAL_FILE).read_text())


def test_the_cards_figures_equal_the_shipped_evaluation_json(shipped_eval):
    text = card.card_fields(SHIPPED)["about"]
    visitor = shipped_eval["visitor"]
    assert f"{visitor['accuracy']:.0%} of {visitor['n']}" in text
    weakest = sorted(visitor["per_class"].items(), key=lambda kv: kv[1])[:3]
    for klass, share in weakest:
        assert f"{card.CLASS_WORDS.get(klass, klass)} {share:.0%}" in text
    assert f"{shipped_eval['tokens_per_forward']:.1f} tokens per forward pass" in text
    if "probe" in shipped_eval:
        assert f"{shipped_eval['probe']['pooled']:.0%} of {shipped_eval['probe']['n']}" in text


def test_the_figures_follow_the_json_when_it_changes(shipped_eval):
    ev = copy.deepcopy(shipped_eval)
    ev["visitor"]["accuracy"], ev["visitor"]["n"] = 0.5, 40
    ev["probe"] = {"pooled": 0.75, "n": 120}
    text = card.figures(ev)
    assert "about 1 in 2 right (50% of 40)" in text and "about 3 in 4 (75% of 120)" in text
    assert card.figures(shipped_eval) != text


def test_a_card_without_an_evaluation_quotes_no_figures(tmp_path):
    assert "Measured" not in card.card_fields(tmp_path)["about"]
    assert "Measured" in card.card_fields(SHIPPED)["about"]


@pytest.mark.parametrize("share,words", [(0.846, "about 6 in 7"), (0.83, "about 5 in 6"), (0.5, "about 1 in 2"), (0.973, "nearly all"),
                                         (1.0, "all"), (0.3, "about 3 in 10")])
def test_shares_are_said_as_the_nearest_simple_fraction(share, words):
    assert card.in_words(share) == words


def test_the_card_keeps_the_canvas_the_model_was_trained_on(tmp_path):
    """A Tiny 3 run trains on a 96-slot canvas: its exported card says 96, and rewriting the card (after a new
    eval.json) keeps it; a folder without a card gets the settings table's canvas."""
    from dimple.tiny.settings import TINY

    assert card.card_fields(tmp_path)["defaults"]["max_new_tokens"] == TINY.canvas
    card.write_card(tmp_path, canvas=96)
    assert json.loads((tmp_path / "dimple_studio.json").read_text())["defaults"]["max_new_tokens"] == 96
    card.write_card(tmp_path)
    defaults = json.loads((tmp_path / "dimple_studio.json").read_text())["defaults"]
    assert defaults["max_new_tokens"] == 96 and defaults["steps"] == 96
