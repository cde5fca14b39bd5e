"""The linear kernel of each weight shape is chosen by measurement at load, a failing or wrong candidate is
dropped with its reason while the reference kernel stays, and the choice table reports every shape."""

import dataclasses

import pytest
import torch
from torch import nn

from dimple import kernels
from dimple.fused_matmul import untile_int8
from dimple.int8 import int8_dequant, quantize_weight
from dimple.kernels import CANDIDATES, SLICE_ROWS, KernelSettings, choose, kernel_for_rows, time_shape
from dimple.packed_linear import packing_available

FAST = KernelSettings(rows=(1, 5), repeats=1, budget_ms=0.0)


def _with(name, **changes):
    return dict(CANDIDATES, **{name: dataclasses.replace(CANDIDATES[name], **changes)})


def _raise(*_):
    raise RuntimeError("kernel exploded")


def test_a_failing_candidate_is_dropped_with_its_reason_and_the_reference_is_kept():
    table = _with("packed", run=_raise)
    timing = time_shape(16, 24, torch.float32, "cpu", ["plain", "packed"], FAST, table)
    assert set(timing["ms"]) == {"plain"} and "kernel exploded" in timing["dropped"]["packed"]
    assert choose(timing, "float", FAST.rows) == {1: "plain", 5: "plain"}


def test_a_candidate_that_computes_another_function_is_dropped():
    table = _with("int8_gemv", run=lambda x, q, s: torch.zeros(x.shape[0], q.shape[0], dtype=x.dtype))
    timing = time_shape(32, 16, torch.bfloat16, "cpu", ["int8_dequant", "int8_gemv"], FAST, table)
    assert "differs from int8_dequant" in timing["dropped"]["int8_gemv"]
    assert choose(timing, "int8", FAST.rows) == {1: "int8_dequant", 5: "int8_dequant"}


def test_an_unavailable_candidate_is_reported_and_never_chosen():
    table = _with("packed", available=lambda device, in_features: False)
    timing = time_shape(16, 8, torch.float32, "cpu", ["plain", "packed"], FAST, table)
    assert "not available" in timing["dropped"]["packed"] and list(timing["ms"]) == ["plain"]


def test_a_timing_quantises_its_weight_once_for_every_layout_and_storage_that_reads_it():
    calls = []

    def counted(weight, settings):
        calls.append(weight.shape)
        return quantize_weight(weight)

    # the rows layout, the pair order arranged from the same codes, and w8a8's kernel on the same codes
    table = {name: dataclasses.replace(CANDIDATES[name], prepare=counted)
             for name in ("int8_dequant", "int8_upcast", "int8_fused", "w8a8_intmm")}
    table["int8_fused"] = dataclasses.replace(table["int8_fused"], available=lambda device, in_features: True,
                                              run=lambda x, q, s: int8_dequant(x, untile_int8(q), s))
    timing = time_shape(32, 128, torch.bfloat16, "cpu", list(table), FAST, table)
    assert set(timing["ms"]) == set(table), timing["dropped"]
    assert len(calls) == 1


@pytest.mark.skipif(not hasattr(torch.ops.aten, "_weight_int8pack_mm"), reason="this torch has no int8pack kernel")
def test_the_int8pack_kernel_is_never_called_at_an_input_width_that_crashes_it():
    """3420 is the 7B vision MLP's down_proj input: torch's kernel segfaulted there at 2+ rows (uncatchable)."""
    timing = time_shape(3420, 16, torch.bfloat16, "cpu", ["int8_dequant", "int8_gemv"], FAST)
    assert "in_features 3420" in timing["dropped"]["int8_gemv"] and list(timing["ms"]) == ["int8_dequant"]
    timing = time_shape(3424, 16, torch.bfloat16, "cpu", ["int8_dequant", "int8_gemv"], FAST)
    assert set(timing["ms"]) == {"int8_dequant", "int8_gemv"}  # a multiple of 16 still gets it


def test_when_every_candidate_fails_the_storage_reference_is_chosen():
    assert choose({"ms": {}}, "int8", (1, 33)) == {1: "int8_dequant", 33: "int8_dequant"}
    assert choose({"ms": {}}, "float", (1,)) == {1: "plain"}


def test_the_fastest_candidate_wins_per_row_count_for_int8_and_by_total_for_float_storage():
    timing = {"ms": {"int8_gemv": {1: 1.0, 33: 9.0}, "int8_dequant": {1: 3.0, 33: 4.0}}}
    assert choose(timing, "int8", (1, 33)) == {1: "int8_gemv", 33: "int8_dequant"}
    timing = {"ms": {"plain": {1: 1.0, 33: 9.0}, "packed": {1: 3.0, 33: 4.0}}}
    assert choose(timing, "float", (1, 33)) == {1: "packed", 33: "packed"}


