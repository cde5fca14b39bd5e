"""Answer forms (dimple/tiny/forms.py): every form of an answer says its facts, and the scorer reads each back."""

import random

import pytest

from dimple.tiny import dialogue as D
from dimple.tiny import forms as F
from dimple.tiny import world as W
from dimple.tiny.score import description_items, same_meaning


def _turns(n_scenes: int, seed: int = 0):
    rng = random.Random(seed)
    makers = (W.random_objects_scene, W.random_text_scene, W.random_chart_scene)
    for i in range(n_scenes):
        scene = makers[i % 3](rng)
        for turn in D.conversation(scene, rng, n_turns=4):
            yield scene, turn, rng


def test_every_form_of_every_turn_means_its_canonical_answer():
    varied = total = 0
    for scene, turn, rng in _turns(300):
        assert turn.facts.get("form") in F.FORMS, turn.kind
        texts = {F.vary(turn.answer, turn.facts, scene, rng) for _ in range(6)}
        for text in texts:
            assert same_meaning(text, turn.answer), (turn.kind, text, turn.answer)
        varied, total = varied + (len(texts) > 1), total + 1
    assert varied >= 0.9 * total  # answers have many forms, none canonical


def test_every_canonical_category_has_facts_whose_forms_read_back():
    for seed in range(400):
        cat = W.CATEGORIES[seed % len(W.CATEGORIES)]
        rng = random.Random(seed)
        scene = W.make_scene(rng, cat)
        got = W.ask_facts(scene, cat, rng)
        for _ in range(4):
            assert same_meaning(F.vary(got.answer, got.facts, scene, rng), got.answer)


def test_forms_of_one_description_differ_in_order_and_sentence():
    rng = random.Random(3)
    scene = W.random_objects_scene(rng, n_objects=5)
    texts = {F.describe(scene.objects, rng) for _ in range(50)}
    starts = {t.split(" ")[0] for t in texts}
    assert len(texts) >= 40 and len(starts) >= 4
    assert all(description_items(t) == description_items(W.describe_answer(scene.objects)) for t in texts)


@pytest.mark.parametrize("text", [
    "There is a large red circle in the top-left corner and a tiny blue star at the center.",
    "I see two shapes: a tiny blue star (center) and a big red circle (upper left).",
    "A little blue star sits in the center; a big red circle is at the top left.",
    "upper left: large red circle, center: small blue star",
])
def test_the_scorer_accepts_every_description_form_and_order(text):
    assert same_meaning(text, "top left: big red circle, center: small blue star")


@pytest.mark.parametrize("text", [
    "There is a large red circle in the top-left corner and a tiny green star at the center.",  # colour
    "I see three shapes: a tiny blue star (center) and a big red circle (upper left).",  # count prefix
    "A little blue star sits in the center; a big red square is at the top left.",  # shape
    "upper right: large red circle, center: small blue star",  # position
    "A little blue star sits in the center.",  # an object missing
    "There is a big red circle in the top left and a small blue star in the center and a big red circle.",
])
def test_the_scorer_rejects_a_wrong_object_count_colour_or_position(text):
    assert not same_meaning(text, "top left: big red circle, center: small blue star")


@pytest.mark.parametrize("text,expected,ok", [
    ("I count three circles.", "3", True), ("There are no circles.", "0", True), ("There is one star.", "1", True),
    ("I count four circles.", "3", False), ("Yes, there is a red star in the upper-left corner.", "yes", True),
    ("No, I don't see a red star.", "no", True), ("Yes, there is a red star.", "no", False),
    ("The star is blue.", "blue", True), ("It is blue.", "red", False), ("It is large.", "big", True),
    ("It is tiny.", "big", False), ("It is in the top-left corner.", "top left", True),
    ("At the lower right.", "bottom right", True), ("At the lower left.", "bottom right", False),
    ("It is a star.", "star", True), ("I see a large red circle there.", "big red circle", True),
    ("There is a small red circle.", "big red circle", False), ("It says cat dog.", "cat dog", True),
    ("Bar B is the tallest.", "B", True), ("C is the tallest.", "B", False), ("B is 5.", "5", True),
    ("A is 3, B is 5 and C is 2.", "A: 3, B: 5, C: 2", True), ("A is 3, B is 6 and C is 2.", "A: 3, B: 5, C: 2", False),
])
def test_the_scorer_reads_short_answers_in_every_form(text, expected, ok):
    assert same_meaning(text, expected) is ok


@pytest.mark.parametrize("text,expected,ok", [
    ("No, there is nothing red.", "no", True), ("No, nothing is red.", "no", True),
    ("Yes, the star is red.", "yes", True), ("Yes, there are red shapes.", "yes", True),
    ("Yes, nothing is red.", "yes", True),  # the tail reads; the yes is what is scored
    ("The big red circle (top left) and the big blue star in the center.",
     "top left: big red circle, center: big blue star", True),
    ("the big red circle (top left)", "top left: big red circle, center: big blue star", False),
    ("the big red circle (top right) and the big blue star in the center",
     "top left: big red circle, center: big blue star", False),
])
def test_the_scorer_reads_tiny3_kinds_anything_coloured_and_comparisons(text, expected, ok):
    assert same_meaning(text, expected) is ok


def test_every_form_of_an_honest_reply_is_its_reply_and_no_other_kinds():
    from dimple.tiny import replies

    for reply, forms in replies.REPLY_FORMS.items():
        assert forms[0] == reply and len(forms) >= 2
        for form in forms:
            assert same_meaning(form, reply)
            assert not any(same_meaning(form, other) for other in replies.REPLY_FORMS if other != reply)
