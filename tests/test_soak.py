"""The fast variant of `python scripts/soak.py` in CI: bad input, load, a cancelled request, a full queue, memory.

The full run (8 clients x 5 requests, 200 generations) is `python scripts/soak.py`;
the numbers in the README come from it.
"""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("gradio_client")

from conftest import ROOT  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))  # the soak is a script (scripts/soak.py); CI runs its fast variant
import soak  # noqa: E402


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = soak.soak(fast=True, tmp=tmp_path_factory.mktemp("soak"))
    print("\n" + soak.table(out))
    return out


def test_every_bad_input_gets_a_clear_error_or_an_answer_and_nothing_crashes(report):
    bad = report["bad_input"]
    assert bad["crashes"] == 0, [r for r in bad["rows"] if r["verdict"] == "crash"]
    assert bad["clear_errors"] >= 30 and bad["answered"] >= 18
    assert report["alive_at_end"]


def test_bad_input_to_the_teaching_endpoints_gets_a_clear_error(report):
    # unknown step, position out of range, grounding without an image, bad thresholds (issue 15)
    assert report["bad_input"]["teaching_clear_errors"] == 10
    assert report["bad_input"]["lesson_clear_errors"] == len(soak.BAD_LESSONS) - 1  # bad ?lesson=N (issue 33)


def test_every_bad_branch_input_gets_a_clear_error_and_an_unedited_canvas_its_answer(report):
    branch = report["branch_input"]
    assert branch["crashes"] == 0, [r for r in branch["rows"] if r["verdict"] == "crash"]
    assert branch["clear_errors"] >= 10 and branch["answered"] >= 1


def test_concurrent_clients_get_every_answer_equal_to_running_alone(report):
    load = report["load"]
    assert load["lost"] == 0 and load["wrong"] == 0 and load["requests"] >= 8


def test_the_queue_batched_endpoint_gives_the_same_answers(report):
    batching = report["batching"]
    assert batching["same_answers"] == batching["clients"]


def test_a_cancelled_request_frees_its_slot(report):
    cancel = report["cancel"]
    # had the two long decodes kept their slots, the next request would wait for one of them to finish
    assert cancel["next_answered"] and cancel["next_latency_s"] < cancel["long_request_s"]


def test_a_full_queue_says_so_and_serves_the_rest(report):
    busy = report["busy"]
    assert busy["busy"] >= 1 and busy["answered"] >= 1 and busy["other"] == 0


def test_memory_does_not_grow_over_many_generations(report):
    assert report["memory"]["growth_pct"] < 10
