"""dimple.tiny.evaluate: the metrics are well-formed and honest, and the three-recipe comparison runs."""

from __future__ import annotations

import pytest

from dimple.tiny import world
from dimple.config import DecodeConfig
from dimple.tiny.evaluate import compare_recipes, eval_samples, evaluate, recipes_table
from dimple.tiny.train import TrainConfig, build_model, load_tokenizer

TINY = dict(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64, mrope_section=[2, 3, 3],
            vision_hidden=16, vision_depth=1, vision_heads=1, vision_intermediate=32, pool_per_kind=8,
            pool_refresh_count=2, batch_size=4, threads=1, warmup_steps=1, vision_warmup_steps=1, curriculum_steps=1)
CFG = DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.9)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(TrainConfig().tokenizer_dir)


def test_eval_split_is_balanced_and_disjoint_from_training():
    samples = eval_samples(2 * len(world.CATEGORIES))
    assert [s.category for s in samples] == list(world.CATEGORIES) * 2
    train = set(world.split_seeds("train", 2000))
    assert not train & {s.seed for s in samples}


def test_metrics_of_a_random_model_are_well_formed(tok):
    model = build_model(TrainConfig(**TINY), tok)
    res = evaluate(model, tok, 8, CFG, return_examples=True)
    assert res["n"] == 8 and 0 <= res["accuracy"] <= 1 and set(res["per_category"]) == set(world.CATEGORIES)
    assert res["accuracy"] == sum(e["ok"] for e in res["examples"]) / 8
    assert 1 <= res["nfe_mean"] <= CFG.steps and res["tokens_per_forward"] > 0
    assert 0 <= res["early_eos_rate"] <= 1 and res["length_bias"] >= 0


@pytest.mark.slow  # trains three recipes
def test_the_three_recipes_train_and_are_compared(tmp_path):
    res = compare_recipes(2, 8, CFG, out_root=str(tmp_path), **TINY)
    assert set(res) == {"ar-then-diffusion", "diffusion-only", "ar-only"}
    table = recipes_table(res)
    assert all(name in table for name in res)
    assert res["ar-only"]["tokens_per_forward"] <= 1.0  # decoded as trained: one token per forward, left to right