def test_an_int8_shape_keeps_the_layout_whose_fastest_kernels_sum_to_the_least_time():
    rows_layout = {"int8_gemv": {1: 1.0, 33: 9.0}, "int8_dequant": {1: 3.0, 33: 4.0}}  # best per row: 1 + 4
    slower_pairs = dict(rows_layout, int8_fused={1: 2.0, 33: 5.0})  # 7
    assert choose({"ms": slower_pairs}, "int8", (1, 33)) == {1: "int8_gemv", 33: "int8_dequant"}
    faster_pairs = dict(rows_layout, int8_fused={1: 1.5, 33: 3.0})  # 4.5, though int8_gemv is faster at 1 row
    assert choose({"ms": faster_pairs}, "int8", (1, 33)) == {1: "int8_fused", 33: "int8_fused"}


def test_a_choice_whose_kernels_read_two_layouts_is_refused():
    assert kernels.layout_of({1: "int8_gemv", 33: "int8_dequant"}) == "rows"
    assert kernels.layout_of({1: "int8_fused"}) == "pairs"
    with pytest.raises(ValueError, match="one stored layout"):
        kernels.layout_of({1: "int8_gemv", 33: "int8_fused"})


def test_int8_is_timed_at_a_prompts_rows_and_float_storage_only_at_the_decodes():
    settings = KernelSettings(rows=(1, 33), prefill_rows=256)
    assert settings.rows_for("int8") == (1, 33, 256) and settings.rows_for("float") == (1, 33)
    assert KernelSettings(rows=(1, 33), prefill_rows=0).rows_for("int8") == (1, 33)
    with pytest.raises(ValueError, match="prefill_rows"):
        KernelSettings(prefill_rows=-1).validate()


def test_a_call_uses_the_kernel_of_the_nearest_timed_row_count():
    choice = {1: "int8_gemv", 33: "int8_dequant"}
    assert [kernel_for_rows(choice, n) for n in (1, 4, 6, 33, 65, 512)] == \
        ["int8_gemv", "int8_gemv", "int8_dequant", "int8_dequant", "int8_dequant", "int8_dequant"]


def test_large_weights_are_timed_on_a_slice_of_whole_blocks_of_their_rows():
    for cap, rows in ((64 * 100, SLICE_ROWS), (64 * 200, 3 * SLICE_ROWS), (64 * 10, SLICE_ROWS)):
        timing = time_shape(64, 4096, torch.float32, "cpu", ["plain"], KernelSettings(rows=(1,), repeats=1,
                            budget_ms=0.0, max_timed_elements=cap))
        assert timing["timed_out_features"] == rows
    small = time_shape(64, 100, torch.float32, "cpu", ["plain"], KernelSettings(rows=(1,), repeats=1, budget_ms=0.0))
    assert small["timed_out_features"] == 100  # not sliced: all its rows


class _TwoShapes(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(16, 32), nn.Linear(16, 32), nn.Linear(32, 8, bias=False)


@pytest.mark.skipif(not packing_available(), reason="this torch build has no oneDNN linear packing")
def test_the_measured_choice_is_installed_and_reported_per_shape(monkeypatch):
    # packed is made to look faster for 16 -> 32 only: exactly those two layers get packed weights
    def fake(in_f, out_f, dtype, device, names, settings, candidates=None, rows=None):
        fast = "packed" if (in_f, out_f) == (16, 32) else "plain"
        return {"timed_out_features": out_f, "dropped": {},
                "ms": {n: {r: (1.0 if n == fast else 2.0) for r in rows or settings.rows} for n in names}}

    monkeypatch.setattr(kernels, "time_shape", fake)
    model = _TwoShapes()
    x = torch.randn(3, 16)
    before = model.b(x)
    table = kernels.install(model, None, "cpu", FAST)
    assert [(r["in_features"], r["out_features"], r["layers"]) for r in table] == [(16, 32, 2), (32, 8, 1)]
    assert table[0]["chosen"] == {"1": "packed", "5": "packed"} and table[1]["chosen"] == {"1": "plain", "5": "plain"}
    assert model.a.weight.is_mkldnn and model.b.weight.is_mkldnn and not model.c.weight.is_mkldnn
    torch.testing.assert_close(model.b(x), before)
    assert model.kernel_choice is table and "16 -> 32 x2" in kernels.format_table(table)


def test_int8_install_times_bf16_beside_int8_and_chooses_only_int8():
    model = _TwoShapes().to(torch.bfloat16)
    table = kernels.install(model, "int8", "cpu", FAST)
    for row in table:
        assert {"int8_gemv", "int8_upcast", "int8_dequant", "plain"} <= set(row["ms"]) | set(row["dropped"])
        assert set(row["chosen"].values()) <= {"int8_gemv", "int8_upcast", "int8_dequant"}
        assert set(row["chosen"]) == {"1", "5", str(FAST.prefill_rows)}  # int8 is also chosen at a prompt's rows
        assert all(ms > 0 for t in row["ms"].values() for ms in t.values())
    assert type(model.a).__name__ == "Int8Linear" and model.a.choice == {int(k): v for k, v in table[0]["chosen"].items()}
