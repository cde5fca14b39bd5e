"""int8 (weight-only), w8a8 (int8 activations too) and int4 (weight-only, group-wise) against bf16/fp32:
`python scripts/int8_accuracy.py [--layers 2] [--int4-groups 32 64 128] [--int4-ranges searched|minmax]
[--threads 1] [--json-out F]`.

Measures (1) the reference fixture model's logits (the original implementation's `canvas_logits`) with and
without quantised weights, in float32 and bf16 activations, and the decoded histories of its five reference
cases (tokens that differ); (2) a random stack of decoder layers at the released 7B shape plus its lm_head
(normal(0, 0.02) weights, as the scale checkpoints): the logits of 64 positions, bf16 against int8, w8a8 and
int4 (at each group size asked for) against a float32 run of the same weights. Prints JSON. A measurement
tool, not a test (tests/test_quantize.py holds the small-shape bounds). int4 runs on the CPU only.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dimple  # noqa: E402
from dimple.config import DecodeConfig  # noqa: E402
from dimple.loading import load_model  # noqa: E402
from dimple.kernels import REFERENCE as REFERENCE_KERNEL  # noqa: E402
from dimple.quantize import MODES, Int8Linear, quantize_linears  # noqa: E402
from dimple.kernels import KernelSettings  # noqa: E402
from dimple.int4_ranges import RANGES  # noqa: E402

QUANTIZED = [m for m in MODES if m]

REFERENCE = ROOT / "tests" / "fixtures" / "dimple-reference"


def compare(test: torch.Tensor, ref: torch.Tensor) -> dict:
    """Error of `test` logits against `ref` (same shape (..., vocab))."""
    t, r = test.float().flatten(0, -2), ref.float().flatten(0, -2)
    diff = (t - r).abs()
    return {"max_abs": round(float(diff.max()), 5), "mean_abs": round(float(diff.mean()), 6),
            "ref_max_abs": round(float(r.abs().max()), 4),
            "rel_l2": round(float((t - r).norm() / r.norm()), 6),
            "top1_agree": round(float((t.argmax(-1) == r.argmax(-1)).float().mean()), 4),
            "cosine_min": round(float(torch.nn.functional.cosine_similarity(t, r, dim=-1).min()), 6)}


def reference_fixture(int4_group: int, int4_ranges: str) -> dict:
    from safetensors.torch import load_file

    e = load_file(str(REFERENCE / "expected.safetensors"))
    cases = json.loads((REFERENCE / "cases.json").read_text())["cases"]
    inputs = dict(attention_mask=e["attention_mask"], pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"])
    out: dict = {}
    for dtype in ("fp32", "bf16"):
        settings = KernelSettings(int4_group=int4_group, int4_ranges=int4_ranges)
        models = {q: load_model(str(REFERENCE), dtype=dtype, quantize=q, kernel_settings=settings) for q in MODES}
        with torch.no_grad():
            logits = {q: m(e["canvas_ids"], **{**inputs, "attention_mask": torch.ones_like(e["canvas_ids"])}).logits
                      for q, m in models.items()}
        out[dtype] = {"float_vs_reference": compare(logits[None], e["canvas_logits"]), "histories": {}}
        for q in QUANTIZED:
            out[dtype].update({f"{q}_vs_reference": compare(logits[q], e["canvas_logits"]),
                               f"{q}_vs_float": compare(logits[q], logits[None])})
        for case in cases:
            cfg = DecodeConfig(max_new_tokens=case["max_new_tokens"], steps=case["steps"], alg=case["alg"],
                               alg_p_threshold=case["alg_p_threshold"], temperature=case["temperature"],
                               alg_temp=case["alg_temp"], use_original_confidence=case["use_original_confidence"],
                               prefill=case["use_cache"])
            expected = e[f"history_{case['name']}"].tolist()
            got = {q: dimple.generate(m, e["input_ids"], cfg, **inputs) for q, m in models.items()}
            out[dtype]["histories"][case["name"]] = {
                f"{q or dtype}": {"equal": t.states() == expected, "passes": t.nfe, "expected_passes": len(expected),
                                  "final_tokens_differing": sum(a != b for a, b in zip(t.response_ids, expected[-1]))}
                for q, t in got.items()}
    return out


def random_stack(shape: str, layers: int, seed: int = 0):
    """(stack, config): `layers` decoder layers of a dimple.scale shape, final norm and lm_head, bf16, weights
    normal(0, initializer_range) as the scale checkpoints, norms one, biases zero."""
    from dimple.modeling import DimpleTextModel
    from dimple.scale.shapes import SHAPES, dimple_config

    config = dimple_config(SHAPES[shape])
    config.num_hidden_layers = layers
    torch.manual_seed(seed)
    with torch.device("meta"):
        text = DimpleTextModel(config)
    text = text.to_empty(device="cpu").to(torch.bfloat16)
    head = torch.nn.Linear(config.hidden_size, config.vocab_size, bias=False).to(torch.bfloat16)
    with torch.no_grad():
        for name, p in list(text.named_parameters()) + [("lm_head.weight", head.weight)]:
            if p.dim() == 1:
                p.copy_(torch.zeros_like(p) if name.endswith("bias") else torch.ones_like(p))
            else:
                p.normal_(0, config.initializer_range)
        text.rotary_emb.inv_freq.copy_(type(text.rotary_emb)(config).inv_freq)
    return torch.nn.ModuleDict({"text": text, "head": head}).eval(), config


def layer_stack(layers: int, tokens: int, int4_groups: tuple, int4_ranges: str, seed: int = 0,
                shape: str = "7b") -> dict:
    """A random 7B-shaped stack: float32 vs bf16 vs int8 / w8a8 / int4 (each group size)."""
    stack, config = random_stack(shape, layers, seed)
    embeds = torch.randn(1, tokens, config.hidden_size) * 0.02
    positions = torch.arange(tokens).view(1, 1, -1).expand(3, 1, -1)

    def run(module, dtype):
        with torch.no_grad():
            return module["head"](module["text"](embeds.to(dtype), positions, None, None)).float()

    logits_bf16 = run(stack, torch.bfloat16)
    logits_fp32 = run(stack.float(), torch.float32)
    out = {"layers": layers, "tokens": tokens, "hidden": config.hidden_size, "vocab": config.vocab_size,
           "bf16_vs_fp32": compare(logits_bf16, logits_fp32)}
    stack.to(torch.bfloat16)
    for group in int4_groups:  # on a copy: int4 and int8 each replace the bf16 weights they quantise
        copied = copy.deepcopy(stack)
        quantize_linears(copied, {}, mode="int4", int4_group=group, int4_ranges=int4_ranges)
        logits = run(copied, torch.bfloat16)
        del copied
        out.update({f"int4_g{group}_vs_fp32": compare(logits, logits_fp32),
                    f"int4_g{group}_vs_bf16": compare(logits, logits_bf16)})
    quantize_linears(stack, {})  # int8 weights, their floating copies freed
    for mode in ("int8", "w8a8"):  # both modes read the same int8 weight: only the kernel changes
        for m in stack.modules():
            if isinstance(m, Int8Linear):
                m.choice = {1: REFERENCE_KERNEL[mode]}
        logits = run(stack, torch.bfloat16)
        out.update({f"{mode}_vs_fp32": compare(logits, logits_fp32), f"{mode}_vs_bf16": compare(logits, logits_bf16)})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--int4-groups", type=int, nargs="+", default=[KernelSettings.int4_group],
                   help="int4 group sizes measured on the 7B stack (the fixture uses the first)")
    p.add_argument("--int4-ranges", choices=sorted(RANGES), default=KernelSettings.int4_ranges,
                   help="how int4 chooses each group's scale and zero (minmax: the earlier scheme)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (1 beside other work)")
    p.add_argument("--skip-stack", action="store_true", help="the reference fixture only")
    p.add_argument("--json-out", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {"threads": args.threads, "int4_groups": args.int4_groups, "int4_ranges": args.int4_ranges,
              "reference_fixture": reference_fixture(args.int4_groups[0], args.int4_ranges)}
    if not args.skip_stack:
        result["random_7b_stack"] = layer_stack(args.layers, args.tokens, tuple(args.int4_groups), args.int4_ranges)
    text = json.dumps(result, indent=1)
    if args.json_out:
        args.json_out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
