"""The model a Tiny run builds, and its checkpoints: ids from the tokenizer, sizes from the settings, a faithful
round trip."""

import random
from types import SimpleNamespace

import pytest
import torch

from dimple.tiny.checkpoint import build_model, load_tokenizer, model_config, model_from_checkpoint, save_checkpoint
from dimple.tiny.settings import TINY, image_processor
from dimple.tiny.train_config import TrainConfig

SMALL = dict(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64, mrope_section=[2, 3, 3],
             vision_hidden=16, vision_depth=1, vision_heads=1, vision_intermediate=32)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(TrainConfig().tokenizer_dir)


def test_the_model_takes_token_ids_from_the_tokenizer_and_image_sizes_from_the_settings(tok):
    config = model_config(TrainConfig(**SMALL), tok)
    assert config.mask_token_id == tok.mask_token_id
    assert config.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert config.vocab_size == len(tok)
    proc = image_processor()
    assert config.vision_config["patch_size"] == proc.patch_size == TINY.patch_size
    assert config.vision_config["spatial_merge_size"] == proc.merge_size == TINY.merge_size


def test_a_checkpoint_rebuilds_the_model_that_saved_it(tok, tmp_path):
    cfg = TrainConfig(**SMALL, name="ckpt", out_root=str(tmp_path))
    model = build_model(cfg, tok)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))  # not the seed's initial weights, which a rebuild would also get
    optimizer = torch.optim.AdamW(model.parameters())
    path = str(tmp_path / "ckpt" / "last.pt")
    save_checkpoint(path, model, optimizer, 7, cfg, SimpleNamespace(rng=random.Random(0)), {"note": 1})
    again, _, cfg_again, state = model_from_checkpoint(path)
    assert state["step"] == 7 and state["extra"] == {"note": 1}
    assert cfg_again.hidden_size == cfg.hidden_size
    ids = torch.randint(0, len(tok), (1, 12))
    with torch.no_grad():
        want = model.eval()(input_ids=ids).logits
        got = again(input_ids=ids).logits
    assert torch.equal(want, got)
