"""The dense vision loss: its targets describe each image token's cell, row or column, and it teaches shapes."""

import random

import torch

from dimple.tiny import world
from dimple.tiny.train import TrainConfig, build_model, load_checkpoint, load_tokenizer, train
from dimple.tiny.data import image_to_uint8, pixels_of
from dimple.tiny.vision_heads import GROUPS, IGNORE, N_TARGETS, DenseVisionHeads, ImageTokenTap, scene_targets

from test_train import TINY  # noqa: E402  (tests/ is on the path: rootdir-relative imports)


def _slots(targets):
    out, start = {}, 0
    for name, _, _, slots in GROUPS:
        out[name] = targets[start:start + slots]
        start += slots
    return out


def test_objects_targets_name_each_cell_or_empty():
    scene = world.Scene("objects", objects=[world.Obj("star", "blue", "small", 0), world.Obj("circle", "red", "big", 8)])
    t = _slots(scene_targets(scene))
    assert len(scene_targets(scene)) == N_TARGETS
    empty = len(world.SHAPES)
    assert t["where"] == list(range(9))
    assert t["shape"] == [world.SHAPES.index("star")] + [empty] * 7 + [world.SHAPES.index("circle")]
    assert t["color"][8] == world.COLOR_NAMES.index("red") and t["size"][0] == world.SIZES.index("small")
    assert set(t["bar_label"] + t["bar_value"] + t["word"]) == {IGNORE}


def test_chart_and_text_targets_read_columns_and_rows():
    chart = world.Scene("chart", bars=[("A", 3, "red"), ("C", 9, "blue"), ("F", 1, "green")])
    t = _slots(scene_targets(chart))
    assert t["bar_label"] == [0, 2, 5] and t["bar_value"] == [2, 8, 0]
    assert set(t["shape"] + t["word"]) == {IGNORE}
    text = world.Scene("text", words=[(1, "cat", "red")])
    t = _slots(scene_targets(text))
    assert t["word"] == [len(world.WORDS), world.WORDS.index("cat"), len(world.WORDS)]


def test_heads_read_columns_and_rows_of_the_row_major_grid():
    heads = DenseVisionHeads(hidden_size=2)
    # token (r, c) carries its row in feature 0 and its column in feature 1
    tokens = torch.tensor([[float(r), float(c)] for r in range(3) for c in range(3)])
    seen = {}
    for name in ("bar_label", "word"):
        heads.heads[name].register_forward_pre_hook(lambda m, i, name=name: seen.update({name: i[0]}) and None)
    heads(tokens, torch.tensor([scene_targets(world.Scene("chart", bars=[("A", 1, "red")] * 3))]))
    heads(tokens, torch.tensor([scene_targets(world.Scene("text", words=[(0, "cat", "red")]))]))
    column1 = seen["bar_label"][0, 1].reshape(3, 2)
    row2 = seen["word"][0, 2].reshape(3, 2)
    assert column1[:, 1].tolist() == [1, 1, 1] and column1[:, 0].tolist() == [0, 1, 2]
    assert row2[:, 0].tolist() == [2, 2, 2] and row2[:, 1].tolist() == [0, 1, 2]


def test_a_minute_of_dense_loss_teaches_a_fresh_vision_tower_shapes():
    torch.manual_seed(0)
    tok = load_tokenizer(TrainConfig().tokenizer_dir)
    cfg = TrainConfig(hidden_size=64, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64,
                      mrope_section=[4, 6, 6], threads=2)
    model = build_model(cfg, tok)
    heads = DenseVisionHeads(cfg.hidden_size)
    rng = random.Random(0)
    scenes = [world.random_objects_scene(rng) for _ in range(600)]
    images = torch.stack([image_to_uint8(world.model_view(world.render(s))) for s in scenes])
    targets = torch.tensor([scene_targets(s) for s in scenes])
    opt = torch.optim.AdamW(list(model.visual.parameters()) + list(model.img_projector.parameters())
                            + list(heads.parameters()), lr=3e-3)
    for step in range(250):
        idx = torch.randint(0, 500, (32,))
        loss, _ = heads(model.image_features(*pixels_of(images[idx])), targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        _, stats = heads(model.image_features(*pixels_of(images[500:])), targets[500:])
    assert stats["aux_shape"] > 0.8  # chance is about 0.6 here: most cells are empty


def test_training_with_the_dense_loss_checkpoints_the_heads_and_starts_from_other_weights(tmp_path):
    cfg = TrainConfig(**TINY, name="v", out_root=str(tmp_path), steps=3, log_every=1, vision_aux_weight=1.0)
    out = train(cfg, progress=False)
    assert any(k.startswith("aux_") for k in out["stats"])
    state = load_checkpoint(str(tmp_path / "v" / "last.pt"))
    assert set(state["vision_heads"]) and "vision_heads_optimizer" in state
    cfg2 = TrainConfig(**dict(TINY, warmup_steps=0), name="w", out_root=str(tmp_path), steps=1, lr=1e-9,
                       init_from=str(tmp_path / "v" / "last.pt"))
    out2 = train(cfg2, progress=False)
    moved = max(float((a - b).abs().max()) for a, b in zip(out["model"].state_dict().values(),
                                                                out2["model"].state_dict().values()))
    assert out2["step"] == 1 and moved < 1e-4  # lr ~0: the weights are the other run's


def test_tap_keeps_the_image_tokens_of_the_last_forward():
    tok = load_tokenizer(TrainConfig().tokenizer_dir)
    model = build_model(TrainConfig(**TINY), tok)
    tap = ImageTokenTap(model)
    s = world.make_sample(5, "count")
    pv, grid = pixels_of(image_to_uint8(world.model_view(s.image))[None])
    direct = model.image_features(pv, grid)
    assert torch.equal(tap.take(), direct)
    tap.close()
    model.image_features(pv, grid)
    assert tap.tokens is None


class _Tokens:
    """A stand-in vision side: image tokens that carry their cell index (or nothing)."""

    def __init__(self, knows_cell: bool):
        self.knows_cell = knows_cell

    def image_features(self, pixel_values, grid):
        n = int(grid.shape[0])
        cell = torch.eye(9).repeat(n, 1) if self.knows_cell else torch.zeros(9 * n, 9)
        return torch.cat([cell, torch.zeros(9 * n, 7)], dim=1)


def test_probe_reads_what_the_image_tokens_encode_and_nothing_else():
    from dimple.tiny.vision_heads import probe

    knows = probe(_Tokens(True), n_train=60, n_test=30, steps=150)
    blind = probe(_Tokens(False), n_train=60, n_test=30, steps=150)
    assert knows["where"] == 1.0 and blind["where"] < 0.2
    assert set(knows) == {name for name, *_ in GROUPS}
