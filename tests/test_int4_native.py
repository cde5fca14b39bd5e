"""dimple.int4_native: the compiled int4 kernel computes the reference's function, is built once per source and
CPU, and where it cannot be built the kernel choice never offers it."""

from __future__ import annotations

import pytest
import torch

from dimple import int4_native as native
from dimple.int4 import int4_dequant, packed_layout, quantize_int4
from dimple.kernels import KernelSettings, choose, time_shape


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Builds into a fresh cache, and forgets the loaded library before and after."""
    monkeypatch.setenv("DIMPLE_NATIVE_CACHE", str(tmp_path))
    native._library.cache_clear()
    yield tmp_path
    native._library.cache_clear()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("out_f, in_f, group", [(200, 96, 32), (130, 70, 64), (9 * 64 + 5, 256, 128)])
def test_the_native_kernel_equals_the_torch_dequantiser_in_every_chunk_and_thread_split(out_f, in_f, group, dtype):
    torch.manual_seed(3)
    packed, sz = quantize_int4((torch.randn(out_f, in_f) * 0.02).to(dtype), group)
    x = torch.randn(7, in_f).to(dtype)
    chunk = packed_layout().block * packed.shape[1] * 2 * x.element_size()  # the bytes of one block of rows
    want = int4_dequant(x, packed, sz, out_f, block_bytes=chunk)
    threads = torch.get_num_threads()
    try:
        for n in (1, 3):  # the C loop split among 1 and 3 workers
            torch.set_num_threads(n)
            for block_bytes in (chunk, 5 * chunk, 2**30):  # parts of MIN_BLOCKS and of 5 blocks, a narrower last one, all at once
                got = native.int4_native(x, packed, sz, out_f, block_bytes=block_bytes)
                assert got.shape == (7, out_f) and got.dtype == dtype
                torch.testing.assert_close(got, want, rtol=0, atol=1e-6 if dtype == torch.float32 else 0)
    finally:
        torch.set_num_threads(threads)


def test_a_packing_whose_halves_are_out_of_row_order_comes_back_in_row_order(monkeypatch):
    """torch's AVX-512 packing keeps rows in order once the halves are apart; another CPU's may not."""
    import dimple.int4 as int4

    torch.manual_seed(4)
    packed, sz = quantize_int4(torch.randn(3 * 64, 128) * 0.02, 32)
    true = packed_layout()
    slot_rows = torch.randperm(true.block)
    other = true._replace(slot_rows=slot_rows, row_slots=slot_rows.argsort())
    for module in (int4, native):
        monkeypatch.setattr(module, "packed_layout", lambda: other)
    int4._slot_columns.cache_clear()
    native._row_columns.cache_clear()
    try:
        assert native._row_columns(3 * 64) is not None
        x = torch.randn(5, 128)
        torch.testing.assert_close(native.int4_native(x, packed, sz, 3 * 64), int4_dequant(x, packed, sz, 3 * 64),
                                   rtol=0, atol=1e-6)
    finally:
        int4._slot_columns.cache_clear()
        native._row_columns.cache_clear()


def test_the_native_kernel_refuses_activations_it_has_no_loop_for():
    packed, sz = quantize_int4(torch.randn(64, 64).to(torch.float16), 32)
    with pytest.raises(TypeError, match="bfloat16 or float32"):
        native.int4_native(torch.randn(2, 64).to(torch.float16), packed, sz, 64)


def test_the_library_is_built_once_per_cache_and_found_again(private_cache):
    assert native.unavailable_reason() is None
    built = list(private_cache.glob("int4_native-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    native._library.cache_clear()
    assert native.unavailable_reason() is None
    assert [p.stat().st_mtime_ns for p in private_cache.glob("int4_native-*.so")] == [stamp]


def test_without_a_compiler_the_kernel_is_unavailable_and_the_int4_choice_keeps_the_others(private_cache, monkeypatch):
    monkeypatch.setenv("CC", str(private_cache / "no-such-compiler"))
    reason = native.unavailable_reason()
    assert reason is not None and "no-such-compiler" in reason
    fast = KernelSettings(rows=(1, 5), repeats=1, budget_ms=0.0, prefill_rows=0)
    timing = time_shape(64, 64, torch.float32, "cpu", ["int4_dequant", "int4_native", "int4_gemv"], fast)
    assert "int4_native" in timing["dropped"] and set(timing["ms"]) == {"int4_dequant", "int4_gemv"}
    assert set(choose(timing, "int4", fast.rows).values()) <= {"int4_dequant", "int4_gemv"}
