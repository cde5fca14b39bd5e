"""Scoring by meaning: every valid phrasing and order passes, a wrong answer fails."""

from dimple.tiny import replies, score


DESC = "top left: big red circle, center: small blue star, bottom right: big green square"


def test_a_description_passes_in_any_order_and_either_phrasing():
    assert score.same_meaning(DESC, DESC)
    assert score.same_meaning("bottom right: big green square, top left: big red circle, center: small blue star", DESC)
    assert score.same_meaning("a small blue star in the center, a big red circle at the top left and "
                              "a big green square at the bottom right.", DESC)


def test_a_description_with_a_wrong_or_missing_object_fails():
    assert not score.same_meaning("top left: big red circle, center: small blue star", DESC)
    assert not score.same_meaning("top left: big red circle, center: small blue star, bottom right: big green star",
                                  DESC)
    assert not score.same_meaning(DESC + ", top center: small red star", DESC)


def test_json_is_compared_as_a_mapping():
    want = '{"top left": "red circle", "center": "blue star"}'
    assert score.same_meaning('{"center": "blue star", "top left": "red circle"}', want)
    assert not score.same_meaning('{"center": "blue star", "top left": "red square"}', want)
    assert not score.same_meaning('{"center": "blue star", "top left": "red circle"', want)


def test_numbers_yes_no_and_words_are_read_by_meaning():
    assert score.same_meaning("two", "2") and score.same_meaning("2.", "2")
    assert not score.same_meaning("3", "2")
    assert score.same_meaning("Yes, there is.", "yes") and not score.same_meaning("no", "yes")
    assert score.same_meaning("Top-Left", "top left") and not score.same_meaning("top right", "top left")
    assert score.same_meaning("B: 3, A: 5, C: 1", "A: 5, B: 3, C: 1")
    assert not score.same_meaning("A: 5, B: 4, C: 1", "A: 5, B: 3, C: 1")


def test_a_yes_or_no_may_carry_a_confirmation_but_not_a_garbled_tail():
    assert score.same_meaning("no, there are no red stars", "no")
    assert score.same_meaning("Yes, I see one.", "yes")
    assert not score.same_meaning("yes only drawn world", "yes")
    assert not score.same_meaning("yes, bottom right", "yes")


def test_a_reply_outside_the_world_must_be_its_kind():
    assert score.same_meaning(replies.REPLIES["greeting"], replies.REPLIES["greeting"])
    assert not score.same_meaning(replies.REPLIES["thanks"], replies.REPLIES["greeting"])
    assert not score.same_meaning("", replies.REPLIES["greeting"])


def test_a_fluent_mix_of_a_replys_forms_is_that_reply_and_a_stray_or_missing_word_is_not():
    self_reply, offworld = replies.REPLIES["self"], replies.REPLIES["offworld"]
    mixed = "I'm Dimple-Tiny. I can describe, count and find shapes, read words and read bar charts."
    assert mixed not in replies.REPLY_FORMS[self_reply]  # a mix, not one of the forms
    assert score.same_meaning(mixed, self_reply)
    assert not score.same_meaning("Hello there moon Ask me anything about the shapes, words or charts in the "
                                  "picture.", replies.REPLIES["greeting"])  # a stray word
    assert not score.same_meaning("I only know my drawn world: shapes, words and bar charts.", offworld)  # missing
    assert not score.same_meaning(replies.NONWORLD_IMAGE, offworld)  # another kind's reply
    assert not score.same_meaning(offworld, replies.NONWORLD_IMAGE)
    assert not score.same_meaning("I only know my my drawn world: shapes, colours, positions, words and bar "
                                  "charts.", offworld)  # a stutter


def test_naming_a_coloured_shape_counts_as_inventing_objects():
    assert score.invents_objects("top left: big red circle")
    assert score.invents_objects("I see a blue star.")
    assert not score.invents_objects(replies.NONWORLD_IMAGE)


def test_a_numbered_list_of_objects_is_read_as_a_set_in_any_order_and_words():
    expected = "1. top left: big red circle\n2. center: small blue star\n3. nothing"
    assert score.same_meaning("1. center: tiny blue star\n2. upper left: large red circle\n3. nothing", expected)
    assert not score.same_meaning("1. top left: big red circle\n2. center: small red star\n3. nothing", expected)
    assert not score.same_meaning("1. top left: big red circle\n2. nothing\n3. nothing", expected)
    assert not score.same_meaning("1. top left: big red circle\n2. center: small blue star\n3. center: small blue star",
                                  expected)
    # a numbered list of something else than objects is still read word for word
    assert score.numbered_items("1. hello\n2. world") is None
    assert score.same_meaning("1. hello\n2. world", "1. hello\n2. world")
