"""Tiny 2's phrasings: the held-out split is disjoint from training, and training never draws from it."""

import random
import re

from dimple.tiny import dialogue, language, replies, world


def _normal(text: str) -> str:
    text = re.sub(r"\bcolour\b", "color", text.lower())
    for prefix in language.PREFIXES["train"] + language.PREFIXES["heldout"]:
        if prefix and text.startswith(prefix.lower()):
            text = text[len(prefix):]
    return re.sub(r"[^a-z0-9 ]", "", text.replace(" please", "")).strip()


def _frame_pattern(frame: str) -> re.Pattern:
    body = _normal(re.sub(r"\{\w+\}", "slotx", frame))  # lower case: _normal lowers the frame too
    return re.compile("^" + re.escape(body).replace("slotx", "[a-z0-9 ]+?") + "$")


def test_heldout_frames_are_disjoint_from_training_frames():
    for kind, split in language.FRAMES.items():
        train = {_normal(f) for f in split["train"]}
        assert split["heldout"], kind
        assert not train & {_normal(f) for f in split["heldout"]}, kind
    for follow in dialogue.FOLLOW.values():
        assert not {_normal(f) for f in follow["train"]} & {_normal(f) for f in follow["heldout"]}
    for kind, texts in replies.TEXTS.items():
        assert not {t.lower() for t in texts["train"]} & {t.lower() for t in texts["heldout"]}, kind


def test_training_questions_never_match_a_heldout_frame():
    held = [_frame_pattern(f) for k in language.FRAMES for f in language.FRAMES[k]["heldout"]]
    train_frames = [_frame_pattern(f) for k in language.FRAMES for f in language.FRAMES[k]["train"]]
    rng = random.Random(0)
    seen = 0
    for _ in range(600):
        scene = rng.choice((world.random_objects_scene, world.random_text_scene, world.random_chart_scene))(rng)
        for turn in dialogue.conversation(scene, rng, "train"):
            q = _normal(turn.question)
            if any(p.match(q) for p in train_frames):
                seen += 1
                continue  # a training frame can also read like a held-out one only if they were equal
            assert not any(p.match(q) for p in held), turn.question
    assert seen > 500


def test_heldout_words_exist_and_never_reach_a_training_frame():
    words = language.heldout_words()
    assert {"quick"} <= words
    train_text = " ".join(f for k in language.FRAMES for f in language.FRAMES[k]["train"]).lower()
    assert not any(re.search(rf"\b{w}\b", train_text) for w in words)


def test_every_kind_phrases_a_question_that_names_its_slots():
    rng = random.Random(1)
    q = language.phrase("position", rng, "heldout", styled=False, color="red", shape="star")
    assert "red star" in q
    assert language.fill("Is there {a} {color} {shape}?", color="orange", shape="circle") == "Is there an orange circle?"


def test_training_openers_share_no_word_with_heldout_frames_or_prefixes():
    held = language.words_of(f for k in language.FRAMES for f in language.FRAMES[k]["heldout"])
    held |= language.words_of(language.PREFIXES["heldout"])
    train = language.words_of(f for k in language.FRAMES for f in language.FRAMES[k]["train"])
    chatter = language.words_of(language.CHATTER_WORDS)
    assert not chatter & (held - train)
    opener = language.chatter(random.Random(3))
    assert opener.endswith((", ", ": ")) and opener[0].isupper()


def test_noisy_training_questions_keep_their_content_words_and_never_read_as_heldout():
    rng = random.Random(5)
    held = [_frame_pattern(f) for k in language.FRAMES for f in language.FRAMES[k]["heldout"]]
    question = "What is the color of the circle?"  # contracted, it would be the held-out "what's the color of the {shape}"
    outs = [language.noise(question, rng) for _ in range(400)]
    assert sum(o != question for o in outs) > 300
    for out in outs:
        assert {"color", "circle"} <= set(re.findall(r"[a-z]+", out.lower())), out
        assert not any(p.match(_normal(out)) for p in held), out
    assert any("where's" in language.noise("Where is the red star?", rng).lower() for _ in range(50))
    made_up = {language.pseudo_word(rng) for _ in range(2000)}
    assert not made_up & language.RESERVED and not made_up & language.heldout_words()


def test_reworded_training_questions_keep_their_content_words_and_never_read_as_heldout():
    rng = random.Random(7)
    held = [_frame_pattern(f) for k in language.FRAMES for f in language.FRAMES[k]["heldout"]]
    questions = ["How many stars?", "Do you see a red star?", "Count the shapes.", "What color is the circle?"]
    outs = [(q, language.rephrase(q, rng)) for q in questions for _ in range(100)]
    assert sum(q != out for q, out in outs) > 250
    assert any("can you spot" in out.lower() for _, out in outs) and any(" here?" in out for _, out in outs)
    for q, out in outs:
        assert set(re.findall(r"[a-z]+", q.lower())) - {"do", "see"} <= set(re.findall(r"[a-z]+", out.lower())), out
        assert not any(p.match(_normal(out)) for p in held), out
        assert not language.words_of([out]) & language.heldout_words(), out


def test_made_up_openers_are_never_a_world_word_or_a_heldout_word():
    rng = random.Random(13)
    words = {language.made_up_word(rng) for _ in range(5000)}
    assert any(len(w) <= 5 for w in words) and any(w[:2] in ("qu", "br", "st") for w in words)
    assert not words & language.RESERVED
    assert not words & language.heldout_vocabulary()
    assert {"quick", "question", "howdy", "spider"} <= language.heldout_vocabulary()
    openers = [language.chatter(rng) for _ in range(500)]
    made_up = [o for o in openers if not language.words_of([o]) <= language.words_of(language.CHATTER_WORDS)]
    assert 100 < len(made_up) < 450  # about MADE_UP_OPENER_RATE of openers hold a made-up word


def test_a_verb_slot_becomes_a_made_up_word_that_is_never_a_world_or_heldout_word():
    rng = random.Random(11)
    frames = language.FRAMES["describe"]["train"]
    assert any(f.startswith(language.VERB_SLOT) for f in frames)
    known_first = {f.split(" ")[0].lower() for f in frames if not f.startswith(language.VERB_SLOT)}
    verbs = set()
    for _ in range(300):
        q = language.phrase("describe", rng, "train", styled=False)
        assert "{" not in q, q
        if q.split(" ")[0].lower() not in known_first:
            verbs.add(q.split(" ")[0])
    assert len(verbs) > 5 and all(v[0].isupper() for v in verbs)
    assert not {v.lower() for v in verbs} & (language.RESERVED | language.heldout_words())
