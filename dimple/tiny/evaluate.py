"""Held-out evaluation of a Dimple model on the drawn world.

    python -m dimple.tiny.evaluate [--model assets/dimple-tiny | --checkpoint runs/tiny/last.pt] [--n 240]
                              [--alg-p-threshold 0.9] [--no-prefill] [--json]
    python -m dimple.tiny.evaluate --recipes [--steps N | --minutes M]   # train the three recipes on one budget, compare

Owns the metrics: exact-match accuracy overall and per category on the eval
split (disjoint seeds from training), tokens per forward pass (sum of
`trajectory.n_generated` over the sum of forward passes), mean NFE, the
early-end-of-answer rate (answers that stop before the reference length) and
the length bias (mean |answer length - reference length|, in tokens). It
decodes with the engine exactly as the app does (chat prompt, image
processor, `dimple.generate`); it does not train.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Optional

from . import score, world
from .settings import TINY, image_processor
from ..config import DecodeConfig

DEFAULT_DECODE = dict(**TINY.decode_defaults(), alg="maskgit_plus", prefill=True)


def _split_processor(processor):
    """(tokenizer, image processor) from a tuple, an object holding both, or a bare tokenizer."""
    if isinstance(processor, (tuple, list)) and len(processor) == 2:
        return processor[0], processor[1]
    tok = getattr(processor, "tokenizer", None)
    img = getattr(processor, "image_processor", None)
    if tok is not None and img is not None:
        return tok, img
    return processor, image_processor()


def eval_samples(n: int, start: int = 0) -> list[world.Sample]:
    """`n` held-out samples, the categories taken in turn (balanced)."""
    seeds = world.split_seeds("eval", n, start)
    return [world.make_sample(s, world.CATEGORIES[i % len(world.CATEGORIES)]) for i, s in enumerate(seeds)]


def evaluate(model, processor, n: int = 240, cfg: Optional[DecodeConfig] = None, start: int = 0,
             return_examples: bool = False) -> dict:
    """Decode `n` held-out samples and score them. processor: (tokenizer, image processor) or a tokenizer."""
    import torch

    from ..engine import generate
    from ..processing import encode_prompt

    cfg = (cfg or DecodeConfig(**DEFAULT_DECODE)).validate()
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    tokenizer, image_processor = _split_processor(processor)
    was_training = getattr(model, "training", False)
    model.eval()
    per_cat: dict[str, list[int]] = {c: [0, 0] for c in world.CATEGORIES}
    n_gen = nfe = early = 0
    len_diff = 0.0
    examples = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for sample in eval_samples(n, start):
            batch = encode_prompt(tokenizer, image_processor, sample.question, sample.image)
            traj = generate(model, batch["input_ids"], cfg, attention_mask=batch["attention_mask"],
                            pixel_values=batch["pixel_values"], image_grid_thw=batch["image_grid_thw"])
            text = tokenizer.decode(traj.answer_ids, skip_special_tokens=True).strip()
            ok = score.same_meaning(text, sample.answer)  # by meaning: Tiny 3 says one answer in many forms
            per_cat[sample.category][0] += int(ok)
            per_cat[sample.category][1] += 1
            n_gen += traj.n_generated
            nfe += traj.nfe
            ref_len = len(tokenizer(sample.answer, add_special_tokens=False)["input_ids"])
            got_len = len(traj.answer_ids)
            early += int(got_len < ref_len)
            len_diff += abs(got_len - ref_len)
            if return_examples:
                examples.append({"category": sample.category, "question": sample.question, "answer": sample.answer,
                                 "output": text, "ok": ok, "nfe": traj.nfe, "seed": sample.seed})
    if was_training:
        model.train()
    total_ok = sum(v[0] for v in per_cat.values())
    out = {
        "n": n,
        "accuracy": round(total_ok / n, 4),
        "per_category": {c: round(v[0] / v[1], 4) for c, v in per_cat.items() if v[1]},
        "tokens_per_forward": round(n_gen / max(nfe, 1), 3),
        "nfe_mean": round(nfe / n, 3),
        "early_eos_rate": round(early / n, 4),
        "length_bias": round(len_diff / n, 3),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if return_examples:
        out["examples"] = examples
    return out


def load(model: Optional[str] = None, checkpoint: Optional[str] = None):
    """(model, (tokenizer, image processor)) from a checkpoint file of a training run or a model folder."""
    from pathlib import Path

    if checkpoint:
        from .checkpoint import model_from_checkpoint

        m, tok, _, _ = model_from_checkpoint(checkpoint)
        return m, (tok, image_processor())
    from ..loading import load_image_processor, load_model, load_tokenizer, resolve_checkpoint

    folder = resolve_checkpoint(model or "tiny")
    m = load_model(str(folder))
    return m, (load_tokenizer(Path(folder)), load_image_processor(Path(folder)))


def compare_recipes(steps: int, n: int, cfg: DecodeConfig, out_root: str = "runs", threads: int = 2,
                    **train_overrides) -> dict:
    """Train each recipe for the same number of steps and evaluate it (AR-only decodes left to right)."""
    from .train import RECIPES, TrainConfig, train

    results = {}
    for recipe in RECIPES:
        tcfg = TrainConfig(name=f"recipe-{recipe}", out_root=out_root, recipe=recipe, steps=steps, threads=threads,
                           **train_overrides)
        out = train(tcfg, resume=True, progress=True)
        model = out["model"]
        dcfg = cfg
        if recipe == "ar-only":  # decoded as it was trained: left to right, causal attention
            model.config.full_attn_mask = False
            dcfg = cfg.with_(alg="autoregressive", alg_p_threshold=0.0, prefill=False)
        results[recipe] = evaluate(model, out["tokenizer"], n, dcfg)
    return results


def recipes_table(results: dict) -> str:
    lines = ["| recipe | accuracy | tokens / forward | NFE | early end | length bias |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['accuracy']:.3f} | {r['tokens_per_forward']:.2f} | {r['nfe_mean']:.2f} | "
                     f"{r['early_eos_rate']:.3f} | {r['length_bias']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dimple.tiny.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="model folder or 'tiny' (default)")
    p.add_argument("--checkpoint", default=None, help="a training checkpoint (runs/NAME/last.pt) instead of --model")
    p.add_argument("--n", "--limit", dest="n", type=int, default=240, help="held-out samples (categories in turn)")
    p.add_argument("--alg-p-threshold", type=float, default=0.9)
    p.add_argument("--max-new-tokens", type=int, default=DEFAULT_DECODE["max_new_tokens"])
    p.add_argument("--steps", type=int, default=None, help="decoding steps (default: max-new-tokens); with --recipes: training steps")
    p.add_argument("--alg", default="maskgit_plus")
    p.add_argument("--no-prefill", action="store_true")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--recipes", action="store_true", help="train and compare the three recipes on one budget")
    p.add_argument("--minutes", type=float, default=0.0,
                   help="with --recipes: the budget is this much training time per recipe (the schedule follows it)")
    p.add_argument("--examples", action="store_true", help="include every decoded answer in the output")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cfg = DecodeConfig(max_new_tokens=args.max_new_tokens, steps=args.max_new_tokens if args.recipes or args.steps is None else args.steps,
                           alg=args.alg, alg_p_threshold=args.alg_p_threshold, prefill=not args.no_prefill).validate()
        if args.recipes:
            budget = dict(time_budget_minutes=args.minutes) if args.minutes > 0 else {}
            res = compare_recipes(args.steps or (10**6 if budget else 2000), args.n, cfg, **budget)
            print(json.dumps(res) if args.json else recipes_table(res))
            return 0
        model, proc = load(args.model, args.checkpoint)
        res = evaluate(model, proc, args.n, cfg, return_examples=args.examples)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            if k != "examples":
                print(f"{k}: {v}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
