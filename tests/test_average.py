"""dimple.tiny.average: the mean of several checkpoints or exports of one architecture, written as a model the app
loads; sources that do not fit together are refused."""

import random
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from dimple.tiny.average import main, mean_state, write_average
from dimple.tiny.checkpoint import build_model, export, load_tokenizer, save_checkpoint
from dimple.tiny.train_config import TrainConfig

SMALL = dict(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64, mrope_section=[2, 3, 3],
             vision_hidden=16, vision_depth=1, vision_heads=1, vision_intermediate=32)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(TrainConfig().tokenizer_dir)


def _checkpoint(tok, folder, seed: int, **sizes) -> tuple[str, dict]:
    cfg = TrainConfig(**{**SMALL, **sizes}, name=f"m{seed}", out_root=str(folder))
    model = build_model(cfg, tok)
    torch.manual_seed(seed)  # after the build, which seeds itself
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))  # each source its own weights
    path = str(folder / f"m{seed}" / "last.pt")
    save_checkpoint(path, model, torch.optim.AdamW(model.parameters()), 1, cfg,
                    SimpleNamespace(rng=random.Random(0)), {})
    return path, {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_the_average_of_two_checkpoints_is_their_midpoint_written_as_a_model(tok, tmp_path):
    a, wa = _checkpoint(tok, tmp_path, 1)
    b, wb = _checkpoint(tok, tmp_path, 2)
    out = write_average(str(tmp_path / "avg"), [a, b])
    got = load_file(f"{out}/model.safetensors")
    assert set(got) == set(wa)
    for key, value in got.items():
        want = ((wa[key] + wb[key]) / 2).to(value.dtype)
        assert torch.equal(value, want), key
    differs = [k for k in wa if not torch.equal(wa[k].to(torch.bfloat16), got[k])]
    assert differs  # the mean is not a copy of the first source
    for name in ("config.json", "tokenizer.json", "dimple_studio.json", "preprocessor_config.json"):
        assert (tmp_path / "avg" / name).exists(), name


def test_an_average_of_exported_folders_keeps_the_first_folders_files_and_dtype(tok, tmp_path):
    from dimple.tiny.checkpoint import model_from_checkpoint

    folders = []
    for seed in (3, 4):
        path, _ = _checkpoint(tok, tmp_path, seed)
        model, tokenizer, cfg, _ = model_from_checkpoint(path)
        folders.append(export(model, tokenizer, str(tmp_path / f"export{seed}"), canvas=cfg.canvas_len))
    out = write_average(str(tmp_path / "avg"), folders)
    first, second = (load_file(f"{f}/model.safetensors") for f in folders)
    got = load_file(f"{out}/model.safetensors")
    for key, value in got.items():
        assert value.dtype == first[key].dtype == torch.bfloat16
        assert torch.equal(value, ((first[key].float() + second[key].float()) / 2).to(torch.bfloat16)), key
    assert (tmp_path / "avg" / "dimple_studio.json").read_text() == (tmp_path / "export3" / "dimple_studio.json").read_text()


def test_sources_of_other_shapes_or_a_single_source_are_refused(tok, tmp_path, capsys):
    a, _ = _checkpoint(tok, tmp_path, 5)
    b, _ = _checkpoint(tok, tmp_path, 6, intermediate_size=96)
    with pytest.raises(ValueError, match="is .* not"):
        mean_state([a, b])
    with pytest.raises(ValueError, match="at least two"):
        mean_state([a])
    assert main([str(tmp_path / "avg"), a, b]) == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "avg").exists()


def test_a_start_file_holds_the_mean_trunk_and_the_last_sources_heads_and_trains_from(tok, tmp_path):
    from dimple.tiny.binding import BindingHead
    from dimple.tiny.init import load_start

    a, wa = _checkpoint(tok, tmp_path, 7)
    b, wb = _checkpoint(tok, tmp_path, 8)
    head = BindingHead(SMALL["hidden_size"]).state_dict()
    ckpt = torch.load(b, weights_only=True)
    ckpt["binding_head"] = head
    ckpt["binding_head_optimizer"] = {"state": {}, "param_groups": []}
    torch.save(ckpt, b)
    assert main([str(tmp_path / "start.pt"), a, b]) == 0
    start = torch.load(tmp_path / "start.pt", weights_only=True)
    assert set(start) == {"model", "config", "binding_head"}  # no optimizer state travels
    assert all(torch.equal(start["binding_head"][k], v) for k, v in head.items())
    assert start["config"]["tokenizer_dir"] == TrainConfig().tokenizer_dir
    model = build_model(TrainConfig(**SMALL), tok)
    extra = load_start(model, str(tmp_path / "start.pt"), tok)
    assert "binding_head" in extra
    for key, value in model.state_dict().items():
        assert torch.allclose(value, (wa[key] + wb[key]) / 2), key
