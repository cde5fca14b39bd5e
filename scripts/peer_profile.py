"""The peer shape's decode, timed and profiled: `python scripts/peer_profile.py [--dtype fp32] [--profile]`.

The small random model of issue 34's peer comparison (width 512, 4 layers, a 152k vocabulary, 64 image
tokens, a 48-token canvas) decoded with the threshold off (the schedule alone: 47 iterations) with and
without prefilling; prints seconds per decode, the first and later passes, the histories' digest (to check a
change kept every token), and with --profile the top operators of one cached pass (torch.profiler).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dimple  # noqa: E402
from dimple.config import DecodeConfig  # noqa: E402
from dimple.fast_paths import batch_vision_windows  # noqa: E402
from dimple.modeling import DimpleConfig, DimpleModel  # noqa: E402
from dimple.scale.shapes import QWEN_IDS  # noqa: E402

CANVAS, STEPS, IMAGE_SIDE, TEXT = 48, 47, 224, 20


def peer_model(dtype: torch.dtype, seed: int = 0) -> DimpleModel:
    config = DimpleConfig(vocab_size=152064, hidden_size=512, intermediate_size=1536, num_hidden_layers=4,
                          num_attention_heads=8, num_key_value_heads=2, mrope_section=[8, 12, 12],
                          max_position_embeddings=4096, tie_word_embeddings=False,
                          vision_config=dict(depth=2, hidden_size=128, intermediate_size=256, num_heads=4,
                                             out_hidden_size=512, window_size=112, fullatt_block_indexes=[1],
                                             patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
                          **QWEN_IDS)
    torch.manual_seed(seed)
    model = DimpleModel(config).to(dtype).eval()
    batch_vision_windows(model)
    return model


def prompt(config, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    grid = IMAGE_SIDE // 14
    text = torch.randint(0, 151000, (1, TEXT), generator=g)
    ids = torch.cat([text[:, :TEXT // 2], torch.tensor([[config.vision_start_token_id]]),
                     torch.full((1, (grid // 2) ** 2), config.image_token_id), torch.tensor([[config.vision_end_token_id]]),
                     text[:, TEXT // 2:]], dim=1)
    return {"input_ids": ids, "pixel_values": torch.randn(grid * grid, 1176, generator=g),
            "image_grid_thw": torch.tensor([[1, grid, grid]])}


def decode(model, inputs: dict, prefill: bool):
    cfg = DecodeConfig(max_new_tokens=CANVAS, steps=STEPS, alg_p_threshold=0.0, prefill=prefill)
    start = time.perf_counter()
    traj = dimple.generate(model, inputs["input_ids"], cfg, pixel_values=inputs["pixel_values"],
                           image_grid_thw=inputs["image_grid_thw"])
    return time.perf_counter() - start, traj


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    model = peer_model(torch.float32 if args.dtype == "fp32" else torch.bfloat16)
    inputs = prompt(model.config)
    out = {"prompt_tokens": inputs["input_ids"].shape[1], "canvas": CANVAS, "dtype": args.dtype}
    for prefill in (True, False):
        runs = [decode(model, inputs, prefill) for _ in range(args.repeats)]
        seconds, traj = min(runs, key=lambda r: r[0])
        digest = hashlib.sha1(json.dumps(traj.states()).encode()).hexdigest()[:12]
        out["prefill" if prefill else "no_prefill"] = {
            "seconds": round(seconds, 4), "passes": traj.nfe, "first_pass_s": round(traj.steps[0].seconds, 4),
            "later_pass_s": round(statistics.median(s.seconds for s in traj.steps[1:]), 5), "history_sha1": digest}
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            decode(model, inputs, True)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
