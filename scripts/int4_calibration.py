"""int4 rounded alone against int4 calibrated by GPTQ, on a trained model's logits for questions it never saw:

    python scripts/int4_calibration.py MODEL [--samples 96] [--examples assets/examples] [--threads 1] [--json-out F]

Loads MODEL three times: float (the reference), int4 with each group rounded alone (`quantize="int4"`), and
int4 calibrated by GPTQ while the examples folder's pictures and questions decode (`calibration_pairs`). Then,
on `--samples` held-out questions of the drawn world's evaluation split (never the calibration examples), feeds
each model the prompt with its answer canvas at three mask ratios (all masked: the first decoding pass; half;
a quarter, the rest the reference answer) and compares the canvas's logits with the float model's: relative
L2 over all of them, and how often the top token agrees. Also the seconds each load took. Prints JSON. A
measurement tool, not a test (tests/test_int4_gptq.py holds the bounds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dimple.assistant import Assistant, calibration_pairs  # noqa: E402
from dimple.processing import encode_prompt  # noqa: E402
from dimple.tiny.evaluate import eval_samples  # noqa: E402

MASK_RATIOS = (1.0, 0.5, 0.25)  # share of the answer canvas masked


def canvases(assistant: Assistant, n: int, canvas_len: int) -> list[dict]:
    """Model inputs of n held-out questions, each with its canvas at every mask ratio (seeded: the same for all)."""
    tok, gen = assistant.tokenizer, torch.Generator().manual_seed(0)
    mask, pad = assistant.mask_token_id, assistant.eos_token_id
    out = []
    for sample in eval_samples(n):
        enc = encode_prompt(tok, assistant.image_processor, sample.question, sample.image)
        answer = tok(sample.answer, add_special_tokens=False)["input_ids"][:canvas_len]
        filled = torch.tensor(answer + [pad] * (canvas_len - len(answer)))
        for ratio in MASK_RATIOS:
            masked = torch.rand(canvas_len, generator=gen) < ratio
            canvas = torch.where(masked, torch.full_like(filled, mask), filled)
            ids = torch.cat([enc["input_ids"][0], canvas]).unsqueeze(0)
            out.append({"ratio": ratio, "input_ids": ids, "pixel_values": enc["pixel_values"],
                        "image_grid_thw": enc["image_grid_thw"], "canvas": canvas_len})
    return out


def canvas_logits(model, item: dict) -> torch.Tensor:
    """float32 logits (canvas, vocab) of the canvas positions: output i predicts token i + 1."""
    length = item["input_ids"].shape[1]
    index = torch.arange(length - item["canvas"] - 1, length - 1).unsqueeze(0)
    with torch.no_grad():
        out = model(input_ids=item["input_ids"], attention_mask=torch.ones_like(item["input_ids"]),
                    pixel_values=item["pixel_values"], image_grid_thw=item["image_grid_thw"], logits_index=index)
    return out.logits[0].float()


def compare(reference: list, logits: list, items: list) -> dict:
    """Per mask ratio: relative L2 of the logits against the float model's, and the top-1 agreement."""
    result = {}
    for ratio in MASK_RATIOS:
        pairs = [(r, q) for r, q, it in zip(reference, logits, items) if it["ratio"] == ratio]
        err = sum(float((q - r).square().sum()) for r, q in pairs)
        norm = sum(float(r.square().sum()) for r, _ in pairs)
        agree = sum(int((q.argmax(-1) == r.argmax(-1)).sum()) for r, q in pairs)
        total = sum(r.shape[0] for r, _ in pairs)
        result[f"masked_{ratio}"] = {"rel_l2": round((err / norm) ** 0.5, 4), "top1": round(agree / total, 4)}
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--samples", type=int, default=96)
    p.add_argument("--examples", type=Path, default=ROOT / "assets" / "examples")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json-out", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    pairs = calibration_pairs(args.examples)
    runs = {"float": dict(), "int4": dict(quantize="int4"), "int4_gptq": dict(quantize="int4", calibration=pairs)}
    result: dict = {"model": args.model, "samples": args.samples, "calibration_prompts": len(pairs),
                    "threads": args.threads, "load_seconds": {}, "logits": {}}
    reference = items = None
    for name, kwargs in runs.items():
        start = time.perf_counter()
        assistant = Assistant.load(args.model, **kwargs)
        result["load_seconds"][name] = round(time.perf_counter() - start, 1)
        if items is None:
            items = canvases(assistant, args.samples, assistant.default_config.max_new_tokens)
        logits = [canvas_logits(assistant.model, it) for it in items]
        if reference is None:
            reference = logits
        else:
            result["logits"][name] = compare(reference, logits, items)
    text = json.dumps(result, indent=1)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
