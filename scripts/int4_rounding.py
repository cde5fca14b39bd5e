"""int4 rounding error of each range strategy, and the load-time cost of quantising one 7B weight:

    python scripts/int4_rounding.py [--checkpoint runs/t3d-final] [--groups 32 64 128] [--threads 1] [--gptq-timing]
                                    [--json-out F]

Relative L2 error of the weight (||dequantised - w|| / ||w||, over all weights measured together) for each
strategy of `dimple.int4_ranges.RANGES` and group size, on (1) a normal(0, 0.02) bf16 weight (2048 x 4096, the
scale checkpoints' init) and (2) every 2-d linear weight of a checkpoint's model.safetensors (the embeddings
left out: they stay in bf16). Then (3) the seconds `quantize_int4` takes on the 7B's widest weight
(18944 x 3584, bf16, best of 2) per strategy, packing included, and with --gptq-timing (4) the seconds GPTQ
takes on the 7B's MLP weights (18944 x 3584 and 3584 x 18944). Prints JSON. A measurement tool, not a test
(tests/test_int4_ranges.py holds the bounds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dimple.int4 import dequantize_int4, packed_layout, quantize_int4  # noqa: E402
from dimple.int4_gptq import inverse_factor  # noqa: E402
from dimple.int4_ranges import RANGES  # noqa: E402
from dimple.kernels import KernelSettings  # noqa: E402

NORMAL_SHAPE = (2048, 4096)
WIDEST_7B = (18944, 3584)  # (out, in) of the MLP's up projection: the largest matmul weight a 7B layer quantises


def linear_weights(checkpoint: Path) -> dict:
    """name -> 2-d weight of every linear in the checkpoint (embeddings excluded)."""
    from safetensors.torch import load_file

    tensors = load_file(str(checkpoint / "model.safetensors"))
    return {k: v for k, v in tensors.items() if v.dim() == 2 and k.endswith(".weight") and "embed" not in k}


def rounding_error(weights: list, group: int, ranges: str) -> float:
    """||dequantised - w|| / ||w|| over all `weights` together."""
    err = norm = 0.0
    for w in weights:
        back = dequantize_int4(*quantize_int4(w, group, ranges), *w.shape)
        err += float((back - w.float()).square().sum())
        norm += float(w.float().square().sum())
    return round((err / norm) ** 0.5, 5)


def quantise_seconds(ranges: str, repeats: int = 2) -> float:
    weight = (torch.randn(WIDEST_7B) * 0.02).bfloat16()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        quantize_int4(weight, KernelSettings.int4_group, ranges)
        best = min(best, time.perf_counter() - start)
    return round(best, 2)


def gptq_seconds(shape: tuple, rank: int = 256) -> dict:
    """Seconds of GPTQ on one bf16 weight of `shape` (out, in): the input statistics' factor (`inverse_factor`,
    once per distinct input of a layer) and the rounding with packing (`quantize_int4` with a hessian). H is
    a rank-`rank` product plus the identity: a positive definite (in, in) matrix, cheap to make at 18944."""
    weight = (torch.randn(shape) * 0.02).bfloat16()
    a = torch.randn(shape[1], rank)
    hessian = a @ a.t() / rank + torch.eye(shape[1])
    start = time.perf_counter()
    inverse_factor(hessian)
    factor = time.perf_counter() - start
    start = time.perf_counter()
    quantize_int4(weight, KernelSettings.int4_group, hessian=hessian)  # factors again inside, then rounds
    total = time.perf_counter() - start
    return {"factor": round(factor, 2), "rounding": round(total - factor, 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, help="a model folder with model.safetensors (its linear weights)")
    p.add_argument("--groups", type=int, nargs="+", default=[32, 64, 128])
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 beside other work)")
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--gptq-timing", action="store_true", help="also time GPTQ on the 7B's two MLP weight shapes")
    p.add_argument("--json-out", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    packed_layout()  # learned once, outside the timings
    torch.manual_seed(0)
    sets = {"normal_0.02": [(torch.randn(NORMAL_SHAPE) * 0.02).bfloat16()]}
    if args.checkpoint:
        sets[str(args.checkpoint)] = list(linear_weights(args.checkpoint).values())
    result: dict = {"threads": args.threads, "rel_l2": {}}
    for name, weights in sets.items():
        result["rel_l2"][name] = {f"g{g}": {r: rounding_error(weights, g, r) for r in RANGES} for g in args.groups}
    if not args.skip_timing:
        result["quantize_seconds_18944x3584"] = {r: quantise_seconds(r) for r in RANGES}
    if args.gptq_timing:
        result["gptq_seconds"] = {f"{o}x{i}": gptq_seconds((o, i)) for o, i in (WIDEST_7B, WIDEST_7B[::-1])}
    text = json.dumps(result, indent=1)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
