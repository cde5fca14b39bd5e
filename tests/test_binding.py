"""The binding loss: each answer word that names an object targets that object's cell, and only masked ones count."""

import random

import torch
import torch.nn.functional as F

from dimple.tiny import binding, forms, world
from dimple.tiny.data import WorldData
from dimple.tiny.train import TrainConfig, load_checkpoint, load_tokenizer, train

from test_train import TINY  # noqa: E402  (tests/ is on the path: rootdir-relative imports)

SCENE = world.Scene("objects", objects=[world.Obj("star", "red", "big", 0), world.Obj("star", "red", "small", 4),
                                        world.Obj("circle", "blue", "small", 8)])


def _named(tok, text, scene):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    cells = binding.answer_cells(tok, text, scene)
    assert len(cells) == len(ids)
    return [(tok.decode([i]).strip(), c) for i, c in zip(ids, cells) if c != binding.IGNORE]


def test_every_word_of_a_named_object_targets_that_objects_cell():
    tok = load_tokenizer(TrainConfig().tokenizer_dir)
    rng = random.Random(0)
    scene = world.random_objects_scene(rng, n_objects=4)
    for _ in range(10):
        text = forms.describe(scene.objects, rng)
        named = _named(tok, text, scene)
        for o in scene.objects:  # the world draws no two objects alike: each item is named once, and only it
            said = "".join(w for w, c in named if c == o.cell)  # the item's labelled tokens, in order
            assert said.endswith(o.color + o.shape), (text, named)
            assert said.removesuffix(o.color + o.shape) in forms.SIZE_WORDS[o.size], (text, named)
        assert {c for _, c in named} == {o.cell for o in scene.objects}


def _said(tok, text, scene) -> dict:
    """cell -> the labelled tokens' text, in order (a tokenizer may split a word)."""
    out: dict = {}
    for w, c in _named(tok, text, scene):
        out[c] = out.get(c, "") + w
    return out


def test_a_mention_that_fits_no_object_or_two_targets_nothing():
    tok = load_tokenizer(TrainConfig().tokenizer_dir)
    assert _said(tok, "There is a large red star at the top left.", SCENE) == {0: "largeredstar"}
    assert _said(tok, "a tiny red star", SCENE) == {4: "tinyredstar"}
    assert _said(tok, "a red star", SCENE) == {}  # two red stars: which one is not said
    assert _said(tok, "a green circle", SCENE) == {}  # no such object
    assert _said(tok, "two red stars", SCENE) == {}  # a plural names a group
    assert _said(tok, "The blue circle.", SCENE) == {8: "bluecircle"}


def test_the_binding_head_scores_only_named_words_the_answer_loss_scores_reading_each_from_the_state_before():
    torch.manual_seed(0)
    head = binding.BindingHead(8)
    hidden = torch.randn(1, 6, 8)
    cells = torch.tensor([[binding.IGNORE, 3, 3, binding.IGNORE, 5, 7]])
    scored = torch.tensor([[False, True, False, True, True, True]])
    loss, stats = head(hidden, cells, scored)
    logits = head.proj(hidden[0])
    # tokens 1, 4 and 5 are named and scored; token 2 is named but visible, token 3 names nothing
    want = F.cross_entropy(logits[[0, 3, 4]], torch.tensor([3, 5, 7]))
    assert torch.allclose(loss, want)
    assert 0.0 <= stats["aux_bind"] <= 1.0
    none, stats = head(hidden, cells, torch.zeros_like(scored))
    assert float(none.detach()) == 0.0 and stats == {} and none.requires_grad


def test_batches_carry_binding_targets_on_the_response_only_when_the_loss_is_on():
    tok = load_tokenizer(TrainConfig().tokenizer_dir)
    on = WorldData(TrainConfig(**dict(TINY, binding_aux_weight=1.0), mix="describe=50"), tok, seed=3)
    batch = on.batch(10)
    named = batch["answer_cells"] != binding.IGNORE
    assert bool(named.any())
    assert not bool((named & ~batch["labels_mask"]).any())  # only response positions
    assert int(batch["answer_cells"][named].max()) < binding.N_CELLS
    off = WorldData(TrainConfig(**TINY, mix="describe=50"), tok, seed=3)
    assert bool((off.batch(10)["answer_cells"] == binding.IGNORE).all())


def test_training_with_the_binding_loss_reports_it_and_checkpoints_the_head(tmp_path):
    cfg = TrainConfig(**dict(TINY, vision_warmup_steps=0, curriculum_steps=0), name="b", out_root=str(tmp_path),
                      steps=3, log_every=1, binding_aux_weight=1.0, mix="describe=50")
    out = train(cfg, progress=False)
    assert "aux_bind" in out["stats"]
    state = load_checkpoint(str(tmp_path / "b" / "last.pt"))
    assert set(state["binding_head"]) == {"proj.weight", "proj.bias"} and "binding_head_optimizer" in state
    resumed = train(TrainConfig(**{**cfg.__dict__, "steps": 4}), resume=True, progress=False)
    assert resumed["step"] == 4


def test_the_binding_probe_reads_masked_object_words_of_held_out_scenes_per_mask_ratio():
    from dimple.tiny.train import build_model

    tok = load_tokenizer(TrainConfig().tokenizer_dir)
    model = build_model(TrainConfig(**TINY), tok).eval()
    got = binding.probe(model, tok, ratios=(0.5, 1.0), n_train=16, n_test=8, steps=5)
    assert set(got) == {"masked 0.50", "words 0.50", "masked 1.00", "words 1.00"}
    assert 0 < got["words 0.50"] < got["words 1.00"]  # fully masked: every object word of the answers is scored
    assert all(0.0 <= got[f"masked {r}"] <= 1.0 for r in ("0.50", "1.00"))


def test_the_binding_layer_must_be_a_layer_of_the_stack():
    import pytest

    TrainConfig(num_layers=4, binding_layer=-4).validate()
    with pytest.raises(ValueError, match="binding_layer"):
        TrainConfig(num_layers=4, binding_layer=4).validate()
