"""The world tokenizer: specials are single tokens, text round-trips, the chat template matches the processor."""

import pytest

from dimple.tiny import tokenizer as T
from dimple.tiny import world


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return T.build_tokenizer(str(tmp_path_factory.mktemp("tok")), n_corpus=300)


def test_specials_are_single_tokens(tok):
    ids = T.special_ids(tok)
    assert len(set(ids.values())) == len(ids)
    for name in T.SPECIALS:
        assert len(tok(name, add_special_tokens=False)["input_ids"]) == 1
    assert tok.pad_token == T.PAD and tok.eos_token == T.EOS and tok.mask_token == T.MASK


def test_world_questions_and_answers_decode_back_to_the_same_text(tok):
    for seed in range(60):
        s = world.make_sample(seed)
        for text in (s.question, s.answer):
            ids = tok(text, add_special_tokens=False)["input_ids"]
            assert tok.decode(ids) == text


def test_world_words_are_short(tok):
    for word in world.SHAPES + world.COLOR_NAMES + world.WORDS:
        assert len(tok(" " + word, add_special_tokens=False)["input_ids"]) <= 2


def test_vocabulary_stays_between_300_and_2000_tokens(tok):
    assert 300 <= len(tok) <= 2000


def test_chat_template_matches_processor(tok):
    from dimple.processing import chat_prompt

    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "How many objects are there?"}]}]
    text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert text == chat_prompt("How many objects are there?")


def test_saved_tokenizer_loads(tmp_path):
    from transformers import AutoTokenizer

    T.build_tokenizer(str(tmp_path), n_corpus=100)
    loaded = AutoTokenizer.from_pretrained(str(tmp_path))
    assert loaded.convert_tokens_to_ids(T.MASK) == T.special_ids(loaded)["mask"]
    assert loaded.chat_template
