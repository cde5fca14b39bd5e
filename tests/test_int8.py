"""dimple.int8: the symmetric per-row scheme rounds each weight to the nearest of its row's 255 levels, and the
row-layout kernels all compute that weight's function."""

import torch

from dimple.int8 import (INT8_MAX, QUANT_CHUNK_ROWS, dequantize, int8_dequant, int8_upcast, quantize_rows,
                         quantize_weight)


def test_each_weight_is_rounded_to_its_rows_nearest_level_across_row_chunks():
    torch.manual_seed(0)
    w = torch.randn(QUANT_CHUNK_ROWS + 3, 8)  # two chunks of rows
    q, s = quantize_weight(w)
    assert q.dtype == torch.int8 and int(q.abs().max()) == INT8_MAX and s.shape == (w.shape[0],)
    assert bool(((dequantize(q, s) - w).abs() <= s[:, None] / 2 + 1e-6).all())


def test_a_tokens_activations_are_scaled_by_their_own_largest_value():
    x = torch.tensor([[1.0, -2.0, 0.5], [100.0, 0.0, -50.0]])
    xq, xs = quantize_rows(x)
    assert xq[0].tolist() == [64, -127, 32] and xq[1].tolist() == [127, 0, -64]
    torch.testing.assert_close(xs.flatten(), torch.tensor([2.0, 100.0]) / INT8_MAX)


def test_the_blockwise_and_whole_weight_kernels_compute_the_same_function():
    torch.manual_seed(1)
    q, s = quantize_weight(torch.randn(100, 48, dtype=torch.bfloat16) * 0.02)
    x = torch.randn(7, 48, dtype=torch.bfloat16)
    want = x.float() @ dequantize(q, s).float().T
    for got in (int8_dequant(x, q, s, block_bytes=48 * 2 * 16), int8_upcast(x, q, s)):  # 16-row blocks: 7 of them
        assert float((got.float() - want).norm() / want.norm()) <= 0.01
