"""Grouped-query attention against torch's `enable_gqa` attention, side by side in one load of a model.

    python scripts/attention_ab.py [--folder /work/scale_ckpts/7b] [--quantize int8] [--rounds 3]
                                   [--json-out runs/attention-ab.json]
    python scripts/attention_ab.py --layer-only     # one layer's attention at the 7B's heads, no model

Loads the checkpoint once (a `python -m dimple.scale --keep` folder: the released 7B shape with random weights),
then times `dimple.scale.measure.forward_table` (1, 33 and 65 fed tokens, uncached and behind a 300-token cached
prefix) in alternating rounds: A with the library's attention (`dimple.modeling.attend`, which on a CPU runs
grouped-query attention as rows of each key/value head), B with that function swapped for torch's own
`scaled_dot_product_attention(..., enable_gqa=True)`, the form it replaced. Alternating rounds in one process is
the fairest comparison this machine allows: separate loads differ by more than the effect. `--layer-only` times
the attention alone at the 7B's heads (28 query heads, 4 key/value heads of 128, a 300-position prefix), in bf16
and float32, and checks that the two forms agree.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def torch_gqa(q, k, v, mask, dropout_p: float, gqa: bool):
    import torch.nn.functional as F

    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, enable_gqa=gqa)


def layer_only(threads: int) -> dict:
    """ms per call of each form at 1, 33 and 65 queries over a 300-position prefix, and their largest difference."""
    import torch

    from dimple.modeling import grouped_query_attention
    from dimple.scale.probe import best_seconds

    torch.set_num_threads(threads)
    table: dict = {}
    for dtype in (torch.bfloat16, torch.float32):
        for seq in (1, 33, 65):
            q = torch.randn(1, seq, 28, 128, dtype=dtype).transpose(1, 2)  # as the layer makes it
            k, v = torch.randn(1, 4, 300 + seq, 128, dtype=dtype), torch.randn(1, 4, 300 + seq, 128, dtype=dtype)
            a, b = grouped_query_attention(q, k, v, None), torch_gqa(q, k, v, None, 0.0, True)
            key = f"{str(dtype).split('.')[1]} {seq}"
            table[key] = {
                "grouped_ms": round(best_seconds(lambda: grouped_query_attention(q, k, v, None), "cpu", 100) * 1e3, 4),
                "enable_gqa_ms": round(best_seconds(lambda: torch_gqa(q, k, v, None, 0.0, True), "cpu", 100) * 1e3, 4),
                "max_abs_difference": float((a.float() - b.float()).abs().max())}
            print(key, json.dumps(table[key]), flush=True)
    return table


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/attention_ab.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--folder", default="/work/scale_ckpts/7b")
    p.add_argument("--quantize", choices=("int8", "w8a8", "int4"), help="default: bf16")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layer-only", action="store_true")
    p.add_argument("--json-out")
    args = p.parse_args(argv)
    if args.layer_only:
        table = layer_only(args.threads)
        if args.json_out:
            with open(args.json_out, "w") as fh:
                json.dump(table, fh, indent=1)
        return 0
    import torch

    from dimple import modeling
    from dimple.loading import load_model
    from dimple.scale.measure import forward_table
    from dimple.scale.shapes import ScaleSettings

    torch.set_num_threads(args.threads)
    model = load_model(args.folder, device="cpu", dtype="bf16", quantize=args.quantize)
    settings = ScaleSettings(fed_tokens=(1, 33, 65), canvas=64, steps=21, scored=64).validate()
    library, out = modeling.attend, {"grouped (library)": [], "torch enable_gqa": []}
    try:
        for _ in range(args.rounds):
            for name, attend in (("grouped (library)", library), ("torch enable_gqa", torch_gqa)):
                modeling.attend = attend
                table = forward_table(model, settings, 5, "cpu", torch.Generator().manual_seed(0))
                out[name].append({r["tokens"]: {"uncached_s": r["uncached_s"], "cached_s": r["cached_s"]}
                                  for r in table["rows"]})
                print(name, json.dumps(out[name][-1]), flush=True)
    finally:
        modeling.attend = library
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump({"folder": args.folder, "quantize": args.quantize, "rounds": out}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
