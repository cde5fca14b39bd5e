"""int4 weights: the group-wise scheme, torch's CPU packed layout, and the two kernels that read it.

Scheme (`quantize="int4"`, weight-only): each output row's input columns are cut into groups of G
(`KernelSettings.int4_group`); each group gets its own scale and zero in the load dtype (asymmetric) and
4-bit codes 0..15 with w ~= (code - 8) * scale + zero. That is the convention of torch's CPU int4 matmul
(`aten._weight_int4pack_mm_for_cpu`: scales_and_zeros is (in / G, out, 2), [..., 0] the scale and [..., 1]
the zero, the value of code 8), checked against a dequantised float matmul in tests/test_quantize.py. Which
range a group's scale and zero cover is `dimple.int4_ranges`' business (`KernelSettings.int4_ranges`: by
default the one of least squared error among its [min, max] range shrunk by a few factors, then refit; or
the exact [min, max]); with calibration, the codes are chosen by GPTQ against the layer's inputs
(`dimple.int4_gptq`). The storage below is the same for all of them.

Storage: the codes in the layout `aten._convert_weight_to_int4pack_for_cpu` writes, which depends on the
CPU's vector width (torch packs blocks of 64 output rows with AVX512, 32 without). That layout is not
documented, so `packed_layout()` learns it once per process from small probes packed by torch itself and
checks the learned layout against torch's packing of a random weight; where it does not match (or the ops
are missing), int4 is refused at load (`dimple.quantize.check_quantize`), never guessed. Packed weights are
made at load on the machine that uses them and never saved.

Shapes the op cannot take are padded: output rows up to a multiple of the layout's block (zero rows, their
outputs dropped), input columns up to a multiple of G (zero columns; the activations are padded with zeros
per call, so those columns contribute nothing).

Kernels: `int4_gemv` (torch's int4 matmul: fast at few rows) and `int4_dequant` (one block of output rows
unpacked to the activation dtype and multiplied: the least memory, the reference). Which one a call uses
is `dimple.kernels`' business. It does not know models, checkpoints or the kernel choice.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

from .int4_gptq import gptq_codes, inverse_factor
from .int4_ranges import CODE_MAX, CODE_MID, DEFAULT_RANGES, group_codes

INT4_GROUPS = (32, 64, 128)  # group sizes offered (torch's op also takes 256)
CHUNK_ROWS = 4096  # rows quantised and packed at a time: int32 codes of 4096 x in, not of the whole weight
_PROBE_ROWS = 256  # probe height: several blocks of any width torch uses (16 to 128 rows)


def ops_present() -> bool:
    return hasattr(torch.ops.aten, "_convert_weight_to_int4pack_for_cpu") and hasattr(
        torch.ops.aten, "_weight_int4pack_mm_for_cpu")


def _pack(codes: torch.Tensor) -> torch.Tensor:
    """int32 codes (out, in) -> torch's packed uint8 (out, in / 2); innerKTiles is ignored on the CPU."""
    return torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes.contiguous(), 1)


def _nibbles(packed: torch.Tensor) -> torch.Tensor:
    """uint8 bytes -> their 4-bit halves in memory order, low half first: (..., 2 * bytes)."""
    return torch.stack((packed & 15, packed >> 4), dim=-1).flatten(-2)


