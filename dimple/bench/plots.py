"""Plots and a markdown report of a `bench` result (a dict as `dimple.bench.run_bench` returns).

Owns the two figures (accuracy vs tokens per forward; prefill speedup vs
prompt/response ratio) and the README section made from the numbers. It does
not run anything: `python -m dimple.bench.plots bench.json [--plots DIR]`
prints the markdown for a saved result.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _sweep_groups(result: dict) -> tuple:
    """(rows, marker, legend, joined by a line?, point label) of each series on the accuracy figure."""
    sweep = result.get("threshold_sweep", [])
    return (
        ([r for r in sweep if r["setting"].startswith("threshold") and " + " not in r["setting"]], "o",
         "confident decoding (threshold τ)", True, lambda r: r["setting"].replace("threshold ", "τ=")),
        ([r for r in sweep if " + " in r["setting"]], "^", "τ + skip padding (+ response cache)", False, None),
        ([r for r in sweep if not r["setting"].startswith("threshold")], "*", "one token per step", False, None),
        (result.get("fixed_schedule", []), "s", "fixed k per step", True, lambda r: r["setting"].split()[0]),
    )


def _accuracy_figure(plt, result: dict, path: str) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for rows, marker, label, line, name in _sweep_groups(result):
        if not rows:
            continue
        rows = sorted(rows, key=lambda r: r["tokens_per_forward"])
        xs, ys = [r["tokens_per_forward"] for r in rows], [100 * r["accuracy"] for r in rows]
        ax.plot(xs, ys, marker=marker, linestyle="-" if line else "none", markersize=9 if marker == "*" else 6,
                fillstyle="none" if marker == "^" else "full", label=label)
        for r in rows if name else []:
            ax.annotate(name(r), (r["tokens_per_forward"], 100 * r["accuracy"]), fontsize=7, xytext=(4, -9),
                        textcoords="offset points")
    ax.set_xlabel("tokens per forward pass")
    ax.set_ylabel("exact match (%)")
    ax.set_title("Accuracy vs parallelism (Dimple-Tiny)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower center")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _prefill_figure(plt, timing: list, path: str) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter([r["prompt_over_response"] for r in timing], [r["speedup"] for r in timing],
               label="measured, whole decode")
    per_step = [r for r in timing if r.get("iteration_speedup")]
    if per_step:
        ax.scatter([r["prompt_over_response"] for r in per_step], [r["iteration_speedup"] for r in per_step],
                   marker="s", facecolors="none", edgecolors="C3", label="measured, one later iteration")
    ax.scatter([r["prompt_over_response"] for r in timing], [r["analytic_ratio"] for r in timing], marker="x",
               label="analytic (P+R)/(R+1), one iteration")
    fed = [r for r in timing if "fed_token_ratio" in r]
    if fed:
        ax.scatter([r["prompt_over_response"] for r in fed], [r["fed_token_ratio"] for r in fed], marker="+",
                   label="tokens all passes feed, whole decode")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("prompt / response tokens")
    ax.set_ylabel("decode speedup with prefilling")
    ax.set_title("Prefilling speedup (Dimple-Tiny, CPU)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_plots(result: dict, folder: str) -> list[str]:
    """Write the accuracy figure, and the prefill figure where the result has timings; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = [str(out / "accuracy_vs_tokens_per_forward.png")]
    _accuracy_figure(plt, result, paths[0])
    timing = result.get("prefill", {}).get("timing", [])
    if timing:
        paths.append(str(out / "prefill_speedup.png"))
        _prefill_figure(plt, timing, paths[-1])
    return paths


def markdown(result: dict) -> str:
    lines = ["| setting | accuracy | tokens / forward | mean NFE | NFE / max new tokens |", "|---|---|---|---|---|"]
    for r in result.get("threshold_sweep", []) + result.get("fixed_schedule", []):
        lines.append(f"| {r['setting']} | {100 * r['accuracy']:.1f}% | {r['tokens_per_forward']:.2f} | "
                     f"{r['nfe_mean']:.1f} | {r['nfe_per_max_new_tokens']:.3f} |")
    timing = result.get("prefill", {}).get("timing", [])
    if timing:
        lines += ["", "| image tokens | prompt | response | prompt/response | decode speedup | whole call | fed-token ratio "
                      "| of it | per-iteration speedup | analytic (P+R)/(R+1) | of it |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in timing:  # results from before a column existed show "-"
            fed = (f"{r['fed_token_ratio']:.2f}x | {100 * r['fraction_of_fed_token_ratio']:.0f}%"
                   if "fed_token_ratio" in r else "- | -")
            per_step = (f"{r['iteration_speedup']:.2f}x" if r.get("iteration_speedup") else "-")
            call = f"{r['call_speedup']:.2f}x" if r.get("call_speedup") else "-"
            of_analytic = r.get("iteration_fraction_of_analytic")
            lines.append(f"| {r['image_tokens']} | {r['prompt_tokens']} | {r['response_tokens']} | "
                         f"{r['prompt_over_response']:.2f} | {r['speedup']:.2f}x | {call} | {fed} | {per_step} | "
                         f"{r['analytic_ratio']:.2f}x | {f'{100 * of_analytic:.0f}%' if of_analytic else '-'} |")
    matmul = result.get("prefill", {}).get("matmul", [])
    if matmul:
        lines += ["", "| rows fed (tokens) | " + " | ".join(str(r["rows"]) for r in matmul) + " |",
                  "|---|" + "---|" * len(matmul),
                  "| widest matmul, µs | " + " | ".join(f"{r['microseconds']:.0f}" for r in matmul) + " |",
                  "| GFLOP/s | " + " | ".join(f"{r['gflops']:.1f}" for r in matmul) + " |"]
    e2e = result.get("end_to_end", [])
    if e2e:
        lines += ["", "| end to end (same samples, one run after another) | accuracy | tokens / forward | seconds | "
                      "speedup over baseline |", "|---|---|---|---|---|"]
        for r in e2e:
            lines.append(f"| {r['setting']} | {100 * r['accuracy']:.1f}% | {r['tokens_per_forward']:.2f} | "
                         f"{r['seconds']:.2f} | {r['speedup_over_baseline']:.1f}x |")
    batched = result.get("batched", [])
    if batched:
        lines += ["", "| requests at once | one at a time (req/s) | one batch (req/s) | throughput | same answers |",
                  "|---|---|---|---|---|"]
        for r in batched:
            lines.append(f"| {r['requests']} | {r['requests_per_s_one_at_a_time']:.1f} | "
                         f"{r['requests_per_s_batched']:.1f} | {r['speedup']:.2f}x | {r['same_answers']} |")
    acc = result.get("prefill", {}).get("accuracy")
    if acc:
        lines += ["", f"Prefilling at threshold 0.9: accuracy {100 * acc['on']['accuracy']:.1f}% with, "
                      f"{100 * acc['off']['accuracy']:.1f}% without."]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("result", help="JSON written by `python -m dimple.cli bench --json`")
    p.add_argument("--plots", default=None)
    args = p.parse_args(argv)
    result = json.loads(Path(args.result).read_text())
    if args.plots:
        save_plots(result, args.plots)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
