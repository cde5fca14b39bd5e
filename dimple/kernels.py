"""The linear kernel of each weight shape, chosen by measurement when a model loads.

Owns the candidate table (`CANDIDATES`: how a linear layer's weight is stored
and which kernel multiplies it), the timing of every candidate on the model's
own linear shapes at a few row counts (1 row: a cached pass of one token; the
canvas width: the pass a decode repeats), the choice, and the table that
reports it (`model.kernel_choice`, the load log, `dimple.scale`'s JSON).

Which kernel is fastest depends on the CPU, not on a size rule: oneDNN's
prepacked bf16 weight beat torch's plain linear 2x at one row on an AMD EPYC
without AMX, and lost 1.3-1.5x on a Xeon with AMX (issue 34). So each weight
shape is timed here, on random weights of its shape (capped at
`KernelSettings.max_timed_elements`, so the 152k-row lm_head costs a slice),
with the candidates side by side.

Four storages, each with its kernels:
  * bf16 (or the load dtype): `plain` (torch's linear) or `packed` (oneDNN's
    blocked copy, `packed_linear`). The storage is the choice, so one of the
    two is kept per shape: whichever has the least summed time over the row
    counts.
  * int8 (`quantize="int8"`, `dimple.quantize`): `int8_gemv` (torch's
    `_weight_int8pack_mm`, a matrix-vector kernel), `int8_upcast` (the whole
    int8 weight converted to bf16 for the call, then one bf16 matmul: a
    transient copy of one weight), `int8_dequant` (the same one block of
    output rows at a time: the least memory, the reference) and `int8_fused`
    (`dimple.fused_matmul`: the weight converted inside a compiled AVX-512
    BF16 matmul loop; where the CPU has AVX-512 BF16). The first three read
    the weight's rows (out, in); `int8_fused` reads it in pair order, arranged
    at load (`tile_int8`), so a shape keeps one layout, as float keeps one of
    plain and packed: the layout whose kernels, each the fastest at its row
    count, sum to the least time. Within it the choice is per row count: a
    call uses the kernel measured fastest at the nearest timed row count,
    and int8 is also timed at a prompt's row count
    (`KernelSettings.prefill_rows`), where the matrix-vector kernel loses.
    Which of the other two row kernels wins depends on the shape and on
    the machine's state (the 7B's MLP at 256 rows on an AMD
    EPYC: quiet, dequant 101 ms, upcast 140, gemv 289; beside a training
    job, upcast 272 ms, dequant 536, gemv 608).

  * w8a8 (`quantize="w8a8"`): the same int8 weight, and each token's
    activations rounded to int8 as they enter a linear layer, so the matmul
    runs on integers (`w8a8_intmm`, torch's `_int_mm`). It is the only kernel
    of its storage: the weight-only kernels compute another function and are
    timed beside it for the table only. Why: converting an int8 weight to bf16
    for a canvas-wide pass costs more than the matmul itself (the 7B's MLP at
    33 rows on a quiet AMD EPYC: int8_dequant 26.0 ms, int8_upcast 64.0, bf16
    17.6 and prepacked 13.0, the integer matmul 10.1; docs/scale.md).

  * int4 (`quantize="int4"`, `dimple.int4`: groups of `KernelSettings.int4_group` input columns, CPU only):
    `int4_gemv` (torch's `_weight_int4pack_mm_for_cpu`), `int4_fused` (`dimple.fused_matmul`: the codes
    unpacked inside a compiled bf16 matmul loop; offered where a C compiler built it and the CPU has AVX-512
    BF16), `int4_native` (`dimple.int4_native`: each block of output rows unpacked by a compiled C loop, then
    torch's matmul; where a C compiler built it) and `int4_dequant` (the same with torch ops: the reference).
    All read the same packed weight, so, as for int8, the choice is per row count.

A candidate that raises, is unavailable, or computes a different function
(against the reference on the timing input) is dropped and the table says
why; the reference kernel (`plain`, `int8_dequant`, `w8a8_intmm`, `int4_dequant`) always remains, so a
failed candidate can never leave a layer without a kernel. It does not know
the Dimple architecture or checkpoints.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .int4 import INT4_GROUPS, int4_dequant, int4_gemv, quantize_int4, unavailable_reason as int4_unavailable
from .fused_matmul import (INT8_COLUMNS, ROWS as FUSED_ROWS, int4_fused, int8_fused, tile_int8,
                           unavailable_reason as fused_unavailable)
from .int4_native import int4_native, unavailable_reason as native_unavailable
from .int8 import int8_dequant, int8_gemv, int8_upcast, int8pack_runs, quantize_weight, w8a8_intmm
from .int4_ranges import DEFAULT_RANGES, RANGES
from .packed_linear import pack_weight, packed_linear, packing_available

log = logging.getLogger("dimple.kernels")


@dataclass(frozen=True)
class KernelSettings:
    rows: tuple = (1, 33, 65)  # row counts timed: a 1-token cached pass; a decode's canvas pass, 32- and 64-token canvas + 1
    prefill_rows: int = 256  # quantised storages only (their kernel is chosen per row count): a prompt's first pass
    repeats: int = 3  # timed calls per candidate and row count at least (best kept), after one untimed call
    budget_ms: float = 40.0  # ... and more calls until this much time is spent: a shared CPU's slices (~8 ms) hide in the best
    max_timed_elements: int = 64 * 2**20  # weights larger than this are timed on a slice of their output rows
    block_bytes: int = 4 * 2**20  # int8_dequant, int4_native, int4_dequant: bf16 bytes of one dequantised block (stays in cache)
    # int4: input columns per scale and zero. 32 / 64 / 128 (searched ranges): rounding error 7.3 / 8.4 / 9.3 % of a
    # normal weight, the random 7B stack's logits 34 / 39 / 43 % from fp32 (relative L2), 0.625 / 0.5625 / 0.53
    # bytes per weight; torch's int4 matmul as fast at each (docs/scale.md). The most accurate, for 11 % more
    # bytes than 64.
    int4_group: int = 32
    # int4: how each group's scale and zero are chosen (`dimple.int4_ranges.RANGES`): "searched" (the least squared
    # error among shrunk ranges, then refit; the default) or "minmax" (the group's exact range; the earlier scheme)
    int4_ranges: str = DEFAULT_RANGES
    rtol: float = 0.05  # a candidate whose output differs from the reference by more (relative max) is dropped

    def rows_for(self, storage: str) -> tuple:
        """The row counts timed for a storage: a prompt's too for the quantised ones, chosen per row count
        (float storage keeps one kernel for all rows, chosen on the decode's passes)."""
        extra = (self.prefill_rows,) if storage != "float" and self.prefill_rows not in (0, *self.rows) else ()
        return tuple(self.rows) + extra

    def validate(self) -> "KernelSettings":
        if not self.rows or min(self.rows) < 1:
            raise ValueError(f"rows must be positive row counts, got {self.rows}")
        if self.prefill_rows < 0:
            raise ValueError(f"prefill_rows must be >= 0 (0: not timed), got {self.prefill_rows}")
        if self.repeats < 1 or self.max_timed_elements < 1 or self.block_bytes < 1:
            raise ValueError("repeats, max_timed_elements and block_bytes must be >= 1")
        if self.int4_group not in INT4_GROUPS:
            raise ValueError(f"int4_group must be one of {INT4_GROUPS}, got {self.int4_group}")
        if self.int4_ranges not in RANGES:
            raise ValueError(f"int4_ranges must be one of {tuple(RANGES)}, got {self.int4_ranges!r}")
        return self


@dataclass(frozen=True)
class Candidate:
    storage: str  # "float" (the load dtype), "int8", "w8a8" or "int4": which stored weight the kernel reads and how
    available: Callable[[torch.device, int], bool]  # whether this build and device can run it at this in_features
    prepare: Callable[[torch.Tensor, KernelSettings], tuple]  # float weight (out, in) -> the state the kernel reads
    run: Callable[..., torch.Tensor]  # (x (rows, in), *state) -> (rows, out), no bias
    layout: str  # how the prepared weight is stored: kernels of one layout share it, one layout a shape (ARRANGE)


# How a layout rearranges its prepared state (a layout absent here reads it as `prepare` gives it). Timing only:
# `quantize.Int8Linear` arranges its own weight, in place, by the same layout name.
ARRANGE = {"pairs": lambda state: (tile_int8(state[0]), *state[1:])}


def _quantized(weight: torch.Tensor, settings: KernelSettings) -> tuple:
    return quantize_weight(weight)


def _quantized_int4(weight: torch.Tensor, settings: KernelSettings) -> tuple:
    # (packed, scales_and_zeros, out_features)
    return (*quantize_int4(weight, settings.int4_group, settings.int4_ranges), weight.shape[0])


def int4_runs(device: torch.device, in_features: int) -> bool:
    """Whether the int4 kernels run here: on the CPU, where torch's int4 ops exist and their packed layout is
    the one `dimple.int4` reads (any in_features: shapes are padded to what the op takes)."""
    return device.type == "cpu" and int4_unavailable() is None


def int4_native_runs(device: torch.device, in_features: int) -> bool:
    """Whether `int4_native` runs here: where int4 does and its C loop was built (the first call builds it)."""
    return int4_runs(device, in_features) and native_unavailable() is None


def int4_fused_runs(device: torch.device, in_features: int) -> bool:
    """Whether `int4_fused` runs here: where int4 does, its C loop was built and the CPU has AVX-512 BF16."""
    return int4_runs(device, in_features) and fused_unavailable("int4") is None


def int8_fused_runs(device: torch.device, in_features: int) -> bool:
    """Whether `int8_fused` runs here: on a CPU with AVX-512 BF16 where its C loop was built, at an even input
    width (the output width must be whole 64-row blocks: `tile_int8` refuses others)."""
    return device.type == "cpu" and in_features % INT8_COLUMNS == 0 and fused_unavailable("int8") is None


SLICE_ROWS = FUSED_ROWS  # a weight timed on a slice of its output rows gets whole blocks of the fused kernels
CANDIDATES: dict[str, Candidate] = {
    "plain": Candidate("float", lambda d, k: True, lambda w, s: (w,), lambda x, w: F.linear(x, w), "plain"),
    "packed": Candidate("float", lambda d, k: d.type == "cpu" and packing_available(), lambda w, s: (pack_weight(w),),
                        lambda x, p: packed_linear(x, p, None), "packed"),
    "int8_gemv": Candidate("int8", int8pack_runs, _quantized, int8_gemv, "rows"),
    "int8_upcast": Candidate("int8", lambda d, k: True, _quantized, int8_upcast, "rows"),
    "int8_dequant": Candidate("int8", lambda d, k: True, _quantized, int8_dequant, "rows"),
    "int8_fused": Candidate("int8", int8_fused_runs, _quantized, int8_fused, "pairs"),
    "w8a8_intmm": Candidate("w8a8", lambda d, k: d.type == "cpu" and hasattr(torch, "_int_mm"), _quantized,
                            w8a8_intmm, "rows"),
    "int4_gemv": Candidate("int4", int4_runs, _quantized_int4, int4_gemv, "int4"),
    "int4_fused": Candidate("int4", int4_fused_runs, _quantized_int4, int4_fused, "int4"),
    "int4_native": Candidate("int4", int4_native_runs, _quantized_int4, int4_native, "int4"),
    "int4_dequant": Candidate("int4", int4_runs, _quantized_int4, int4_dequant, "int4"),
}
# Each storage's reference kernel, always kept: plain torch ops (w8a8 has only the one, and quantize.check_quantize
# admits it on the CPU only, where torch's integer matmul takes any shape; int4's reads torch's packed layout,
# which check_quantize requires to be the learned one).
REFERENCE = {"float": "plain", "int8": "int8_dequant", "w8a8": "w8a8_intmm", "int4": "int4_dequant"}
# Timed beside a quantised storage's own kernels for the table only, never chosen: bf16, and for w8a8 the
# weight-only int8 kernels (the reference first: the others are checked against it).
COMPARED = {"int8": ("plain", "packed"), "w8a8": ("plain", "packed", "int8_dequant", "int8_gemv", "int8_upcast"),
            "int4": ("plain", "packed")}


# ----- timing and choosing -------------------------------------------------------------------------
def _interleaved_best_ms(fns: dict, device: torch.device, repeats: int, budget_ms: float = 0.0) -> dict:
    """{name: fastest call in ms}, the candidates called in turn (round robin), so that a burst of other work on
    a shared CPU falls on all of them alike: at least `repeats` rounds, more while under `budget_ms` per
    candidate on average (at most 50 rounds)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for fn in fns.values():
        fn()
    sync()
    best, spent, rounds = {n: math.inf for n in fns}, 0.0, 0
    while rounds < repeats or (spent < budget_ms / 1e3 * len(fns) and rounds < 50):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            took = time.perf_counter() - start
            best[name], spent = min(best[name], took), spent + took
        rounds += 1
    return {n: round(b * 1e3, 4) for n, b in best.items()}


def _prepared(cand: Candidate, weight: torch.Tensor, states: dict, settings: KernelSettings) -> tuple:
    """The state `cand` reads, made once per timing: one quantisation per `prepare` (int8 and w8a8 share theirs),
    then one arrangement per layout of it."""
    if cand.prepare not in states:
        states[cand.prepare] = cand.prepare(weight, settings)
    key = (cand.prepare, cand.layout)
    if key not in states:
        arrange = ARRANGE.get(cand.layout)
        states[key] = arrange(states[cand.prepare]) if arrange else states[cand.prepare]
    return states[key]


def _checked_state(cand: Candidate, name: str, weight, inputs: dict, states: dict, reference: dict,
                   settings: KernelSettings):
    """The candidate's stored weight, after checking its output at every row count against its storage's
    reference kernel (which runs first and is the reference); raises if it is unavailable or differs."""
    if not cand.available(weight.device, weight.shape[1]):
        raise RuntimeError(f"not available on this build or device at in_features {weight.shape[1]}")
    state = _prepared(cand, weight, states, settings)
    for n, x in inputs.items():
        out = cand.run(x, *state)
        ref = reference.setdefault((cand.storage, n), out if name == REFERENCE[cand.storage] else None)
        if ref is not None and ref is not out:
            err = (out.float() - ref.float()).abs().max() / ref.float().abs().max().clamp_min(1e-12)
            if not bool(err <= settings.rtol):
                raise RuntimeError(f"output differs from {REFERENCE[cand.storage]} by {float(err):.3g} (relative max)")
    return state


def time_shape(in_features: int, out_features: int, dtype, device, names, settings: KernelSettings,
               candidates: Optional[dict] = None, rows: Optional[tuple] = None) -> dict:
    """{"timed_out_features", "ms": {name: {rows: ms}}, "dropped": {name: reason}} for one weight shape, the
    candidates side by side on one random weight (called in turn); a candidate is dropped if it is
    unavailable, raises, or differs from its storage's reference kernel."""
    table, device = candidates or CANDIDATES, torch.device(device)
    timed_out = max(1, min(out_features, settings.max_timed_elements // in_features))
    if timed_out < out_features:  # a slice of whole blocks, which the blocked kernels (dimple.fused_matmul) take
        timed_out = min(out_features, max(SLICE_ROWS, timed_out // SLICE_ROWS * SLICE_ROWS))
    weight = torch.empty(timed_out, in_features, dtype=dtype, device=device).normal_(0, 0.02)
    inputs = {n: torch.randn(n, in_features, dtype=dtype, device=device) for n in (rows or settings.rows)}
    alive, dropped, states, reference = {}, {}, {}, {}
    with torch.no_grad():
        for name in names:
            try:
                alive[name] = _checked_state(table[name], name, weight, inputs, states, reference, settings)
            except Exception as exc:  # a failing candidate must never take the load down: it is dropped
                dropped[name] = f"{type(exc).__name__}: {exc}"[:200]
        ms: dict = {name: {} for name in alive}
        for n, x in inputs.items():
            fns = {name: (lambda run=table[name].run, st=st, x=x: run(x, *st)) for name, st in alive.items()}
            try:
                for name, t in _interleaved_best_ms(fns, device, settings.repeats, settings.budget_ms).items():
                    ms[name][n] = t
            except Exception as exc:  # checked above, so unexpected: time the reference alone
                ref = [name for name in alive if name in REFERENCE.values()]
                dropped.update({name: f"{type(exc).__name__} while timed: {exc}"[:200] for name in alive if name not in ref})
                ms = {name: ms[name] for name in ref}
                alive = {name: alive[name] for name in ref}
    return {"timed_out_features": timed_out, "ms": {k: v for k, v in ms.items() if v}, "dropped": dropped}


def order_names(storage: str, names) -> list:
    """The reference of a storage first: the others are checked against its output."""
    return sorted(names, key=lambda n: n != REFERENCE[storage])


def choose(timing: dict, storage: str, rows: tuple, candidates: Optional[dict] = None) -> dict:
    """The kernel per timed row count among the storage's surviving candidates, all of one layout (a shape stores
    one): the layout whose per-row fastest kernels sum to the least time. Float storage's layouts (plain,
    packed) have one kernel each, so it keeps one kernel for all rows."""
    table = candidates or CANDIDATES
    alive = {n: t for n, t in timing["ms"].items() if n in table and table[n].storage == storage}
    if not alive:
        return {n: REFERENCE[storage] for n in rows}
    layouts: dict = {}
    for name in alive:
        layouts.setdefault(table[name].layout, []).append(name)

    def per_row(names: list) -> dict:
        return {n: min(names, key=lambda k: alive[k][n]) for n in rows}

    best = min(layouts.values(), key=lambda names: sum(alive[k][n] for n, k in per_row(names).items()))
    return per_row(best)


def layout_of(choice: dict, candidates: Optional[dict] = None) -> str:
    """The one weight layout a choice's kernels read ({rows: kernel}); raises if they need two."""
    table = candidates or CANDIDATES
    layouts = {table[k].layout for k in choice.values()}
    if len(layouts) != 1:
        raise ValueError(f"a choice's kernels must read one stored layout, got {sorted(layouts)} ({choice})")
    return layouts.pop()


def kernel_for_rows(choice: dict, rows: int) -> str:
    """The kernel chosen at the timed row count nearest to `rows` (in log scale)."""
    return choice[min(choice, key=lambda n: abs(math.log(n) - math.log(max(rows, 1))))]


def linear_shapes(model: nn.Module, modules: list) -> dict:
    """{(in, out): [module names]} of the given (name, module) linear layers."""
    shapes: dict = {}
    for name, module in modules:
        shapes.setdefault((module.in_features, module.out_features), []).append(name)
    return shapes


def measure_choices(shapes: dict, storage: str, dtype, device, settings: KernelSettings,
                    also: tuple = (), candidates: Optional[dict] = None) -> list:
    """Time every candidate of `storage` (and, for comparison only, the `also` candidates) on each shape;
    return the choice table: one row per shape with each candidate's ms per row count and the choice."""
    table = candidates or CANDIDATES
    eligible = order_names(storage, [n for n, c in table.items() if c.storage == storage])
    names = eligible + [n for n in order_names("float", also) if n not in eligible]
    out = []
    for (in_f, out_f), modules in shapes.items():
        rows = settings.rows_for(storage)
        timing = time_shape(in_f, out_f, dtype, device, names, settings, table, rows)
        choice = choose({"ms": {n: t for n, t in timing["ms"].items() if n in eligible}}, storage, rows, table)
        out.append({"in_features": in_f, "out_features": out_f, "layers": len(modules), "example": modules[0],
                    "storage": storage, "timed_out_features": timing["timed_out_features"], "ms": timing["ms"],
                    "dropped": timing["dropped"], "chosen": {str(n): k for n, k in choice.items()}})
        log.info("kernel %s %d->%d (%d layers): %s; chosen %s", storage, in_f, out_f, len(modules),
                 ", ".join(f"{n} {t}" for n, t in timing["ms"].items()), choice)
    return out


def choice_rows(row: dict) -> dict:
    """{row count: kernel} of one choice-table row (the JSON keeps row counts as strings)."""
    return {int(n): k for n, k in row["chosen"].items()}


def format_table(table: list) -> str:
    """The choice table as text: one line per shape, each candidate's ms per row count, and the choice."""
    lines = []
    for r in table:
        cells = "; ".join(f"{n}: " + ", ".join(f"{rows} rows {ms} ms" for rows, ms in t.items()) for n, t in r["ms"].items())
        drop = "".join(f"; {n} dropped ({why})" for n, why in r["dropped"].items())
        lines.append(f"{r['in_features']} -> {r['out_features']} x{r['layers']}: {cells}{drop}; chosen {r['chosen']}")
    return "\n".join(lines)


def install(model: nn.Module, quantize: Optional[str], device, settings: Optional[KernelSettings] = None,
            compare: bool = True, calibrate: Optional[Callable[[nn.Module], None]] = None,
            int4_codes: Optional[dict] = None) -> list:
    """Measure, choose and install the kernel of every floating linear layer of a loaded model; return the
    choice table (kept as `model.kernel_choice`, logged). quantize None: each shape keeps plain or prepacked
    bf16 weights, whichever was faster; "int8" / "int4": every layer is quantised and each row count gets the
    faster kernel of that storage (with `compare`, the bf16 kernels are timed beside them for the table, not
    chosen); "w8a8": its one kernel, the weight-only int8 kernels timed beside it. calibrate (int4 only): runs
    calibration passes on the model, and the int4 codes are chosen by GPTQ against them (`dimple.int4_gptq`);
    int4_codes (int4 only): codes saved before (`dimple.int4_codes.read_codes`), read instead of chosen."""
    from .packed_linear import pack_linear_weights
    from .quantize import float_linears, quantize_linears

    settings = (settings or KernelSettings()).validate()
    device = torch.device(device)
    layers = float_linears(model)
    if not layers:
        return []
    dtype, shapes = layers[0][1].weight.dtype, linear_shapes(model, layers)
    if quantize in COMPARED:
        also = COMPARED[quantize] if compare else ()
        table = measure_choices(shapes, quantize, dtype, device, settings, also=also)
        quantize_linears(model, {(r["in_features"], r["out_features"]): choice_rows(r) for r in table},
                         settings.block_bytes, mode=quantize, int4_group=settings.int4_group,
                         int4_ranges=settings.int4_ranges, calibrate=calibrate, codes=int4_codes)
    elif sum(CANDIDATES[n].available(device, 0) for n in CANDIDATES if CANDIDATES[n].storage == "float") > 1:
        table = measure_choices(shapes, "float", dtype, device, settings)
        packed = {(r["in_features"], r["out_features"]) for r in table if "packed" in r["chosen"].values()}
        pack_linear_weights(model, where=lambda m: (m.in_features, m.out_features) in packed)
    else:  # one float kernel on this device (a GPU): nothing to time
        table = [{"in_features": i, "out_features": o, "layers": len(m), "example": m[0], "storage": "float",
                  "timed_out_features": 0, "ms": {}, "dropped": {}, "chosen": {str(n): "plain" for n in settings.rows}}
                 for (i, o), m in shapes.items()]
    model.kernel_choice = table
    log.info("kernel choice (%s, %s):\n%s", quantize or "bf16", device, format_table(table))
    return table