def _learn_slots() -> tuple[int, torch.Tensor]:
    """(block rows, slot_rows): probe codes encoding each row's index, packed by torch with 2 input columns,
    read back. Expected from torch's source: per block of rows, column-major, so the first slots of the
    packed bytes hold column 0 of the block's rows in some order (slot_rows[s] = the row in slot s)."""
    rows = torch.arange(_PROBE_ROWS, dtype=torch.int32)[:, None].expand(-1, 2)
    col = torch.arange(2, dtype=torch.int32)[None, :].expand(_PROBE_ROWS, -1)
    low, high, k = (_nibbles(_pack(c)).flatten().long() for c in (rows % 16, rows // 16, col))
    row_of_slot = low + 16 * high
    block = int((k != 0).nonzero()[0]) if bool((k != 0).any()) else 0
    slot_rows = row_of_slot[:block]
    if block < 2 or block % 2 or not torch.equal(slot_rows.sort().values, torch.arange(block)):
        raise RuntimeError(f"torch's int4 packing does not start with one column of a block of rows (block {block})")
    return block, slot_rows


def _pack_as_learned(codes: torch.Tensor, block: int, slot_rows: torch.Tensor) -> torch.Tensor:
    """The packing the learned layout describes: (out, in) codes, out a multiple of `block` -> uint8 bytes."""
    out_f, in_f = codes.shape
    slots = codes.view(out_f // block, block, in_f).transpose(1, 2)[..., slot_rows]  # (blocks, in, block)
    pairs = slots.reshape(-1, 2).to(torch.uint8)
    return (pairs[:, 0] | (pairs[:, 1] << 4)).view(out_f, in_f // 2)


class Layout(NamedTuple):
    block: int  # output rows packed together
    row_slots: torch.Tensor  # (block,): the slot of each row within its block
    slot_rows: torch.Tensor  # (block,): the row in each slot


@functools.lru_cache(maxsize=1)
def packed_layout() -> Layout:
    """torch's int4 packing on this CPU, learned and checked once. Raises RuntimeError saying why when the ops
    are missing or the learned layout does not reproduce torch's packing of a random weight several blocks tall."""
    if not ops_present():
        raise RuntimeError(f"torch {torch.__version__} has no CPU int4 matmul (aten._weight_int4pack_mm_for_cpu)")
    block, slot_rows = _learn_slots()
    gen = torch.Generator().manual_seed(0)
    codes = torch.randint(0, CODE_MAX + 1, (3 * block, 2 * max(INT4_GROUPS)), dtype=torch.int32, generator=gen)
    if not torch.equal(_pack_as_learned(codes, block, slot_rows), _pack(codes)):
        raise RuntimeError("torch's int4 packing on this CPU is not the block layout this module reads")
    if CHUNK_ROWS % block:
        raise RuntimeError(f"torch's int4 packing uses blocks of {block} rows, which do not divide {CHUNK_ROWS}")
    _slot_columns.cache_clear()  # derived from the layout
    return Layout(block, slot_rows.argsort(), slot_rows)


def unavailable_reason() -> str | None:
    """Why int4 cannot run here (None: it can)."""
    try:
        packed_layout()
    except RuntimeError as exc:
        return str(exc)
    return None


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def quantize_int4(weight: torch.Tensor, group: int, ranges: str = DEFAULT_RANGES,
                  hessian: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, in) floating weight -> (packed uint8 (out', in' / 2), scales_and_zeros (in' / group, out', 2) in the
    weight's dtype), out' and in' padded up to the layout's block and to `group`; row chunk by row chunk. `ranges`
    picks how each group's scale and zero are chosen (`dimple.int4_ranges.RANGES`; group_codes refuses others).
    hessian: the layer's input statistics (in, in) (`dimple.int4_gptq.InputHessians`): the codes are then chosen
    by GPTQ against them (`dimple.int4_gptq.gptq_codes`); None rounds each group on its own."""
    if weight.dim() != 2 or not weight.is_floating_point():
        raise ValueError(f"quantize_int4 takes a 2-d floating weight, got {tuple(weight.shape)} {weight.dtype}")
    if group not in INT4_GROUPS:
        raise ValueError(f"int4 group size must be one of {INT4_GROUPS}, got {group}")
    block = packed_layout().block
    out_f, in_f = weight.shape
    out_p, in_p = _round_up(out_f, block), _round_up(in_f, group)
    packed = torch.empty(out_p, in_p // 2, dtype=torch.uint8)
    scales_and_zeros = torch.empty(in_p // group, out_p, 2, dtype=weight.dtype)
    factor = None if hessian is None else inverse_factor(F.pad(hessian.float(), (0, in_p - in_f, 0, in_p - in_f)))
    for start in range(0, out_p, CHUNK_ROWS):
        end = min(start + CHUNK_ROWS, out_p)
        w = F.pad(weight[start:min(end, out_f)].float(), (0, in_p - in_f, 0, end - min(end, out_f)))
        if factor is None:
            codes, scale, zero = group_codes(w, group, weight.dtype, ranges)
        else:  # rows are rounded independently under GPTQ too: a chunk at a time, one factor for all
            codes, scale, zero = gptq_codes(w, factor, group, weight.dtype, ranges)
        packed[start:end] = _pack(codes)  # block-major layout: a chunk of whole blocks packs on its own
        scales_and_zeros[:, start:end, 0] = scale.t()
        scales_and_zeros[:, start:end, 1] = zero.t()
    return packed, scales_and_zeros


def _block_codes(packed: torch.Tensor, start: int, end: int) -> torch.Tensor:
    """uint8 codes of output rows [start, end) (multiples of the block), column-major per block and in slot
    order: (blocks, in', block)."""
    block = packed_layout().block
    in_p = packed.shape[1] * 2
    return _nibbles(packed[start:end].reshape(-1, in_p, block // 2))


def dequantize_int4(packed: torch.Tensor, scales_and_zeros: torch.Tensor, out_features: int,
                    in_features: int) -> torch.Tensor:
    """The float32 weight (out, in) an int4 one stands for (for checks and error measurements)."""
    row_slots = packed_layout().row_slots
    codes = _block_codes(packed, 0, packed.shape[0])[..., row_slots].transpose(1, 2).reshape(packed.shape[0], -1)
    group = codes.shape[1] // scales_and_zeros.shape[0]
    scale, zero = (scales_and_zeros[..., i].t().float().repeat_interleave(group, dim=1) for i in (0, 1))
    return ((codes.float() - CODE_MID) * scale + zero)[:out_features, :in_features]


def plain_codes(packed: torch.Tensor, out_features: int) -> torch.Tensor:
    """The codes of a packed weight in a layout that does not depend on the CPU: uint8 (out, in' / 2), row by
    row, two columns a byte (column 2j in the low half). The layout's padding rows are dropped."""
    codes = _block_codes(packed, 0, packed.shape[0])[..., packed_layout().row_slots]  # (blocks, in', block)
    codes = codes.transpose(1, 2).reshape(-1, packed.shape[1] * 2)[:out_features]
    return codes[:, 0::2] | (codes[:, 1::2] << 4)


def pack_plain(plain: torch.Tensor, scales_and_zeros: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`plain_codes`' bytes (out, in' / 2) and their scales_and_zeros (in' / G, out, 2) -> the packed weight and
    scales_and_zeros of this CPU's layout, rows padded to its block (zero codes and scales: outputs dropped)."""
    out_f = plain.shape[0]
    out_p = _round_up(out_f, packed_layout().block)
    codes = torch.zeros(out_p, plain.shape[1] * 2, dtype=torch.int32)
    codes[:out_f, 0::2], codes[:out_f, 1::2] = (plain & 15).int(), (plain >> 4).int()
    packed = torch.empty(out_p, plain.shape[1], dtype=torch.uint8)
    for start in range(0, out_p, CHUNK_ROWS):  # whole blocks a chunk, as quantize_int4 packs
        packed[start:start + CHUNK_ROWS] = _pack(codes[start:start + CHUNK_ROWS])
    sz = torch.zeros(scales_and_zeros.shape[0], out_p, 2, dtype=scales_and_zeros.dtype)
    sz[:, :out_f] = scales_and_zeros
    return packed, sz


def _pad_columns(x: torch.Tensor, in_padded: int) -> torch.Tensor:
    return x if x.shape[1] == in_padded else F.pad(x, (0, in_padded - x.shape[1]))


def int4_gemv(x: torch.Tensor, packed: torch.Tensor, scales_and_zeros: torch.Tensor, out_features: int):
    """x (rows, in) times the int4 weight: torch's CPU int4 matmul (x's dtype must be the scales' dtype)."""
    in_p = packed.shape[1] * 2
    group = in_p // scales_and_zeros.shape[0]
    out = torch.ops.aten._weight_int4pack_mm_for_cpu(_pad_columns(x, in_p).contiguous(), packed, group,
                                                     scales_and_zeros)
    return out[:, :out_features]


def _dequantized_block(packed: torch.Tensor, sz: torch.Tensor, start: int, end: int, buf: torch.Tensor):
    """Output rows [start, end) (whole blocks) as (code - 8) * scale + zero in buf's dtype: two (in', columns / 2)
    matmul operands, from the low and from the high halves of the packed bytes; column j * (block / 2) + i of
    half h is slot 2i + h of block j. sz: (in' / G, end - start, 2) float32."""
    block, _, slot_rows = packed_layout()
    in_p, blocks, groups = packed.shape[1] * 2, (end - start) // block, sz.shape[0]
    data = packed[start:end].reshape(blocks, in_p, block // 2).transpose(0, 1).contiguous()  # (in', blocks, block/2)
    # scales and zeros in the columns' order, (2, 2 halves, groups, 1, blocks, block / 2), contiguous: strided
    # operands make the pass below several times slower
    slot_sz = sz.reshape(groups, blocks, block, 2).index_select(2, slot_rows).reshape(groups, blocks, block // 2, 2, 2)
    slot_sz = slot_sz.permute(4, 3, 0, 1, 2).unsqueeze(3).to(buf.dtype).contiguous()
    out = buf[: 2 * data.numel()].view(2, groups, -1, blocks, block // 2)
    for half, codes in enumerate((data & 15, data >> 4)):
        signed = codes.view(torch.int8).sub_(CODE_MID).view(groups, -1, blocks, block // 2)
        # one pass from the codes to buf's dtype; (code - 8) * scale is exact in bf16, the zero is added once
        torch.addcmul(slot_sz[1, half], signed, slot_sz[0, half], out=out[half])
    return out.view(2, in_p, -1)


@functools.lru_cache(maxsize=64)  # a few row counts per weight shape: the step and the last part
def _slot_columns(rows: int) -> torch.Tensor:
    """For `rows` output rows (whole blocks), the low half's columns then the high half's as `_dequantized_block`
    lays them out: the column holding each row."""
    block, row_slots, _ = packed_layout()
    blocks = torch.arange(rows // block).repeat_interleave(block)
    slot = row_slots.repeat(rows // block)
    return (slot % 2) * (rows // 2) + blocks * (block // 2) + slot // 2


def int4_dequant(x: torch.Tensor, packed: torch.Tensor, scales_and_zeros: torch.Tensor, out_features: int,
                 block_bytes: int = 4 * 2**20) -> torch.Tensor:
    """The same function by dequantising about `block_bytes` of the weight at a time to x's dtype and
    multiplying. The rows stay in the packed slot order (which is already the (in, out) operand a matmul
    wants); the output columns are put back in row order."""
    block = packed_layout().block
    in_p, out_p = packed.shape[1] * 2, packed.shape[0]
    step = max(block, block_bytes // (x.element_size() * in_p) // block * block)
    xp = _pad_columns(x, in_p)
    buf = torch.empty(in_p * min(step, out_p), dtype=x.dtype)
    out = torch.empty(x.shape[0], out_p, dtype=x.dtype)
    for start in range(0, out_p, step):
        end = min(start + step, out_p)
        low, high = _dequantized_block(packed, scales_and_zeros[:, start:end].float(), start, end, buf)
        out[:, start:end] = torch.cat((xp @ low, xp @ high), dim=1).index_select(1, _slot_columns(end - start))
    return out[:, :out_features]
