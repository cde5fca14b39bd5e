"""dimple.fused_matmul: the fused int4 and int8 kernels compute the dequantised weight's function in bf16 at every
row count and thread count, and where they cannot run (another packing, float32 activations, a ragged shape) they
are never chosen."""

from __future__ import annotations

import pytest
import torch

from dimple import fused_matmul as fused
from dimple.int4 import dequantize_int4, int4_dequant, packed_layout, quantize_int4
from dimple.int8 import dequantize, int8_dequant, quantize_weight
from dimple.kernels import KernelSettings, choose, time_shape

needs_fused = pytest.mark.skipif(fused.unavailable_reason() is not None,
                                 reason=f"the fused kernels cannot run here: {fused.unavailable_reason()}")


@needs_fused
@pytest.mark.parametrize("out_f, in_f, group", [(192, 128, 32), (130, 96, 64), (260, 256, 128), (64, 4096, 32)])
def test_the_fused_kernel_computes_the_reference_function_at_every_row_and_thread_count(out_f, in_f, group):
    torch.manual_seed(5)
    packed, sz = quantize_int4((torch.randn(out_f, in_f) * 0.02).bfloat16(), group)
    weight = dequantize_int4(packed, sz, out_f, in_f)
    threads = torch.get_num_threads()
    try:
        for n in (1, 3):
            torch.set_num_threads(n)
            for rows in (1, 5, 6, 7, 49, 200):  # partial micro-tiles of 6 rows, chunks of at most 192
                x = torch.randn(rows, in_f).bfloat16()
                got = fused.int4_fused(x, packed, sz, out_f)
                want = x.float() @ weight.T
                assert got.shape == (rows, out_f) and got.dtype == torch.bfloat16
                assert float((got.float() - want).norm() / want.norm()) <= 0.005  # bf16 output rounding
                reference = int4_dequant(x, packed, sz, out_f).float()
                assert float((got.float() - reference).abs().max() / reference.abs().max()) <= 0.01
    finally:
        torch.set_num_threads(threads)


@needs_fused
@pytest.mark.parametrize("out_f, in_f", [(64, 2), (192, 128), (128, 4096), (320, 96), (128, 3420)])
def test_the_fused_int8_kernel_computes_the_reference_function_at_every_row_and_thread_count(out_f, in_f):
    torch.manual_seed(8)
    q, scales = quantize_weight((torch.randn(out_f, in_f) * 0.02).bfloat16())
    weight = dequantize(q, scales).float()
    tiled = fused.tile_int8(q)
    threads = torch.get_num_threads()
    try:
        for n in (1, 3):
            torch.set_num_threads(n)
            for rows in (1, 5, 7, 49, 200):  # 200: two chunks of at most 192 rows
                x = torch.randn(rows, in_f).bfloat16()
                got = fused.int8_fused(x, tiled, scales)
                want = x.float() @ weight.T
                assert got.shape == (rows, out_f) and got.dtype == torch.bfloat16
                assert float((got.float() - want).norm() / want.norm()) <= 0.005
                reference = int8_dequant(x, q, scales).float()
                assert float((got.float() - reference).abs().max() / reference.abs().max()) <= 0.01
    finally:
        torch.set_num_threads(threads)


@needs_fused
def test_the_fused_kernels_refuse_float32_activations_and_ragged_int8_shapes():
    packed, sz = quantize_int4(torch.randn(64, 64), 32)
    with pytest.raises(TypeError, match="bfloat16"):
        fused.int4_fused(torch.randn(2, 64), packed, sz, 64)
    q, scales = quantize_weight(torch.randn(64, 64))
    with pytest.raises(TypeError, match="bfloat16"):
        fused.int8_fused(torch.randn(2, 64), fused.tile_int8(q), scales)
    q, scales = quantize_weight(torch.randn(64, 64).bfloat16())
    with pytest.raises(ValueError, match="pair order"):  # rows (out, in), not arranged by tile_int8
        fused.int8_fused(torch.randn(2, 64).bfloat16(), q, scales)
    q, scales = quantize_weight(torch.randn(100, 64).bfloat16())  # 100 rows: not whole blocks of 64
    with pytest.raises(ValueError, match="whole blocks"):
        fused.tile_int8(q)
    fast = KernelSettings(rows=(1, 5), repeats=1, budget_ms=0.0, prefill_rows=0)
    timing = time_shape(64, 100, torch.bfloat16, "cpu", ["int8_dequant", "int8_fused", "int8_gemv"], fast)
    assert "whole blocks" in timing["dropped"]["int8_fused"] and "int8_fused" not in timing["ms"]


def test_the_pair_order_holds_the_same_bytes_and_comes_back_to_rows():
    q = torch.randint(-127, 128, (128, 6), dtype=torch.int8)
    tiled = fused.tile_int8(q)
    assert tiled.shape == (2, 3, 64, 2) and tiled[1, 2, 5, 1] == q[64 + 5, 2 * 2 + 1]
    assert torch.equal(fused.untile_int8(tiled), q) and not torch.equal(tiled.flatten(), q.flatten())
    in_place = fused.tile_int8_(q.clone())
    assert torch.equal(in_place, tiled)


def test_on_another_packing_the_fused_int4_kernel_is_not_offered_and_the_choice_keeps_the_others(monkeypatch):
    import dimple.int4 as int4

    true = packed_layout()
    block = true.block // 2  # torch's packing without AVX-512: blocks of 32 rows
    other = true._replace(block=block, slot_rows=torch.arange(block), row_slots=torch.arange(block))
    monkeypatch.setattr(fused, "packed_layout", lambda: other)
    reason = fused.unavailable_reason()
    assert reason is not None and f"blocks of {block} rows" in reason
    fast = KernelSettings(rows=(1, 5), repeats=1, budget_ms=0.0, prefill_rows=0)
    timing = time_shape(64, 64, torch.bfloat16, "cpu", ["int4_dequant", "int4_fused", "int4_gemv"], fast)
    assert "int4_fused" in timing["dropped"] and set(timing["ms"]) == {"int4_dequant", "int4_gemv"}
    assert set(choose(timing, "int4", fast.rows).values()) <= {"int4_dequant", "int4_gemv"}
    monkeypatch.undo()
    assert int4.packed_layout() is true
