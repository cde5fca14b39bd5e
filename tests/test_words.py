"""app/words.py: a count and its noun agree in every sentence the studio builds."""

import pytest

from app.words import agree, count, plural


@pytest.mark.parametrize("n, noun, said", [
    (1, "forward pass", "1 forward pass"), (2, "forward pass", "2 forward passes"), (0, "step", "0 steps"),
    (1, "manual step", "1 manual step"), (11, "pass", "11 passes"), (1, "masked position", "1 masked position"),
])
def test_a_count_takes_the_singular_only_at_one(n, noun, said):
    assert count(n, noun) == said


def test_plurals_follow_the_last_word():
    assert plural("forward pass") == "forward passes"
    assert plural("box") == "boxes"
    assert plural("masked position") == "masked positions"


def test_filled_lesson_sentences_agree_and_other_numbers_are_left_alone():
    assert agree("took 1 forward passes; 1 slot(s), then 12 slot(s) in 11 passes, 1 passes") == \
        "took 1 forward pass; 1 slot, then 12 slots in 11 passes, 1 pass"
    assert agree("threshold 0.5 after step 1") == "threshold 0.5 after step 1"


def test_no_view_writes_a_count_of_one_with_a_plural_noun():
    """The sites that used to format "{n} passes" by hand now say "1 pass" for one."""
    from types import SimpleNamespace

    from app.chat.compare import stopped_message
    from app.race.run import verdict

    one = SimpleNamespace(nfe=1, stopped=True)
    assert "1 forward pass," in verdict(None, one, one)
    assert "1 forward passes" not in stopped_message(one, one)
