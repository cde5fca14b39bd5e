"""dimple.bench / bench_plots: end-to-end speedups come from the measured runs, and the tables show them."""

from __future__ import annotations

from dimple.bench.sweep import end_to_end, fed_tokens
from dimple.bench.plots import markdown


def _row(setting, seconds, accuracy=0.5, tpf=1.0, nfe=4.0):
    return {"setting": setting, "seconds": seconds, "accuracy": accuracy, "tokens_per_forward": tpf, "nfe_mean": nfe,
            "nfe_per_max_new_tokens": nfe / 48}


def test_end_to_end_speedups_are_relative_to_the_no_cache_baseline():
    result = {"baseline_no_cache": _row("baseline", 10.0), "threshold_sweep": [_row("thr 0.9", 2.0), _row("x", 0.0)]}
    rows = end_to_end(result)
    assert [r["setting"] for r in rows] == ["baseline", "thr 0.9"]  # an untimed row is left out, not divided by 0
    assert rows[0]["speedup_over_baseline"] == 1.0 and rows[1]["speedup_over_baseline"] == 5.0


def test_markdown_has_the_sweep_end_to_end_and_batched_tables():
    result = {"baseline_no_cache": _row("baseline", 10.0), "threshold_sweep": [_row("thr 0.9", 2.0)],
              "fixed_schedule": [_row("8 per step", 1.5)],
              "batched": [{"requests": 4, "requests_per_s_one_at_a_time": 2.0, "requests_per_s_batched": 3.5,
                           "speedup": 1.75, "same_answers": "4/4"}]}
    result["end_to_end"] = end_to_end(result)
    text = markdown(result)
    assert "| thr 0.9 | 50.0% |" in text and "| 8 per step |" in text
    assert "5.0x" in text and "| 4 | 2.0 | 3.5 | 1.75x | 4/4 |" in text


def test_cached_passes_after_the_first_feed_only_the_response():
    assert fed_tokens(50, 8, 8, prefill=False) == 8 * 58
    assert fed_tokens(50, 8, 8, prefill=True) == 58 + 7 * 8
    assert fed_tokens(50, 8, 1, prefill=True) == fed_tokens(50, 8, 1, prefill=False)


def test_prefill_table_sets_the_decode_against_fed_tokens_and_one_iteration_against_analytic():
    row = {"image_tokens": 36, "prompt_tokens": 50, "response_tokens": 8, "prompt_over_response": 6.25,
           "speedup": 2.0, "analytic_ratio": 6.44, "fraction_of_analytic": 0.31}
    old = markdown({"prefill": {"timing": [row]}})
    new = markdown({"prefill": {"timing": [dict(row, fed_token_ratio=4.07, fraction_of_fed_token_ratio=0.49,
                                                iteration_speedup=4.5, iteration_fraction_of_analytic=0.699,
                                                call_speedup=1.8)]}})
    assert "| 2.00x | - | - | - | - | 6.44x | - |" in old  # results from before the columns existed
    assert "| 2.00x | 1.80x | 4.07x | 49% | 4.50x | 6.44x | 70% |" in new


def test_matmul_rates_cover_each_row_count_and_show_in_the_table():
    from dimple.assistant import Assistant
    from dimple.bench.sweep import BenchSettings, matmul_rates

    model = Assistant.load("tiny").model
    rows = matmul_rates(model, BenchSettings(threads=1), rows=(1, 9), repeats=10)
    assert [r["rows"] for r in rows] == [1, 9]
    weight = model.model.layers[0].mlp.gate_proj.weight
    for r in rows:  # the rate is the work of the timed matmul over its (rounded) time
        work = 2 * r["rows"] * weight.numel()
        assert abs(r["gflops"] - work / (r["microseconds"] * 1e-6) / 1e9) < 0.01 * r["gflops"] + 0.01
    text = markdown({"prefill": {"matmul": rows}})
    assert "| rows fed (tokens) | 1 | 9 |" in text and "| GFLOP/s |" in text


def test_prefill_timing_reports_one_iteration_and_the_whole_decode():
    import torch

    import dimple.bench.sweep as bench
    from dimple.assistant import Assistant
    from dimple.bench.sweep import BenchSettings, prefill_speedups

    threads = torch.get_num_threads()
    saved = bench.IMAGE_SIDES, bench.ANSWER_LENGTHS
    bench.IMAGE_SIDES, bench.ANSWER_LENGTHS = (112,), (4,)
    try:
        (row,) = prefill_speedups(Assistant.load("tiny"), BenchSettings(repeats=1, threads=1))
    finally:
        bench.IMAGE_SIDES, bench.ANSWER_LENGTHS = saved
    assert torch.get_num_threads() == threads  # the timing's thread pin does not leak
    assert row["nfe"] == row["nfe_no_prefill"] >= 2, row  # same iterations with and without the cache
    assert row["iteration_speedup"] > 0 and row["speedup"] > 0
    assert row["analytic_ratio"] == round((row["prompt_tokens"] + 4) / 5, 3)
    # the row holds each ratio rounded to 3 places but divides the unrounded ones, so allow that rounding
    fraction = row["iteration_speedup"] / row["analytic_ratio"]
    assert abs(row["iteration_fraction_of_analytic"] - fraction) < 2e-3, row


def test_save_plots_draws_the_sweep_its_options_and_the_prefill_figure(tmp_path):
    from dimple.bench.plots import save_plots

    timing = [{"prompt_over_response": 6.25, "speedup": 2.0, "iteration_speedup": 2.7, "analytic_ratio": 6.44,
               "fed_token_ratio": 3.83}]
    result = {"threshold_sweep": [_row("one token per step", 10.0, tpf=0.2, nfe=35), _row("threshold 0.9", 1.0, tpf=5.2),
                                  _row("threshold 0.9 + skip padding", 1.0, tpf=5.3)],
              "fixed_schedule": [_row("8 per step", 2.0, tpf=1.3, nfe=5)], "prefill": {"timing": timing}}
    paths = save_plots(result, str(tmp_path))
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["accuracy_vs_tokens_per_forward.png", "prefill_speedup.png"]
    assert all((tmp_path / p.rsplit("/", 1)[-1]).stat().st_size > 10_000 for p in paths)
