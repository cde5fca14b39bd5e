"""What the machine allows, measured: peak memory of a phase, timing, read bandwidth, matmul rate.

Owns the probes the scale measurement reads: the process's peak resident
memory over a phase (Linux resets the high-water mark through
/proc/self/clear_refs; on CUDA the allocator's peak is read too), a timer that
synchronises the device, memory read bandwidth (streaming a large tensor) and
the widest matmul's rate with a plain and with a prepacked weight at a few row
counts. It does not know models, checkpoints or decoding.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable

import torch

from ..packed_linear import pack_weight, packed_linear, packing_available

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in {STATUS}")


def rss_bytes() -> int:
    """Resident memory of this process now."""
    return _status_kib("VmRSS") * 1024


class PeakMemory:
    """Peak resident memory of the process (and of the CUDA allocator) between start() and stop()."""

    def __init__(self, device: str = "cpu") -> None:
        self.cuda = torch.device(device).type == "cuda"
        self.start_rss = 0
        self.result: dict = {}

    def start(self) -> "PeakMemory":
        CLEAR_REFS.write_text("5")  # Linux: reset VmHWM to the current RSS
        self.start_rss = rss_bytes()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        return self

    def stop(self) -> dict:
        self.result = {"rss_start_bytes": self.start_rss, "rss_peak_bytes": _status_kib("VmHWM") * 1024,
                       "rss_end_bytes": rss_bytes()}
        if self.cuda:
            torch.cuda.synchronize()
            self.result["cuda_peak_bytes"] = int(torch.cuda.max_memory_allocated())
            self.result["cuda_end_bytes"] = int(torch.cuda.memory_allocated())
        return self.result


@contextlib.contextmanager
def peak_memory(device: str = "cpu"):
    probe = PeakMemory(device).start()
    try:
        yield probe
    finally:
        probe.stop()


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def best_seconds(fn: Callable[[], object], device, repeats: int, warmup: bool = True) -> float:
    """Fastest of `repeats` calls (after one untimed call when `warmup`), the device synchronised."""
    if warmup:
        fn()
        sync(device)
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def read_bandwidth(device: str, gib: float, repeats: int = 5) -> dict:
    """Bytes per second of a sum over a `gib`-sized float32 tensor (every byte read once; far beyond cache),
    and of a copy (read + write)."""
    n = int(gib * 2**30) // 4
    x = torch.ones(n, dtype=torch.float32, device=device)
    y = torch.empty_like(x)
    read_s = best_seconds(lambda: x.sum(), device, repeats)
    copy_s = best_seconds(lambda: y.copy_(x), device, repeats)
    del x, y
    return {"bytes": n * 4, "read_gbps": round(n * 4 / read_s / 1e9, 2),
            "copy_read_write_gbps": round(2 * n * 4 / copy_s / 1e9, 2)}


def matmul_rates(in_features: int, out_features: int, dtype, device: str, rows=(1, 33, 512), repeats: int = 5,
                 integer: bool = False) -> list:
    """The widest matmul (hidden -> intermediate) at several row counts: seconds, GFLOP/s and weight bytes
    streamed per second, with torch's plain CPU linear and with the oneDNN-prepacked weight side by side; with
    `integer`, torch's int8 x int8 matmul too (`intmm`, the roof of quantize="w8a8": it counts GOP/s as GFLOP/s)."""
    weight = torch.empty(out_features, in_features, dtype=dtype, device=device).normal_(0, 0.02)
    packed = pack_weight(weight) if device == "cpu" and packing_available() else None
    qweight = torch.randint(-127, 128, weight.shape, dtype=torch.int8, device=device) if integer else None
    nbytes, out = weight.numel() * weight.element_size(), []
    for n in rows:
        x = torch.randn(n, in_features, dtype=dtype, device=device)
        row = {"rows": n}
        kernels = {"plain": lambda: torch.nn.functional.linear(x, weight)}
        if packed is not None:
            kernels["packed"] = lambda: packed_linear(x, packed, None)
        if qweight is not None:
            xq = torch.randint(-127, 128, x.shape, dtype=torch.int8, device=device)
            kernels["intmm"] = lambda: torch._int_mm(xq, qweight.t())
        with torch.no_grad():
            for name, fn in kernels.items():
                s = best_seconds(fn, device, repeats)
                row[f"{name}_ms"] = round(s * 1e3, 3)
                row[f"{name}_gflops"] = float(f"{2 * n * weight.numel() / s / 1e9:.4g}")
                read = weight.numel() if name == "intmm" else nbytes  # the int8 weight is a byte an element
                row[f"{name}_weight_gbps"] = float(f"{read / s / 1e9:.4g}")
        out.append(row)
    return out


def peak_gflops(rates: list) -> float:
    """The best matmul rate seen (any kernel, any row count): the compute roof of a pass."""
    return max(v for r in rates for k, v in r.items() if k.endswith("_gflops"))
