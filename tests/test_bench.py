"""dimple.bench / bench_plots: end-to-end speedups come from the measured runs, and the tables show them."""

from __future__ import annotations

from dimple.bench import end_to_end
from dimple.bench_plots import markdown


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
