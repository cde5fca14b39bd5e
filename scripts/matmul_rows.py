"""The 7B's matmuls at a prompt's row count: plain bf16 and oneDNN-prepacked, ms and GFLOP/s.

    python scripts/matmul_rows.py [--rows 33 300] [--threads 2]
    python scripts/matmul_rows.py --int8 [--rows 1 33 256]     # the int8 kernels (w8a8's too) beside bf16
    python scripts/matmul_rows.py --int4 [--rows 1 33 256] [--group 32]   # the int4 kernels beside int8 and bf16

A first pass (the prompt, 300 tokens with a 256-token image, and the vision tower's 1,024 patches) is
compute-bound, so its floor is its FLOPs over the matmul rate this CPU reaches at that row count. This prints
that rate for each of the language model's and the vision tower's linear shapes (random weights, best of 3),
and the floor it gives for the first pass: 28 language layers at the prompt's rows, 32 vision blocks at 1,024
rows and the 152k lm_head at the canvas's rows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dimple.int4 import int4_dequant, int4_gemv, quantize_int4  # noqa: E402
from dimple.fused_matmul import int4_fused, int8_fused, tile_int8, unavailable_reason  # noqa: E402
from dimple.int4_native import int4_native  # noqa: E402
from dimple.int8 import int8_dequant, int8_gemv, int8_upcast, quantize_weight, w8a8_intmm  # noqa: E402
from dimple.kernels import KernelSettings  # noqa: E402
from dimple.packed_linear import pack_weight, packed_linear  # noqa: E402

# (in, out, per block): the released Dimple-7B's linear shapes (dimple/scale/dimple-7b-parameters.json)
LANGUAGE = {"q_proj": (3584, 3584), "k_proj": (3584, 512), "v_proj": (3584, 512), "o_proj": (3584, 3584),
            "gate_proj": (3584, 18944), "up_proj": (3584, 18944), "down_proj": (18944, 3584)}
VISION = {"qkv": (1280, 3840), "proj": (1280, 1280), "gate_proj": (1280, 3420), "up_proj": (1280, 3420),
          "down_proj": (3420, 1280)}
LAYERS, VISION_BLOCKS, PATCHES, CANVAS, VOCAB = 28, 32, 1024, 64, 152064


def best_ms(fn, repeats: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def shape_ms(in_f: int, out_f: int, rows: int) -> dict:
    w = torch.randn(out_f, in_f, dtype=torch.bfloat16) * 0.02
    x = torch.randn(rows, in_f, dtype=torch.bfloat16)
    packed = pack_weight(w)
    return {"plain": best_ms(lambda: F.linear(x, w)), "packed": best_ms(lambda: packed_linear(x, packed, None))}


def int8_table(rows_list) -> None:
    """Each int8 kernel beside plain bf16 on the language model's three large shapes, ms per call (w8a8_intmm
    rounds the activations too: another function, `quantize="w8a8"`)."""
    for name in ("q_proj", "gate_proj", "down_proj"):
        i, o = LANGUAGE[name]
        w = torch.randn(o, i, dtype=torch.bfloat16) * 0.02
        q, s = quantize_weight(w)
        pairs = tile_int8(q) if unavailable_reason("int8") is None else None
        for rows in rows_list:
            x = torch.randn(rows, i, dtype=torch.bfloat16)
            ms = {"bf16 plain": best_ms(lambda: F.linear(x, w)), "int8_gemv": best_ms(lambda: int8_gemv(x, q, s)),
                  "int8_upcast": best_ms(lambda: int8_upcast(x, q, s)),
                  "int8_dequant": best_ms(lambda: int8_dequant(x, q, s)),
                  "w8a8_intmm": best_ms(lambda: w8a8_intmm(x, q, s))}
            if pairs is not None:  # AVX-512 BF16 only
                ms["int8_fused"] = best_ms(lambda: int8_fused(x, pairs, s))
            print(f"{rows} rows {name} {i}->{o}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in ms.items()), flush=True)


def int4_table(rows_list, group: int) -> None:
    """Each int4 kernel beside weight-only int8's and plain bf16 on the language model's three large shapes,
    ms per call."""
    for name in ("q_proj", "gate_proj", "down_proj"):
        i, o = LANGUAGE[name]
        w = torch.randn(o, i, dtype=torch.bfloat16) * 0.02
        q, s = quantize_weight(w)
        packed, sz = quantize_int4(w, group)
        for rows in rows_list:
            x = torch.randn(rows, i, dtype=torch.bfloat16)
            ms = {"bf16 plain": best_ms(lambda: F.linear(x, w)), "int8_gemv": best_ms(lambda: int8_gemv(x, q, s)),
                  "int8_dequant": best_ms(lambda: int8_dequant(x, q, s)),
                  "int4_gemv": best_ms(lambda: int4_gemv(x, packed, sz, o)),
                  "int4_fused": best_ms(lambda: int4_fused(x, packed, sz, o)),
                  "int4_native": best_ms(lambda: int4_native(x, packed, sz, o)),
                  "int4_dequant": best_ms(lambda: int4_dequant(x, packed, sz, o))}
            print(f"{rows} rows {name} {i}->{o} (int4 groups of {group}): "
                  + ", ".join(f"{k} {v:.1f} ms" for k, v in ms.items()), flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, nargs="+", default=[33, 300])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--int8", action="store_true", help="time the int8 kernels beside bf16 instead")
    p.add_argument("--int4", action="store_true", help="time the int4 kernels beside int8's and bf16 instead")
    p.add_argument("--group", type=int, default=KernelSettings.int4_group, help="int4 input columns per scale")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.int8:
        int8_table(args.rows)
        return 0
    if args.int4:
        int4_table(args.rows, args.group)
        return 0
    for rows in args.rows:
        layer = 0.0
        for name, (i, o) in LANGUAGE.items():
            ms = shape_ms(i, o, rows)
            fastest = min(ms.values())
            layer += fastest
            print(f"{rows} rows {name} {i}->{o}: " + ", ".join(
                f"{k} {v:.1f} ms ({2 * rows * i * o / v / 1e6:.0f} GFLOP/s)" for k, v in ms.items()), flush=True)
        print(f"{rows} rows: one language layer {layer:.0f} ms, {LAYERS} layers {layer * LAYERS / 1e3:.1f} s")
    vision = sum(min(shape_ms(i, o, PATCHES).values()) for i, o in VISION.values())
    head = min(shape_ms(3584, VOCAB // 8, CANVAS).values()) * 8  # an eighth of the rows, eight times
    print(f"vision tower at {PATCHES} patches: one block {vision:.0f} ms, {VISION_BLOCKS} blocks "
          f"{vision * VISION_BLOCKS / 1e3:.1f} s; lm_head at {CANVAS} rows {head:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
