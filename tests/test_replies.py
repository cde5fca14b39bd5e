"""Replies outside the world: generated off-world questions stay off the held-out split and the world's words."""

import random
import re

from dimple.tiny import language, replies


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def test_generated_texts_never_hold_a_word_only_heldout_texts_have():
    train = set().union(*(_words(t) for k in replies.TEXTS for t in replies.TEXTS[k]["train"]))
    held = set().union(*(_words(t) for k in replies.TEXTS for t in replies.TEXTS[k]["heldout"]))
    heldout_only = held - train - language.training_words()
    assert {"japan", "spider"} <= heldout_only and not {"does", "have"} & heldout_only
    rng = random.Random(0)
    heldout_texts = {t.lower() for k in replies.TEXTS for t in replies.TEXTS[k]["heldout"]}
    seen = set()
    for _ in range(3000):
        text = replies.generated_text(rng.choice(replies.KINDS), rng)
        seen |= _words(text)
        assert not _words(text) & (heldout_only | language.heldout_words()), text
        assert text.lower().rstrip("?!.") not in {h.rstrip("?!.") for h in heldout_texts}, text
        assert not language.matches_heldout(text), text
    assert {"does", "have"} <= seen  # words training questions have are no sign of a question about the picture


def test_generated_texts_name_nothing_of_the_world():
    rng = random.Random(1)
    for kind, least in (("offworld", 500), ("greeting", 300), ("thanks", 300), ("self", 300)):
        texts = [replies.generated_text(kind, rng) for _ in range(2000)]
        assert len({t.lower() for t in texts}) > least, kind  # a rule to learn, not a list to memorise
        for text in texts:
            assert not _words(text) & language.RESERVED, text


def test_training_offworld_texts_mix_generated_and_listed_ones():
    rng = random.Random(2)
    texts = [replies.text_of("offworld", rng) for _ in range(400)]
    listed = {t.lower() for t in replies.TEXTS["offworld"]["train"]}
    n_listed = sum(t.lower() in listed for t in texts)
    assert 0.2 * len(texts) < n_listed < 0.6 * len(texts)
    heldout_rng = random.Random(3)
    assert {replies.text_of("offworld", heldout_rng, "heldout").lower() for _ in range(100)} <= {
        t.lower() for t in replies.TEXTS["offworld"]["heldout"]}


def test_training_texts_after_an_opener_hold_no_heldout_word():
    assert {"howdy", "quick", "so"} <= language.heldout_vocabulary()
    rng = random.Random(11)
    texts = [replies.text_of("greeting", rng) for _ in range(3000)]
    with_opener = [t for t in texts if re.match(r"^[^,:]+[,:] [^,:]+[,:]? ", t)]
    assert len(with_opener) > 200  # OPENER_RATE puts openers before some texts
    for text in texts:
        assert not _words(text) & language.heldout_vocabulary(), text
