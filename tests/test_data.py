"""Tiny's training batches: conversations in the chat format, elastic-slot presets, and no held-out text."""

import random

import pytest
from transformers import AutoTokenizer

from dimple.processing import encode_prompt
from dimple.tiny import dialogue, forms, world
from dimple.tiny.data import Item, WorldData
from dimple.tiny.settings import image_processor
from dimple.tiny.train import TrainConfig

from conftest import TOKENIZER_DIR


@pytest.fixture(scope="module")
def data():
    tok = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    cfg = TrainConfig(pool_per_kind=8, vision_warmup_steps=0, curriculum_steps=0)
    return WorldData(cfg, tok)


def test_multi_turn_prompts_match_the_chat_format_the_assistant_encodes(data):
    rng = random.Random(3)
    scene = world.random_objects_scene(rng, n_objects=4)
    turns = dialogue.conversation(scene, rng, n_turns=4)
    history = [(t.question, t.answer) for t in turns[:-1]]
    want = encode_prompt(data.tok, image_processor(), turns[-1].question, world.render(scene), history=history)
    assert data.prompt_ids(turns[-1].question, history) == want["input_ids"][0].tolist()
    assert len(history) == 3


def test_a_preset_sample_pads_its_slots_and_leaves_the_template_unsupervised(data):
    template, fills = "Color: <mask:5>. Shape: <mask:5>.<eos>", ["red", "star"]
    for _ in range(10):
        ids, fixed = data.template_response(template, fills)
        text = data.tok.decode([i for i in ids if i != data.ids["pad"]], skip_special_tokens=True)
        assert text == "Color: red. Shape: star."
        assert data.ids["pad"] in ids  # the slots are longer than their fillings
        assert ids[-1] == data.ids["eos"] and len(ids) - 1 in fixed
        assert all(ids[k] != data.ids["pad"] for k in fixed)
    batch = data.collate([Item(list(range(5)) + ids, 5, data.pools["objects1"].images[0], "preset", [0] * 45, fixed,
                               [])])
    sup = batch["labels_mask"][0].nonzero().flatten().tolist()
    assert sup and not set(sup) & {5 + k for k in fixed}


def test_training_draws_every_visitor_category_its_mix_weighs(data):
    cats = {data.draw(10)[0] for _ in range(400)}
    weighed = {c for c in WorldData.VISITOR_CATEGORIES if data.mix[c] > 0}
    assert len(weighed) >= 6 and weighed <= cats
    assert "size" not in cats  # off by default, so earlier runs' commands draw as they did


def test_busy_share_draws_busy_pictures_for_describe_and_json_only():
    from dimple.tiny import data as D

    tok = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    top = world.MAX_OBJECTS

    def busy_rates(share: float) -> dict:
        d = WorldData(TrainConfig(pool_per_kind=2, vision_warmup_steps=0, curriculum_steps=0, busy_share=share), tok)
        counts: dict = {}
        for _ in range(6000):
            cat, pool = d._category("full")
            if pool.startswith("objects"):
                counts.setdefault(cat, []).append(int(pool[len("objects"):]) > top - D.BUSY_SPAN)
        return {c: sum(v) / len(v) for c, v in counts.items()}

    off, on = busy_rates(0.0), busy_rates(0.5)
    uniform = D.BUSY_SPAN / top
    assert abs(off["describe"] - uniform) < 0.08 and abs(off["structured"] - uniform) < 0.08
    assert on["describe"] > uniform + 0.15 and on["structured"] > uniform + 0.15
    assert abs(on["count"] - uniform) < 0.08  # a category outside BUSY_CATEGORIES keeps uniform counts


# the words a question asks a size by: superlatives ("biggest") and size words with their synonyms ("large")
SIZE_ASKED = {w for words in (*dialogue.MOST.values(), *forms.SIZE_WORDS.values()) for w in words}


def _draw_only(data, category: str, n: int = 60) -> list:
    """n samples drawn with every other category's weight at 0."""
    old = data.mix
    data.mix = {c: (1.0 if c == category else 0.0) for c in old}
    try:
        return [data.draw(10) for _ in range(n)]
    finally:
        data.mix = old


def test_the_choice_category_asks_the_questions_that_pick_objects_out_of_the_scene(data):
    drawn = _draw_only(data, "choice")
    assert {d[0] for d in drawn} == {"choice"}
    asked = [d[2].lower() for d in drawn]
    # comparisons and "how many big things?": 3 in 5 of the objects scenes' choice questions
    assert sum(any(w in q for w in SIZE_ASKED) for q in asked) >= 20


def test_the_size_category_asks_only_the_size_filter(data):
    from dimple.tiny import score

    drawn = _draw_only(data, "size")
    assert {d[0] for d in drawn} == {"size"}
    assert all(any(w in d[2].lower() for w in SIZE_ASKED) for d in drawn)  # every question asks by a size
    lists = [score.description_items(d[3]) is not None for d in drawn]
    assert any(lists) and not all(lists)  # comparisons name objects; counts ("3", "I count three ...") do not


@pytest.mark.parametrize("long_pad_prob", [0.0, 1.0])
def test_long_pads_fill_the_canvas_so_the_masked_room_does_not_tell_the_answer_length(long_pad_prob):
    """A diffusion answer is trained with its masked pads: if most samples end a few pads after the answer, the
    number of masks tells the model how long the answer is, and on the app's full canvas it fills the spare room
    (docs/tiny3.md, session 20). long_pad_prob is the share padded to the whole canvas."""
    tok = AutoTokenizer.from_pretrained(TOKENIZER_DIR)
    cfg = TrainConfig(pool_per_kind=8, vision_warmup_steps=0, curriculum_steps=0, long_pad_prob=long_pad_prob,
                      max_pad=4, canvas_len=96)
    data = WorldData(cfg, tok, seed=5)
    free = [(item.ids, item.start) for item in (data.sample(0) for _ in range(40))
            if not item.fixed]  # a template's canvas is its own length
    assert len(free) >= 10
    for ids, start in free:
        response = len(ids) - start
        if long_pad_prob:
            assert response >= cfg.canvas_len
        else:
            assert ids[start:].count(data.ids["pad"]) <= cfg.max_pad
