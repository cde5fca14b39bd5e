"""A model's int4 codes saved once and read at every load: `load_model(..., int4_codes=FILE)`.

    python -m dimple.int4_codes MODEL OUT.safetensors [--calibrate EXAMPLES_DIR] [--device cpu]

Choosing int4 codes costs far more than reading them: a 7B's searched group ranges take about 3 minutes at
every load, and GPTQ calibration hours on two CPU cores (docs/scale.md). This module owns the file
that keeps the choice: for every quantised linear its codes in a layout that does not depend on the CPU
(`dimple.int4.plain_codes`: rows in order, two columns a byte) and its scales and zeros, in a safetensors
file whose metadata names the group size, how the codes were chosen and each layer's shape. At load the
float checkpoint is read as usual and each linear is swapped for the saved codes (`dimple.quantize`), packed
for this CPU, with nothing rounded again.

It does not choose codes (`dimple.int4`, `dimple.int4_ranges`, `dimple.int4_gptq`) and it does not check that
the file was made from the same weights: the layer names and shapes must match (a mismatch is refused,
naming the layer), the values are trusted.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

FORMAT = "dimple-int4-codes/1"  # the metadata's format tag: a file of another kind or version is refused


class SavedLayer(NamedTuple):
    plain: torch.Tensor  # uint8 (out, in' / 2): `dimple.int4.plain_codes`
    scales_and_zeros: torch.Tensor  # (in' / group, out, 2) in the load dtype
    in_features: int
    out_features: int


def save_codes(model: nn.Module, path, how: str) -> int:
    """Write every Int4Linear of `model` to `path`; `how` says how its codes were chosen (kept in the metadata).
    Returns the number of layers."""
    from safetensors.torch import save_file

    from .int4 import plain_codes
    from .quantize import Int4Linear

    tensors, shapes = {}, {}
    for name, module in model.named_modules():
        if isinstance(module, Int4Linear):
            out_f = module.out_features
            tensors[f"{name}.codes"] = plain_codes(module.packed, out_f).contiguous()
            tensors[f"{name}.scales_and_zeros"] = module.scales_and_zeros[:, :out_f].contiguous()
            shapes[name] = [module.in_features, out_f]
    if not tensors:
        raise ValueError("the model has no int4 layers to save: load it with quantize='int4'")
    meta = {"format": FORMAT, "how": how, "shapes": json.dumps(shapes)}
    save_file(tensors, str(path), metadata=meta)
    return len(shapes)


def read_codes(path) -> dict[str, SavedLayer]:
    """layer name -> SavedLayer of a file `save_codes` wrote; ValueError if it is not one."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a saved int4 codes file ({FORMAT}); make one with "
                             "`python -m dimple.int4_codes MODEL OUT`")
        shapes = json.loads(meta["shapes"])
        return {name: SavedLayer(f.get_tensor(f"{name}.codes"), f.get_tensor(f"{name}.scales_and_zeros"), i, o)
                for name, (i, o) in shapes.items()}


def layer_from_saved(saved: SavedLayer, linear: nn.Linear, name: str, **kwargs):
    """The Int4Linear standing for `linear` (its bias kept) from its saved codes; ValueError naming the layer if
    the shapes differ."""
    from .int4 import pack_plain
    from .quantize import Int4Linear

    if (saved.in_features, saved.out_features) != (linear.in_features, linear.out_features):
        raise ValueError(f"saved int4 codes of {name} are {saved.in_features} -> {saved.out_features}, the model's "
                         f"layer is {linear.in_features} -> {linear.out_features}: the file is of another model")
    packed, sz = pack_plain(saved.plain, saved.scales_and_zeros.to(linear.weight.dtype))
    return Int4Linear(packed, sz, saved.in_features, saved.out_features, linear.bias, **kwargs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dimple.int4_codes", description=__doc__.splitlines()[0])
    p.add_argument("model", help="'tiny', a checkpoint folder or a hub id")
    p.add_argument("out", type=Path, help="the .safetensors file to write")
    p.add_argument("--calibrate", metavar="EXAMPLES_DIR", help="choose the codes by GPTQ while these examples decode")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    from .assistant import Assistant, calibration_pairs

    start = time.perf_counter()
    pairs = calibration_pairs(args.calibrate) if args.calibrate else ()
    assistant = Assistant.load(args.model, device=args.device, quantize="int4", calibration=pairs)
    chosen = time.perf_counter() - start
    how = f"GPTQ on {len(pairs)} prompts of {args.calibrate}" if pairs else "each group alone (searched ranges)"
    layers = save_codes(assistant.model, args.out, how)
    print(json.dumps({"layers": layers, "how": how, "seconds_to_choose": round(chosen, 1),
                      "bytes": args.out.stat().st_size}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
