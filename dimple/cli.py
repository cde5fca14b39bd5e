"""Command line: `python -m dimple.cli generate | branch | eval | bench`.

Owns argument parsing and the JSON shapes of docs/DESIGN.md's CLI contract
(one generation's record is `trajectory.generation_record`). The
work itself lives in `assistant` (generate), `evaluate` (eval) and `bench`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from .config import ALGORITHMS, DecodeConfig
from .quantize import MODES
from .settings import DEFAULTS
from .trajectory import generation_record


def _decode_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="tiny", help="'tiny', a checkpoint folder or a hub id")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quantize", choices=[m for m in MODES if m], default=None,
                   help="int8: weight-only int8 linear layers (half the memory); w8a8: int8 activations too (CPU); "
                        "int4: weight-only group-wise int4 (about a quarter of the memory, CPU)")
    p.add_argument("--calibrate", metavar="EXAMPLES_DIR", default=None,
                   help="with --quantize int4: choose the int4 codes by GPTQ against the layers' inputs while the "
                        "folder's examples (index.json, as assets/examples) decode; default: round each weight alone")
    p.add_argument("--int4-codes", metavar="FILE", default=None,
                   help="with --quantize int4: read the codes saved by `python -m dimple.int4_codes` instead of "
                        "choosing them at load")
    # decoding flags default to None: an omitted flag takes the model card's default (config_from_args), and the
    # help names the table's value (dimple.settings), which a card without its own defaults uses
    p.add_argument("--alg-p-threshold", type=float, default=None,
                   help=f"confident decoding threshold (0 = off; default: the model card's, else {DEFAULTS.alg_p_threshold})")
    p.add_argument("--no-prefill", action="store_true", help="recompute the prompt at every iteration")
    p.add_argument("--max-new-tokens", type=int, default=None, help="default: the model card's")
    p.add_argument("--steps", type=int, default=None, help="default: --max-new-tokens if given, else the model card's")
    p.add_argument("--alg", choices=ALGORITHMS, default=None, help=f"default: the model card's, else {DEFAULTS.alg}")
    p.add_argument("--temperature", type=float, default=None,
                   help=f"default: the model card's, else {DEFAULTS.temperature}")
    p.add_argument("--seed", type=int, default=None, help=f"default: the model card's, else {DEFAULTS.seed}")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")


def _block_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--block-length", type=int, default=None, metavar="B",
                   help="semi-autoregressive: decode blocks of B positions left to right (default: the whole canvas)")


def load_assistant(args):
    """The Assistant the decoding flags name (--model, --device, --quantize, --calibrate, --int4-codes)."""
    from .assistant import Assistant, calibration_pairs
    from .quantize import check_int4_options

    try:
        check_int4_options(args.quantize, bool(args.calibrate), bool(args.int4_codes))
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    pairs = calibration_pairs(args.calibrate) if args.calibrate else ()
    return Assistant.load(args.model, device=args.device, quantize=args.quantize, calibration=pairs,
                          int4_codes=args.int4_codes)


def config_from_args(args, defaults: Optional[DecodeConfig] = None) -> DecodeConfig:
    base = defaults or DEFAULTS
    max_new = args.max_new_tokens if args.max_new_tokens is not None else base.max_new_tokens
    steps = args.steps if args.steps is not None else (max_new if args.max_new_tokens is not None else base.steps)
    given = {name: getattr(args, name) for name in ("alg", "alg_p_threshold", "temperature", "seed", "block_length")
             if getattr(args, name) is not None}
    return base.with_(max_new_tokens=max_new, steps=steps, prefill=base.prefill and not args.no_prefill,
                      **given).validate()


def generation_result(assistant, traj) -> dict:
    return generation_record(traj, assistant.answer_text(traj), traj.total_seconds)


def cmd_generate(args) -> int:
    from PIL import Image

    assistant = load_assistant(args)
    cfg = config_from_args(args, assistant.default_config)
    image = Image.open(args.image) if args.image else None
    traj = assistant.generate(image, args.prompt, cfg, template=args.template)
    result = generation_result(assistant, traj)
    if args.json:
        print(json.dumps(result))
    else:
        s = traj.summary()
        print(result["text"])
        print(f"[{s['tokens']} tokens · {s['nfe']} forwards · {s['tokens_per_forward']} tok/fwd · {s['latency_s']} s]",
              file=sys.stderr)
    return 0


def _edit(assistant, traj, canvas: list[int], spec: str) -> tuple[list[int], list[int]]:
    """Apply one --set POS=WORD to `canvas`; returns (canvas, the positions written)."""
    from .branching import place, spaced

    pos_text, sep, word = spec.partition("=")
    if not sep or not pos_text.strip().isdigit():
        raise ValueError(f"--set takes POS=WORD (e.g. 3=green), got {spec!r}")
    pos = int(pos_text)
    replaced = traj.token_text.get(canvas[pos], "") if pos < len(canvas) and canvas[pos] != traj.mask_token_id else ""
    ids = assistant.token_ids(spaced(word, replaced))
    protected = [i for i, f in enumerate(traj.fixed) if f]
    return place(canvas, pos, ids, protected), list(range(pos, pos + len(ids)))


def cmd_branch(args) -> int:
    """Answer, then branch at --at-step with the edits and decode the rest; print both and where they differ."""
    from PIL import Image

    from .branching import differences, remask, remask_all_but, resume_point

    assistant = load_assistant(args)
    cfg = config_from_args(args, assistant.default_config)
    image = Image.open(args.image) if args.image else None
    original = assistant.generate(image, args.prompt, cfg, template=args.template)
    point = resume_point(original, min(args.at_step, original.nfe))
    canvas, edited = point.pop("canvas"), []
    for spec in args.set or []:
        canvas, written = _edit(assistant, original, canvas, spec)
        edited += written
    keep = set(edited) | {i for i, f in enumerate(original.fixed) if f}
    if args.remask_rest:
        canvas = remask_all_but(canvas, keep, original.mask_token_id)
    canvas = remask(canvas, args.remask or [], original.mask_token_id)
    fixed = sorted(i for i in keep if canvas[i] != original.mask_token_id)
    steps = max(cfg.steps, point["start_step"] + 1) if original.mask_token_id in canvas else cfg.steps
    traj = None
    for traj in assistant.branch(image, args.prompt, cfg.with_(steps=steps), canvas, fixed, **point):
        pass
    result = {"original": generation_result(assistant, original), "branch": generation_result(assistant, traj),
              "at_step": point["start_step"], "edited": sorted(edited),
              "differ_at": differences(original.response_ids, traj.response_ids, original.end_token_ids)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"original ({original.nfe} passes): {result['original']['text']}")
        print(f"branch   ({point['start_step']} + {traj.nfe} passes): {result['branch']['text']}")
        print(f"differ at positions {result['differ_at']}")
    return 0


def cmd_eval(args) -> int:
    from .tiny.evaluate import evaluate

    assistant = load_assistant(args)
    cfg = config_from_args(args, assistant.default_config)
    result = evaluate(assistant.model, (assistant.tokenizer, assistant.image_processor), n=args.limit, cfg=cfg)
    result["quantize"] = args.quantize
    result["calibrate"] = args.calibrate
    result["int4_codes"] = args.int4_codes
    if args.visitor:
        from .tiny.visitor_eval import run

        result["visitor"] = run(assistant, args.visitor, threshold=cfg.alg_p_threshold, base=cfg)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


def cmd_bench(args) -> int:
    from .bench.sweep import run_bench

    result = run_bench(args)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dimple.cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="answer one question about one image")
    g.add_argument("--image", default=None)
    g.add_argument("--prompt", required=True)
    g.add_argument("--template", default=None, help="structure prior, e.g. 'Color: <mask:2>.<eos>'")
    _decode_args(g)
    _block_arg(g)
    br = sub.add_parser("branch", help="answer, edit the canvas at a step, decode the rest (docs/branching.md)")
    br.add_argument("--image", default=None)
    br.add_argument("--prompt", required=True)
    br.add_argument("--template", default=None)
    br.add_argument("--at-step", type=int, default=0, help="replay step to branch from (0: the start)")
    br.add_argument("--set", action="append", metavar="POS=WORD", help="write WORD at position POS (repeatable)")
    br.add_argument("--remask", type=int, nargs="*", metavar="POS", help="positions to mask again")
    br.add_argument("--remask-rest", action="store_true", help="mask every position but the edited and fixed ones")
    _decode_args(br)
    _block_arg(br)
    e = sub.add_parser("eval", help="exact-match accuracy on the held-out world split")
    e.add_argument("--limit", type=int, default=200)
    e.add_argument("--visitor", type=int, default=0, metavar="N",
                   help="also run the visitor evaluation with N cases per class (dimple.tiny.visitor_eval)")
    _decode_args(e)
    _block_arg(e)
    b = sub.add_parser("bench", help="threshold sweep and prefill speedups")
    b.add_argument("--limit", type=int, default=100)
    b.add_argument("--plots", default=None, help="folder for matplotlib plots")
    _decode_args(b)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"generate": cmd_generate, "branch": cmd_branch, "eval": cmd_eval,
                "bench": cmd_bench}[args.command](args)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
