"""Writing a random-weight Dimple checkpoint at a named shape, in the released layout, shard by shard.

Owns the files: `config.json`, `model-0000k-of-0000n.safetensors` shards in
bfloat16, `model.safetensors.index.json` (weight map and total size, as
transformers writes it), `preprocessor_config.json` (pixel limits that let
the measured image through whole) and `dimple_scale.json` (shape and seed).
Parameter names and shapes come from a meta-device model, so no weight is
allocated until its shard is drawn; one shard's tensors are held at a time,
never the whole model. Weights follow the model's own init (normal(0, std)
matrices, zero biases, unit norm scales). It does not load or time anything.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from ..modeling import DimpleModel
from .shapes import GiB, ScaleShape, dimple_config

DTYPE = torch.bfloat16
INDEX = "model.safetensors.index.json"


def parameter_shapes(shape: ScaleShape) -> dict[str, tuple]:
    """name -> shape of every tensor the checkpoint holds, in the model's state_dict order (no memory used)."""
    with torch.device("meta"):
        model = DimpleModel(dimple_config(shape))
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def plan_shards(shapes: dict[str, tuple], shard_bytes: int) -> list[list[str]]:
    """Consecutive groups of names, each at most `shard_bytes` (a larger single tensor gets its own shard)."""
    shards: list[list[str]] = [[]]
    size = 0
    for name, dims in shapes.items():
        n = math.prod(dims) * DTYPE.itemsize
        if shards[-1] and size + n > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += n
    return shards


def random_tensor(name: str, dims: tuple, std: float, generator: torch.Generator) -> torch.Tensor:
    """A tensor as the model's init would draw it: biases 0, 1-D scales (norms) 1, the rest normal(0, std)."""
    if name.endswith(".bias"):
        return torch.zeros(dims, dtype=DTYPE)
    if len(dims) == 1:
        return torch.ones(dims, dtype=DTYPE)
    return torch.empty(dims, dtype=DTYPE).normal_(0.0, std, generator=generator)


def shard_name(k: int, n: int) -> str:
    return f"model-{k + 1:05d}-of-{n:05d}.safetensors"


def write_checkpoint(shape: ScaleShape, folder: Path, seed: int = 0, image_side: int = 448) -> dict:
    """Write the checkpoint into `folder` (created; files of an earlier write are replaced) and describe it."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("model-*.safetensors"):
        old.unlink()
    config = dimple_config(shape)
    config.dtype = DTYPE
    shapes = parameter_shapes(shape)
    shards = plan_shards(shapes, int(shape.shard_gib * GiB))
    generator = torch.Generator().manual_seed(seed)
    weight_map, total = {}, 0
    for k, names in enumerate(shards):
        tensors = {name: random_tensor(name, shapes[name], config.initializer_range, generator) for name in names}
        total += sum(t.numel() * t.element_size() for t in tensors.values())
        save_file(tensors, str(folder / shard_name(k, len(shards))), metadata={"format": "pt"})
        weight_map.update({name: shard_name(k, len(shards)) for name in names})
        del tensors
    (folder / INDEX).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    config.save_pretrained(str(folder))
    side = image_side * image_side
    (folder / "preprocessor_config.json").write_text(json.dumps({"min_pixels": 3136, "max_pixels": max(side, 12544),
                                                                 "patch_size": 14, "merge_size": 2,
                                                                 "temporal_patch_size": 2}))
    info = {"shape": shape.name, "seed": seed, "dtype": "bfloat16", "shards": len(shards), "tensors": len(shapes),
            "parameters": sum(math.prod(d) for d in shapes.values()), "bytes": checkpoint_bytes(folder)}
    (folder / "dimple_scale.json").write_text(json.dumps(info))
    return info


def checkpoint_bytes(folder: Path) -> int:
    """Bytes of the safetensors files on disk (headers included): what the loader reads."""
    return sum(f.stat().st_size for f in Path(folder).glob("*.safetensors"))


def existing_checkpoint(shape: ScaleShape, folder: Path, seed: int = 0) -> dict | None:
    """The description of a complete earlier write of this shape and seed in `folder`, else None."""
    marker = Path(folder) / "dimple_scale.json"
    if not marker.exists() or not (Path(folder) / INDEX).exists():
        return None
    info = json.loads(marker.read_text())
    if info.get("shape") != shape.name or info.get("seed") != seed or info.get("bytes") != checkpoint_bytes(folder):
        return None
    return info
