"""`int4_native`: the int4 canvas kernel, dequantising each block of rows with a small compiled C loop.

Why: a canvas pass feeds 33-65 rows, where torch's int4 matmul (`int4_gemv`) is a matrix-vector kernel run once
per row (49 ms on the 7B's widest matmul at 33 rows against 12.4 ms for bf16, AMD EPYC, docs/scale.md), and the
torch-ops dequantiser (`int4_dequant`) spends most of its time in its several elementwise passes over each block.
Here one C loop turns a block of packed codes into x's dtype in one pass ((code - 8) * scale + zero, computed in
float32 and rounded once), into a buffer that stays in cache, and torch's own matmul multiplies it. So the matmul
runs at bf16 speed on a weight streamed at int4 size, plus the unpacking.

Owns: the C source, `unavailable_reason()` and the kernel; the build and its cache are `dimple.native_build`'s.
The loop runs on torch's OpenMP team (see there), split by blocks of rows. The weight is the one `dimple.int4` packs, read in torch's
layout as `dimple.int4.packed_layout()` learned it. Without a C compiler (or where the build fails) the kernel is
unavailable and the kernel choice never offers it (`dimple.kernels`); nothing is compiled at import.
It does not know models, the kernel choice or how codes are chosen.
"""

from __future__ import annotations

import ctypes
import functools

import torch
import torch.nn.functional as F

from . import native_build
from .int4 import packed_layout
from .int4_ranges import CODE_MID

