"""Benchmarks of Dimple's speed claims on Dimple-Tiny: `python -m dimple.cli bench`.

Owns these measurements, each side by side in one run so that machine noise
cancels in the ratios:

  * threshold sweep: accuracy, tokens per forward pass (generated tokens up to
    the end of the answer / forward passes) and NFE at several confidence
    thresholds, against one token per step;
  * fixed schedules: k tokens per step (threshold off, steps = ceil(L / k)),
    the matched-NFE comparison for confident decoding;
  * prefilling: decoding wall clock with and without the prompt cache at
    several prompt/response length ratios (same inputs, same number of
    iterations, alternated, median of repeats after a warm-up). A decode's
    time is its iterations (the vision tower runs in the first, or in every
    one without the cache); the whole call, which also prepares the image and
    the prompt, is reported beside it. The decode is set against the ratio of
    tokens all its passes feed (the cached run's first pass still feeds the
    whole prompt), one iteration after the first against the analytic ratio
    (prompt + response) / (response + 1) of the tokens one pass feeds; the
    rate of the widest matmul at those row counts shows what the CPU allows;
  * end to end: the wall clock of each accuracy run against the baseline (one
    token per step, no cache), and batched decoding's throughput.

It knows nothing of the UI; accuracy comes from `evaluate`.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import dataclass

import torch

from ..config import DecodeConfig
from ..tiny.settings import TINY

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
FIXED_K = (2, 3, 4, 6, 8)
IMAGE_SIDES = (112, 168, 224, 336, 448)  # 16, 36, 64, 144, 256 image tokens
ANSWER_LENGTHS = (8, 16, 32, 64)


@dataclass
class BenchSettings:
    limit: int = 100  # held-out samples per accuracy point
    max_new_tokens: int = TINY.canvas  # response canvas in the accuracy runs: Tiny's, as in eval and training
    repeats: int = 5  # timed repeats per prefill point (median reported)
    threads: int = 2  # torch threads while timing
    seed: int = 0

    def validate(self) -> "BenchSettings":
        for name, low in (("limit", 1), ("max_new_tokens", 1), ("repeats", 1), ("threads", 1)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        return self


def _accuracy_point(assistant, settings: BenchSettings, cfg: DecodeConfig, label: str) -> dict:
    from ..tiny.evaluate import evaluate

    result = evaluate(assistant.model, (assistant.tokenizer, assistant.image_processor), n=settings.limit, cfg=cfg)
    return {
        "setting": label,
        "alg_p_threshold": cfg.alg_p_threshold,
        "steps": cfg.steps,
        "skip_padding": cfg.skip_padding,
        "accuracy": result["accuracy"],
        "tokens_per_forward": result["tokens_per_forward"],
        "nfe_mean": result["nfe_mean"],
        "nfe_per_max_new_tokens": round(result["nfe_mean"] / cfg.max_new_tokens, 4),
        "seconds": round(result.get("seconds", 0.0), 3),
    }


def threshold_sweep(assistant, settings: BenchSettings) -> dict:
    L = settings.max_new_tokens
    base = DecodeConfig(max_new_tokens=L, steps=L, seed=settings.seed)
    rows = [_accuracy_point(assistant, settings, base.with_(alg_p_threshold=0.0), "one token per step")]
    for thr in THRESHOLDS:
        rows.append(_accuracy_point(assistant, settings, base.with_(alg_p_threshold=thr), f"threshold {thr}"))
    rows.append(_accuracy_point(assistant, settings, base.with_(alg_p_threshold=0.9, skip_padding=True),
                                "threshold 0.9 + skip padding"))
    for thr in (0.9, 0.7, 0.5):
        rows.append(_accuracy_point(assistant, settings,
                                    base.with_(alg_p_threshold=thr, skip_padding=True, response_cache=4),
                                    f"threshold {thr} + skip padding + response cache"))
    baseline = _accuracy_point(assistant, settings, base.with_(alg_p_threshold=0.0, prefill=False),
                               "baseline: one token per step, no cache")
    fixed = [
        _accuracy_point(assistant, settings, base.with_(alg_p_threshold=0.0, steps=math.ceil(L / k)), f"{k} per step")
        for k in FIXED_K
    ]
    return {"threshold_sweep": rows, "fixed_schedule": fixed, "baseline_no_cache": baseline}


def end_to_end(result: dict) -> list[dict]:
    """Wall clock of each accuracy run (the same samples, one run after another) against the baseline
    (one token per step, no cache): the end-to-end speedup of each setting."""
    base = result["baseline_no_cache"]
    rows = []
    for row in [base] + result["threshold_sweep"]:
        if row["seconds"] > 0:
            rows.append({"setting": row["setting"], "accuracy": row["accuracy"],
                         "tokens_per_forward": row["tokens_per_forward"], "nfe_mean": row["nfe_mean"],
                         "seconds": row["seconds"], "speedup_over_baseline": round(base["seconds"] / row["seconds"], 2)})
    return rows


def fed_tokens(prompt_len: int, response_len: int, nfe: int, prefill: bool) -> int:
    """Tokens the forward passes of one decode feed: without the prompt cache every pass feeds the whole
    sequence; with it the first pass fills the cache with the whole sequence, later ones feed the response."""
    if not prefill:
        return nfe * (prompt_len + response_len)
    return (prompt_len + response_len) + max(nfe - 1, 0) * response_len


def _timed_decode(assistant, image, prompt, cfg: DecodeConfig) -> tuple[float, float, int, list[float]]:
    """(seconds of the decode: its iterations, the vision tower in the first; seconds of the whole call,
    also preparing the image and the prompt; forward passes; seconds of each iteration after the first)."""
    start = time.perf_counter()
    traj = assistant.generate(image, prompt, cfg)
    return traj.total_seconds, time.perf_counter() - start, traj.nfe, [s.seconds for s in traj.steps[1:]]


@contextlib.contextmanager
def _pinned_threads(n: int):
    saved = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def prefill_speedups(assistant, settings: BenchSettings) -> list[dict]:
    """Decode time with/without the prompt cache, same inputs and iterations, alternated."""
    with _pinned_threads(settings.threads):
        return _prefill_rows(assistant, settings)


def _prefill_rows(assistant, settings: BenchSettings) -> list[dict]:
    from ..tiny.world import make_sample, split_seeds

    sample = make_sample(split_seeds("eval", 1)[0], category="describe")
    processor = assistant.image_processor
    rows = []
    for side in IMAGE_SIDES:
        image = sample.image.resize((side, side))
        saved = processor.max_pixels
        processor.max_pixels = max(saved, side * side)
        try:
            prompt_len = assistant.encode(image, sample.question)["input_ids"].shape[1]
            for length in ANSWER_LENGTHS:
                # threshold off: the schedule alone sets the commits, so both runs take the same iterations
                cfg = DecodeConfig(max_new_tokens=length, steps=length, alg_p_threshold=0.0, seed=settings.seed)
                times: dict[bool, list[float]] = {True: [], False: []}
                calls: dict[bool, list[float]] = {True: [], False: []}
                later: dict[bool, list[float]] = {True: [], False: []}
                nfe = {}
                for prefill in (True, False):  # warm-up
                    _timed_decode(assistant, image, sample.question, cfg.with_(prefill=prefill))
                for _ in range(settings.repeats):
                    for prefill in (True, False):
                        t, call, nfe[prefill], steps = _timed_decode(assistant, image, sample.question,
                                                                     cfg.with_(prefill=prefill))
                        times[prefill].append(t)
                        calls[prefill].append(call)
                        later[prefill] += steps
                on, off = statistics.median(times[True]), statistics.median(times[False])
                # one iteration after the first: what the analytic ratio describes (fed P+R vs R+1 tokens)
                step_ratio = statistics.median(later[False]) / statistics.median(later[True]) if later[True] else None
                analytic = (prompt_len + length) / (length + 1)
                fed_off = fed_tokens(prompt_len, length, nfe[False], prefill=False)
                fed_on = fed_tokens(prompt_len, length, nfe[True], prefill=True)
                rows.append({
                    "image_tokens": (side // 28) ** 2, "prompt_tokens": prompt_len, "response_tokens": length,
                    "prompt_over_response": round(prompt_len / length, 3), "nfe": nfe[True], "nfe_no_prefill": nfe[False],
                    "seconds_prefill": round(on, 4), "seconds_no_prefill": round(off, 4),
                    "speedup": round(off / on, 3), "analytic_ratio": round(analytic, 3),
                    "call_speedup": round(statistics.median(calls[False]) / statistics.median(calls[True]), 3),
                    "fraction_of_analytic": round((off / on) / analytic, 3),
                    "iteration_speedup": round(step_ratio, 3) if step_ratio else None,
                    "iteration_fraction_of_analytic": round(step_ratio / analytic, 3) if step_ratio else None,
                    "fed_token_ratio": round(fed_off / fed_on, 3),
                    "fraction_of_fed_token_ratio": round((off / on) / (fed_off / fed_on), 3),
                })
        finally:
            processor.max_pixels = saved
    return rows


MATMUL_ROWS = (1, 9, 17, 33, 58, 78, 158, 278)  # tokens one pass feeds: cached (R + 1) to uncached (P + R)


def matmul_rates(model, settings: BenchSettings, rows=MATMUL_ROWS, repeats: int = 200) -> list[dict]:
    """Time and GFLOP/s of the language model's widest per-layer matmul (hidden -> intermediate) at
    several row counts. The analytic prefill ratio assumes a pass costs in proportion to the tokens it
    feeds; on a CPU a matmul of a few rows runs far below the rate of a long one."""
    weight = model.model.layers[0].mlp.gate_proj.weight.detach()
    out = []
    with _pinned_threads(settings.threads), torch.no_grad():
        for n in rows:
            x = torch.randn(n, weight.shape[1], dtype=weight.dtype, device=weight.device)
            for _ in range(repeats // 10):  # warm-up
                torch.nn.functional.linear(x, weight)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                torch.nn.functional.linear(x, weight)
                times.append(time.perf_counter() - start)
            seconds = statistics.median(times)
            out.append({"rows": n, "microseconds": round(seconds * 1e6, 2),
                        "gflops": round(2 * n * weight.numel() / seconds / 1e9, 2)})
    return out


def prefill_accuracy(assistant, settings: BenchSettings) -> dict:
    L = settings.max_new_tokens
    cfg = DecodeConfig(max_new_tokens=L, steps=L, alg_p_threshold=0.9, seed=settings.seed)
    on = _accuracy_point(assistant, settings, cfg, "prefill on")
    off = _accuracy_point(assistant, settings, cfg.with_(prefill=False), "prefill off")
    return {"on": on, "off": off, "accuracy_difference": round(on["accuracy"] - off["accuracy"], 4)}


def batched_throughput(assistant, settings: BenchSettings, sizes=(4, 8)) -> list[dict]:
    """Requests per second: B requests one at a time vs in one batch (same inputs, alternated)."""
    with _pinned_threads(settings.threads):
        return _batched_rows(assistant, settings, sizes)


def _batched_rows(assistant, settings: BenchSettings, sizes) -> list[dict]:
    from ..tiny.world import make_sample, split_seeds

    cfg = DecodeConfig(max_new_tokens=settings.max_new_tokens, steps=settings.max_new_tokens, alg_p_threshold=0.9,
                       seed=settings.seed)
    rows = []
    for size in sizes:
        samples = [make_sample(seed) for seed in split_seeds("eval", size, start=500)]
        items = [(s.image, s.question) for s in samples]
        assistant.generate_batch(items[:2], cfg)  # warm-up
        solo, batch = [], []
        for _ in range(max(1, settings.repeats // 2)):
            start = time.perf_counter()
            alone = [assistant.generate(image, q, cfg) for image, q in items]
            solo.append(time.perf_counter() - start)
            start = time.perf_counter()
            together = assistant.generate_batch(items, cfg)
            batch.append(time.perf_counter() - start)
        same = sum(a.answer_ids == b.answer_ids for a, b in zip(alone, together))
        t_solo, t_batch = statistics.median(solo), statistics.median(batch)
        rows.append({"requests": size, "seconds_one_at_a_time": round(t_solo, 3), "seconds_batched": round(t_batch, 3),
                     "requests_per_s_one_at_a_time": round(size / t_solo, 3),
                     "requests_per_s_batched": round(size / t_batch, 3), "speedup": round(t_solo / t_batch, 3),
                     "same_answers": f"{same}/{size}"})
    return rows


def run_bench(args) -> dict:
    from ..assistant import Assistant

    settings = BenchSettings(limit=args.limit, seed=args.seed).validate()
    assistant = Assistant.load(args.model, device=args.device)
    result = threshold_sweep(assistant, settings)
    result["prefill"] = {"timing": prefill_speedups(assistant, settings), "accuracy": prefill_accuracy(assistant, settings),
                         "matmul": matmul_rates(assistant.model, settings)}
    result["end_to_end"] = end_to_end(result)
    result["batched"] = batched_throughput(assistant, settings)
    result["settings"] = settings.__dict__
    if args.plots:
        from .plots import save_plots

        result["plots"] = save_plots(result, args.plots)
    return result
