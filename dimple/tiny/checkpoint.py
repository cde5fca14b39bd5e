"""The model a Dimple-Tiny run trains, and what a run writes and reads back.

Owns the model's config for a `TrainConfig` (sizes from the config, token ids
from the tokenizer, image sizes from the settings table), the run's tokenizer,
checkpoints (atomic save, restricted load, the model rebuilt from one) and the
16-bit export the app loads. It does not train (see `train.py`) nor build
batches (see `data.py`).
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Optional

import torch

from .card import write_card
from .settings import TINY
from .tokenizer import build_tokenizer, special_ids
from .train_config import TrainConfig


def model_config(cfg: TrainConfig, tokenizer):
    from ..model_config import DimpleConfig

    ids = special_ids(tokenizer)
    return DimpleConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        max_position_embeddings=TINY.max_positions,
        rope_theta=float(cfg.rope_theta),
        mrope_section=list(cfg.mrope_section),
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
        pad_token_id=ids["pad"],
        mask_token_id=ids["mask"],
        image_token_id=ids["image"],
        video_token_id=ids["video"],
        vision_start_token_id=ids["vision_start"],
        vision_end_token_id=ids["vision_end"],
        vision_token_id=ids["vision"],
        vision_config=dict(
            depth=cfg.vision_depth,
            hidden_size=cfg.vision_hidden,
            intermediate_size=cfg.vision_intermediate,
            num_heads=cfg.vision_heads,
            out_hidden_size=cfg.hidden_size,
            window_size=cfg.vision_window,
            fullatt_block_indexes=[cfg.vision_depth - 1],
            patch_size=TINY.patch_size,
            spatial_merge_size=TINY.merge_size,
            temporal_patch_size=TINY.temporal_patch_size,
            in_channels=3,
            hidden_act="silu",
        ),
    )


def build_model(cfg: TrainConfig, tokenizer):
    from ..fast_paths import batch_vision_windows
    from ..modeling import DimpleModel

    torch.manual_seed(cfg.seed)
    model = DimpleModel(model_config(cfg, tokenizer))
    batch_vision_windows(model)
    return model


def load_tokenizer(path: str):
    """The run's tokenizer, built from the world's text first when the folder has none."""
    from ..loading import load_tokenizer as load_folder_tokenizer

    if not os.path.exists(os.path.join(path, "tokenizer.json")):
        build_tokenizer(path)
    return load_folder_tokenizer(Path(path))


# checkpoint entries of the auxiliary heads (each also saved with "_optimizer"): training-only, never exported
AUX_HEADS = ("vision_heads", "binding_head")


def save_checkpoint(path: str, model, optimizer, step: int, cfg: TrainConfig, data, extra: dict,
                    vision=None, binding=None) -> None:
    """data: the run's WorldData (its random state resumes); vision: (DenseVisionHeads, their optimizer)
    when the auxiliary vision loss is on; binding: (BindingHead, its optimizer) when the binding loss is on."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "config": asdict(cfg),
        "python_rng": data.rng.getstate(),
        "torch_rng": torch.get_rng_state(),
        "extra": extra,
    }
    for key, head in zip(AUX_HEADS, (vision, binding)):
        if head is not None:
            state[key], state[key + "_optimizer"] = head[0].state_dict(), head[1].state_dict()
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str):
    """A training checkpoint, read with torch's restricted unpickler (tensors and plain containers only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def export(model, tokenizer, out_dir: str, dtype: torch.dtype = torch.bfloat16, canvas: Optional[int] = None) -> str:
    """Write the model in 16-bit safetensors + config.json + tokenizer + image settings into out_dir, with a
    dimple_studio.json that gives any such folder Dimple-Tiny's card in the app; `canvas`: the response
    canvas the model was trained on, its card's default (TinySettings.canvas when not given)."""
    os.makedirs(out_dir, exist_ok=True)
    m = copy.deepcopy(model).to(dtype)
    m.config.torch_dtype = str(dtype).replace("torch.", "")
    m.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    with open(os.path.join(out_dir, "preprocessor_config.json"), "w") as f:
        json.dump(TINY.preprocessor_config(), f, indent=1)
    write_card(Path(out_dir), canvas=canvas or TINY.canvas)
    return out_dir


def probe_target(name: str):
    """(model, tokenizer) for a probe: a training checkpoint (a .pt file), or a model name or folder as
    `dimple.loading.load_model` takes it."""
    if name.endswith(".pt"):
        return model_from_checkpoint(name)[:2]
    from ..loading import load_model, load_tokenizer as load_model_tokenizer

    return load_model(name), load_model_tokenizer(name)


def model_from_checkpoint(path: str):
    """(model, tokenizer, TrainConfig) from a runs/<name>/last.pt checkpoint."""
    state = load_checkpoint(path)
    known = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in state["config"].items() if k in known})
    tokenizer = load_tokenizer(cfg.tokenizer_dir)
    model = build_model(cfg, tokenizer)
    model.load_state_dict(state["model"])
    model.eval()
    return model, tokenizer, cfg, state