# One function per dtype (the scales' dtype is the activations': torch's int4 op requires it too). Arguments:
# packed (out', in' / 2) bytes in torch's block layout; sz (in' / G, out', 2) scales and zeros; slot_rows (block,);
# blocks [b0, b1) of `block` rows; out (in', (b1 - b0) * block), rows `ld` elements apart. Slot 2i of a block is the
# low half of its byte i, slot 2i + 1 the high half; each block's columns hold its low halves, then its high halves
# (column j * block + c is slot 2c, or 2(c - block / 2) + 1, of block b0 + j): two contiguous loops that vectorise.
_SOURCE = r"""
#include <stdint.h>
#include <string.h>
#define MID %(mid)d

static inline float bf16_to_f32(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }
static inline uint16_t f32_to_bf16(float f) {  /* round to nearest even; the values are finite */
    uint32_t u; memcpy(&u, &f, 4); return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16); }
#define SAME(x) (x)

/* Columns [k0, k1) of one block of rows, one group: `half` bytes a column; sc, ze the group's scales and zeros
   in the output's column order. The portable loops. */
#define COLUMNS(NAME, T, STORE)                                                                                \
static void NAME(const uint8_t *restrict pb, const float *restrict sc, const float *restrict ze, int64_t half,  \
                 int64_t k0, int64_t k1, int64_t ld, T *restrict ob) {                                         \
    for (int64_t k = k0; k < k1; ++k) {                                                                        \
        const uint8_t *restrict p = pb + k * half;                                                             \
        T *restrict lo = ob + k * ld, *restrict hi = lo + half;                                                \
        for (int64_t i = 0; i < half; ++i) lo[i] = STORE((float)((p[i] & 15) - MID) * sc[i] + ze[i]);          \
        for (int64_t i = 0; i < half; ++i) hi[i] = STORE((float)((p[i] >> 4) - MID) * sc[half + i] + ze[half + i]); \
    }                                                                                                          \
}
COLUMNS(columns_bf16, uint16_t, f32_to_bf16)
COLUMNS(columns_f32, float, SAME)

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
/* The same for 16 bytes of a column at a time (blocks of 64 rows, torch's AVX-512 packing): 2 x 16 values. */
static inline void codes16(const uint8_t *p, const float *sc, const float *ze, __m512 *low, __m512 *high) {
    const __m512i c = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)), mid = _mm512_set1_epi32(MID);
    const __m512i cl = _mm512_sub_epi32(_mm512_and_si512(c, _mm512_set1_epi32(15)), mid);
    const __m512i ch = _mm512_sub_epi32(_mm512_srli_epi32(c, 4), mid);
    *low = _mm512_fmadd_ps(_mm512_cvtepi32_ps(cl), _mm512_loadu_ps(sc), _mm512_loadu_ps(ze));  /* exact product */
    *high = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ch), _mm512_loadu_ps(sc + 32), _mm512_loadu_ps(ze + 32));
}
static inline void store_bf16(uint16_t *dst, __m512 v) {
#if defined(__AVX512BF16__)
    _mm256_storeu_si256((__m256i *)dst, (__m256i)_mm512_cvtneps_pbh(v));
#else
    const __m512i u = _mm512_castps_si512(v), one = _mm512_set1_epi32(1);
    const __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)),
                                       _mm512_and_si512(_mm512_srli_epi32(u, 16), one));
    _mm256_storeu_si256((__m256i *)dst, _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
#endif
}
static inline void store_f32(float *dst, __m512 v) { _mm512_storeu_ps(dst, v); }
#define COLUMNS32(NAME, T, STORE)                                                                              \
static void NAME(const uint8_t *pb, const float *sc, const float *ze, int64_t k0, int64_t k1, int64_t ld, T *ob) { \
    for (int64_t k = k0; k < k1; ++k)                                                                          \
        for (int j = 0; j < 32; j += 16) {                                                                     \
            __m512 low, high;                                                                                  \
            codes16(pb + k * 32 + j, sc + j, ze + j, &low, &high);                                             \
            STORE(ob + k * ld + j, low);                                                                       \
            STORE(ob + k * ld + 32 + j, high);                                                                 \
        }                                                                                                      \
}
COLUMNS32(columns32_bf16, uint16_t, store_bf16)
COLUMNS32(columns32_f32, float, store_f32)
#define FAST(NAME) if (half == 32) NAME(pb, sc, ze, k0, k0 + group, ld, ob); else
#else
#define FAST(NAME)
#endif

/* Blocks [b0, b1) split among the OpenMP threads (torch's team: dimple.native_build). */
#define DEQUANT(NAME, T, LOAD, PORTABLE, VECTOR)                                                               \
void NAME(const uint8_t *packed, const T *sz, const int32_t *slot_rows, int64_t in_p, int64_t out_p,             \
          int64_t group, int64_t block, int64_t b0, int64_t b1, int64_t ld, T *out) {                            \
    const int64_t half = block / 2;                                                                            \
    _Pragma("omp parallel for schedule(static)")                                                              \
    for (int64_t b = b0; b < b1; ++b) {                                                                        \
        float sc[256], ze[256];                                                                                \
        const uint8_t *pb = packed + b * in_p * half;                                                          \
        T *ob = out + (b - b0) * block;                                                                        \
        for (int64_t g = 0, k0 = 0; g < in_p / group; ++g, k0 += group) {                                      \
            for (int64_t s = 0; s < block; ++s) {  /* the group's scales, the halves apart */                  \
                const T *e = sz + (g * out_p + b * block + slot_rows[s]) * 2;                                  \
                sc[(s & 1) * half + s / 2] = LOAD(e[0]); ze[(s & 1) * half + s / 2] = LOAD(e[1]);              \
            }                                                                                                  \
            VECTOR PORTABLE(pb, sc, ze, half, k0, k0 + group, ld, ob);                                         \
        }                                                                                                      \
    }                                                                                                          \
}
DEQUANT(dequant_bf16, uint16_t, bf16_to_f32, columns_bf16, FAST(columns32_bf16))
DEQUANT(dequant_f32, float, SAME, columns_f32, FAST(columns32_f32))
"""
_MAX_BLOCK = 256  # the C loop's per-slot arrays
MIN_BLOCKS = 4  # blocks of rows per part at least: 256 rows for torch's AVX-512 packing (measured, docs/scale.md)
_FUNCTIONS = {torch.bfloat16: "dequant_bf16", torch.float32: "dequant_f32"}


