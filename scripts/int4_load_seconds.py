"""Seconds to load a random checkpoint of a scale shape: bf16, int4, int4 calibrated by GPTQ, int4 from saved codes.

    python scripts/int4_load_seconds.py [--shape 0.5b] [--ckpt-dir /work/scale_ckpts] [--threads 1] [--json-out F]
        [--ways bf16,int4,int4_gptq,int4_saved_codes]

Writes the shape's random bf16 checkpoint once (`dimple.scale.checkpoint`, reused when present), then loads it
four ways with `load_model`: plain bf16; `quantize="int4"` (each group's range searched at load); int4
calibrated by GPTQ on four 200-token text prompts of random ids (no image, so the vision tower is rounded on
its own); and int4 from the codes the last int4 load before it saved (`dimple.int4_codes`; the calibrated one's
when it ran: at the 7B shape GPTQ takes hours, so `--ways bf16,int4,int4_saved_codes`). Prints JSON. A measurement
tool, not a test (tests/test_int4_codes.py holds the behaviour).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dimple.int4_codes import save_codes  # noqa: E402
from dimple.loading import load_model  # noqa: E402
from dimple.scale.checkpoint import existing_checkpoint, write_checkpoint  # noqa: E402
from dimple.scale.shapes import SHAPES  # noqa: E402

PROMPTS, PROMPT_TOKENS, SCORED = 4, 200, 49  # calibration: prompts, their length, the outputs each asks for


def calibrate(model) -> None:
    """Four forward passes of random token ids, as a decode's pass feeds them (the last SCORED outputs asked)."""
    vocab = model.config.vocab_size
    for seed in range(PROMPTS):
        ids = torch.randint(10, vocab, (1, PROMPT_TOKENS), generator=torch.Generator().manual_seed(seed))
        model(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=None, image_grid_thw=None,
              logits_index=torch.arange(PROMPT_TOKENS - SCORED - 1, PROMPT_TOKENS - 1).unsqueeze(0))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="0.5b", choices=sorted(SHAPES))
    p.add_argument("--ckpt-dir", type=Path, default=Path("/work/scale_ckpts"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json-out", type=Path)
    p.add_argument("--ways", default="bf16,int4,int4_gptq,int4_saved_codes",
                   help="comma-separated loads to time, in this order")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    folder, codes = args.ckpt_dir / args.shape, args.ckpt_dir / f"{args.shape}-int4-codes.safetensors"
    if existing_checkpoint(SHAPES[args.shape], folder) is None:
        write_checkpoint(SHAPES[args.shape], folder)
    ways = {"bf16": {}, "int4": dict(quantize="int4"), "int4_gptq": dict(quantize="int4", calibrate=calibrate),
            "int4_saved_codes": dict(quantize="int4", int4_codes=codes)}
    chosen = args.ways.split(",")
    if set(chosen) - set(ways):
        p.error(f"--ways takes {', '.join(ways)}; got {args.ways}")
    before = chosen[:chosen.index("int4_saved_codes")] if "int4_saved_codes" in chosen else []
    choosers = [n for n in before if n in ("int4", "int4_gptq")]
    saver = choosers[-1] if choosers else None  # the one write of the codes the saved-codes load reads
    result = {"shape": args.shape, "threads": args.threads, "load_seconds": {}, "codes_from": None}
    for name in chosen:
        start = time.perf_counter()
        with torch.no_grad():
            model = load_model(str(folder), dtype="bf16", **ways[name])
        result["load_seconds"][name] = round(time.perf_counter() - start, 1)
        if name == saver:
            how = f"GPTQ on {PROMPTS} random {PROMPT_TOKENS}-token prompts" if name == "int4_gptq" else "alone"
            save_codes(model, codes, how)
            result["codes_from"] = name
        del model
    text = json.dumps(result, indent=1)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