def _source() -> str:
    return _SOURCE % {"mid": CODE_MID}


@functools.lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    signature = ([ctypes.c_void_p] * 3 + [ctypes.c_int64] * 7 + [ctypes.c_void_p], None)
    return native_build.library("int4_native", _source(), {name: signature for name in _FUNCTIONS.values()})


def unavailable_reason() -> str | None:
    """Why `int4_native` cannot run here (None: it can): int4 itself unavailable, or no compiled library."""
    try:
        if packed_layout().block > _MAX_BLOCK:
            return f"torch packs int4 in blocks of {packed_layout().block} rows; the kernel takes {_MAX_BLOCK}"
        _library()
    except native_build.FAILURES as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=64)
def _row_columns(rows: int) -> torch.Tensor | None:
    """For `rows` output rows (whole blocks) as the C loop lays them out, the column holding each row; None where
    that is the identity (torch's AVX-512 packing puts rows i and i + 32 in byte i: the halves apart are in order)."""
    block, row_slots, _ = packed_layout()
    column = (row_slots % 2) * (block // 2) + row_slots // 2
    if torch.equal(column, torch.arange(block)):
        return None
    return torch.arange(0, rows, block).repeat_interleave(block) + column.repeat(rows // block)


@functools.lru_cache(maxsize=2)
def _slot_rows(layout) -> torch.Tensor:
    """A layout's slot -> row map as the C loop reads it (int32), made once per layout, not per call."""
    return layout.slot_rows.to(torch.int32).contiguous()


def _dequantize(packed, sz, b0: int, b1: int, out: torch.Tensor) -> None:
    """Blocks [b0, b1) into out (in', (b1 - b0) * block; unit column stride), on torch's OpenMP threads."""
    layout = packed_layout()
    fn = getattr(_library(), _FUNCTIONS[out.dtype])
    fn(packed.data_ptr(), sz.data_ptr(), _slot_rows(layout).data_ptr(), out.shape[0], packed.shape[0],
       out.shape[0] // sz.shape[0], layout.block, b0, b1, out.stride(0), out.data_ptr())


def int4_native(x: torch.Tensor, packed: torch.Tensor, scales_and_zeros: torch.Tensor, out_features: int,
                block_bytes: int = 4 * 2**20) -> torch.Tensor:
    """x (rows, in) times the int4 weight: about `block_bytes` of the weight at a time (at least `MIN_BLOCKS` of
    the layout's blocks of rows, so that the matmul is wide and every thread unpacks) dequantised to x's dtype by
    the C loop and multiplied by torch's matmul. x's dtype must be the scales' (bfloat16 or float32)."""
    if x.dtype not in _FUNCTIONS or scales_and_zeros.dtype != x.dtype:
        raise TypeError(f"int4_native takes bfloat16 or float32 activations in the scales' dtype, got {x.dtype} "
                        f"and {scales_and_zeros.dtype}")
    block = packed_layout().block
    in_p, out_p = packed.shape[1] * 2, packed.shape[0]
    total = out_p // block
    blocks = min(total, max(MIN_BLOCKS, block_bytes // (x.element_size() * in_p * block)))
    xt = (x if x.shape[1] == in_p else F.pad(x, (0, in_p - x.shape[1]))).t()
    packed, sz = packed.contiguous(), scales_and_zeros.contiguous()
    buf = torch.empty(in_p, blocks * block, dtype=x.dtype)
    out_t = torch.empty(out_p, x.shape[0], dtype=x.dtype)  # (out, rows): each part's rows are contiguous
    for b0 in range(0, total, blocks):
        b1 = min(b0 + blocks, total)
        w = buf[:, :(b1 - b0) * block]  # the last part may be narrower: a view with buf's row stride
        _dequantize(packed, sz, b0, b1, w)
        torch.mm(w.t(), xt, out=out_t[b0 * block:b1 * block])
    columns = _row_columns(out_p)
    if columns is not None:
        out_t = out_t.index_select(0, columns)
    return out_t[:out_features].t()
