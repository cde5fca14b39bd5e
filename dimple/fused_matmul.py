"""The fused matmul kernels: int4 or int8 weights converted to bf16 inside a compiled AVX-512 BF16 matmul loop.

Why: at a canvas's 33-65 rows torch's quantised ops are matrix-vector kernels run once per row, and the
dequantising kernels (`int4_dequant`, `int8_dequant`, `dimple.int4_native`) write each block of bf16 weights out
before torch's matmul reads it back, so all of them took about twice the bf16 matmul's time (docs/scale.md). Here
the weight is read once at its stored size: for each block of 64 output rows and each 128 input columns it becomes
a 16 KB tile of bf16 pairs in registers, and AVX-512 BF16's dot product (`vdpbf16ps`, two products a lane)
multiplies the tile by 6 rows of x at a time into float32 sums. The next span's bytes are prefetched while the rows
pass over this one. int4 (`int4_fused`): the codes of torch's AVX-512 packing, (code - 8) * scale + zero in float32,
rounded once to bf16: the reference kernel's weights. int8 (`int8_fused`): the values in pair order, arranged once
at load (`tile_int8`), each 32 bytes converted exactly to 16 rows' bf16 pairs, the row's scale applied to its sums.
Blocks of rows are split among torch's OpenMP threads. Wide inputs (a prompt) are cut into chunks of 48-192 rows
(as many as fit 8 MB of x), each converting the weight once; at 1,024 rows oneDNN's bf16 matmul is 1.06-1.15x
faster per row, and the choice weighs that.

Owns: the C source, `unavailable_reason()` and the two kernels (bf16 activations only). They need AVX-512 BF16
(`avx512_bf16`: AMD Zen 4 and later, Intel Cooper Lake, Sapphire Rapids and later); int4 also needs torch's
AVX-512 packing (blocks of 64 rows, rows i and 32 + i in byte i, as `dimple.int4.packed_layout()` learns it), and
int8 weights of whole blocks (64 rows, an even number of columns). Elsewhere they are not offered and the kernel
choice keeps the others (`dimple.kernels`). The build is `dimple.native_build`'s. It does not know models, the
kernel choice or how weights are quantised.
"""

from __future__ import annotations

import ctypes
import functools

import torch
import torch.nn.functional as F

from . import native_build
from .int4 import packed_layout
from .int4_ranges import CODE_MID

ROWS = 64  # the block of output rows the C loop reads: torch's AVX-512 int4 packing
INT8_COLUMNS = 2  # int8: input columns stored side by side in the pair order (`tile_int8`): one bf16 pair a lane

_SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512BF16__)
#include <immintrin.h>
#define MID %(mid)d
#define ROWS %(rows)d   /* a block of rows: byte i of a column holds row i (low half) and row 32 + i (high half) */

/* One group's weights of one block as bf16 pairs: tile[4 kp + j] holds rows 16j..16j+15, lane r = (w[r, k], w[r,
   k + 1]) for k = k0 + 2 kp. Each weight is (code - MID) * scale + zero in float32, rounded once to bf16. */
static inline void unpack_group(const uint8_t *pb, int64_t k0, int64_t group, const uint16_t *szg, __m512i *tile) {
    __m512 s[4], z[4];
    for (int j = 0; j < 4; ++j) {  /* (scale, zero) of 16 rows as 32-bit lanes: scale in the low half */
        const __m512i sz = _mm512_loadu_si512((const void *)(szg + 32 * j));
        s[j] = _mm512_castsi512_ps(_mm512_slli_epi32(sz, 16));
        z[j] = _mm512_castsi512_ps(_mm512_and_si512(sz, _mm512_set1_epi32((int)0xFFFF0000u)));
    }
    const __m512i mid = _mm512_set1_epi32(MID), low = _mm512_set1_epi32(15);
    const __m512i pairs = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int64_t kp = 0; kp < group / 2; ++kp) {
        const uint8_t *p0 = pb + (k0 + 2 * kp) * 32, *p1 = p0 + 32;
        for (int h = 0; h < 2; ++h) {
            const __m512i c0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p0 + 16 * h)));
            const __m512i c1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p1 + 16 * h)));
            for (int up = 0; up < 2; ++up) {  /* low halves: rows 16h.., high halves: rows 32 + 16h.. */
                const int j = 2 * up + h;
                const __m512i a = up ? _mm512_srli_epi32(c0, 4) : _mm512_and_si512(c0, low);
                const __m512i b = up ? _mm512_srli_epi32(c1, 4) : _mm512_and_si512(c1, low);
                const __m512 v0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a, mid)), s[j], z[j]);
                const __m512 v1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(b, mid)), s[j], z[j]);
                const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(v1, v0);  /* v0's 16 then v1's 16 */
                tile[4 * kp + j] = _mm512_permutexvar_epi16(pairs, both);
            }
        }
    }
}

/* acc (MT rows x 64, float32) += x's MT rows (columns k0 .. k0 + 2 kps) times the tile. */
#define MICRO(MT)                                                                                            \
static inline void micro##MT(const __m512i *tile, int64_t kps, const uint16_t *x, int64_t ldx, int64_t k0,     \
                             float *acc) {                                                                   \
    __m512 a[MT][4];                                                                                         \
    for (int r = 0; r < MT; ++r)                                                                             \
        for (int j = 0; j < 4; ++j) a[r][j] = _mm512_loadu_ps(acc + r * ROWS + 16 * j);                      \
    for (int64_t kp = 0; kp < kps; ++kp) {                                                                   \
        const __m512bh w0 = (__m512bh)tile[4 * kp], w1 = (__m512bh)tile[4 * kp + 1];                         \
        const __m512bh w2 = (__m512bh)tile[4 * kp + 2], w3 = (__m512bh)tile[4 * kp + 3];                     \
        for (int r = 0; r < MT; ++r) {                                                                       \
            int32_t pair;                                                                                    \
            memcpy(&pair, x + r * ldx + k0 + 2 * kp, 4);                                                     \
            const __m512bh xb = (__m512bh)_mm512_set1_epi32(pair);                                           \
            a[r][0] = _mm512_dpbf16_ps(a[r][0], w0, xb);                                                     \
            a[r][1] = _mm512_dpbf16_ps(a[r][1], w1, xb);                                                     \
            a[r][2] = _mm512_dpbf16_ps(a[r][2], w2, xb);                                                     \
            a[r][3] = _mm512_dpbf16_ps(a[r][3], w3, xb);                                                     \
        }                                                                                                    \
    }                                                                                                        \
    for (int r = 0; r < MT; ++r)                                                                             \
        for (int j = 0; j < 4; ++j) _mm512_storeu_ps(acc + r * ROWS + 16 * j, a[r][j]);                      \
}
MICRO(1) MICRO(2) MICRO(3) MICRO(4) MICRO(5) MICRO(6)

/* int8 weights in pair order (`tile_int8`: the block's columns k, k + 1 of its 64 rows, row by row, then the
   next two columns), columns [k0, k1) -> the same tile as unpack_group's: 32 bytes hold 16 rows' pairs, converted
   to bf16 in place (exact: |q| <= 127). The order is chosen at load, so there is no transpose here: on the 7B's
   MLP a 16 x 16 transpose of each row-major piece cost more than the weight's streaming (docs/scale.md). */
static inline void int8_tile(const int8_t *qb, int64_t k0, int64_t k1, __m512i *tile) {
    const int8_t *q = qb + k0 * ROWS;  /* column pair k0 / 2 starts 2 * ROWS bytes per pair into the block */
    for (int64_t i = 0; i < (k1 - k0) / 2 * 4; ++i, q += 32) {
        const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q)));
        const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + 16))));
        tile[i] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);  /* lane r: rows 16 j + r's columns k, k + 1 */
    }
}

/* The next span's bytes (after a block's last span: the next block's, which the same thread takes), asked for
   while the rows pass over this one: the hardware prefetcher alone ran out of work between the bursts, so the
   weight's streaming added to the multiply instead of hiding under it (the 7B's MLP at 33 rows: 8.6 ms without,
   bf16 6.3). */
static inline void prefetch(const char *p, int64_t bytes) {
    for (int64_t i = 0; i < bytes; i += 64) _mm_prefetch(p + i, _MM_HINT_T0);
}

#define SPAN 128     /* input columns unpacked at a time (several groups): a 16 KB tile, so the sums are loaded less often */
#define TILE_ROWS 6   /* rows of x per micro-kernel: 6 x 4 accumulators + 4 weights + 1 broadcast of 32 registers */
/* Rows of x per pass over a block (the weight is converted once per chunk) at most, and the bytes of x a chunk
   may take: a 65-row canvas at the 7B's widest input in one chunk (at 1 MB of x it took two, converted the weight
   twice and ran 1.4x slower); 192 rows' float32 sums (48 KB) sit in L2. 96 rows gave 1.02-1.08x the time at
   256-1,024 rows, 288 no better than 192 (the 7B's MLP, AMD EPYC Zen 5, docs/scale.md). */
#define CHUNK_ROWS 192
#define CHUNK_X_BYTES (1 << 23)

/* One block of 64 output rows for a chunk of x's rows. kind 4: w the block's packed int4 bytes, aux its scales and
   zeros (sz + b * 64 * 2); kind 8: w the block's first int8 row, aux its 64 scales, applied to the sums. */
static void block_rows(int kind, const void *w, const uint16_t *aux, const uint16_t *x, int64_t rows, int64_t in_p,
                       int64_t out_p, int64_t group, __m512i *tile, float *acc, uint16_t *out) {
    const int64_t span = group > SPAN ? group : SPAN;  /* columns unpacked before the rows pass over them */
    memset(acc, 0, rows * ROWS * sizeof(float));
    for (int64_t k0 = 0; k0 < in_p; k0 += span) {
        const int64_t k1 = k0 + span < in_p ? k0 + span : in_p, kps = (k1 - k0) / 2;
        if (kind == 4)
            for (int64_t k = k0; k < k1; k += group)  /* each group's scales and zeros are in its own tiles */
                unpack_group((const uint8_t *)w, k, group, aux + k / group * out_p * 2, tile + (k - k0) / 2 * 4);
        else
            int8_tile((const int8_t *)w, k0, k1, tile);
        prefetch((const char *)w + k1 * (kind == 4 ? ROWS / 2 : ROWS), span * (kind == 4 ? ROWS / 2 : ROWS));
        for (int64_t m = 0; m < rows; m += TILE_ROWS) {
            const uint16_t *xm = x + m * in_p;
            float *am = acc + m * ROWS;
            switch (rows - m < TILE_ROWS ? rows - m : TILE_ROWS) {
                case 6: micro6(tile, kps, xm, in_p, k0, am); break;
                case 5: micro5(tile, kps, xm, in_p, k0, am); break;
                case 4: micro4(tile, kps, xm, in_p, k0, am); break;
                case 3: micro3(tile, kps, xm, in_p, k0, am); break;
                case 2: micro2(tile, kps, xm, in_p, k0, am); break;
                default: micro1(tile, kps, xm, in_p, k0, am); break;
            }
        }
    }
    for (int j = 0; j < 4; ++j) {
        const __m512 scale = kind == 8 ? _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(aux + 16 * j))), 16)) : _mm512_set1_ps(1.0f);
        for (int64_t m = 0; m < rows; ++m)
            _mm256_storeu_si256((__m256i *)(out + m * out_p + 16 * j), (__m256i)_mm512_cvtneps_pbh(
                _mm512_mul_ps(_mm512_loadu_ps(acc + m * ROWS + 16 * j), scale)));
    }
}

/* x a chunk of rows at a time (its chunk stays in each thread's L2 while the weight streams past), the blocks of 64
   output rows split among the OpenMP threads. */
static void fused(int kind, const void *w, const uint16_t *aux, const uint16_t *x, int64_t rows, int64_t in_p,
                  int64_t out_p, int64_t group, uint16_t *out) {
    #pragma omp parallel
    {
        __m512i *tile = aligned_alloc(64, (group > SPAN ? group : SPAN) / 2 * 4 * sizeof(__m512i));
        float *acc = aligned_alloc(64, CHUNK_ROWS * ROWS * sizeof(float));
        const int64_t fit = CHUNK_X_BYTES / (in_p * 2) / TILE_ROWS * TILE_ROWS;
        const int64_t chunk = fit > CHUNK_ROWS ? CHUNK_ROWS : fit < 48 ? 48 : fit;
        for (int64_t m = 0; m < rows; m += chunk) {
            #pragma omp for schedule(static)
            for (int64_t b = 0; b < out_p / ROWS; ++b) {
                const void *wb = kind == 4 ? (const void *)((const uint8_t *)w + b * in_p * (ROWS / 2))
                                           : (const void *)((const int8_t *)w + b * ROWS * in_p);
                block_rows(kind, wb, aux + b * ROWS * (kind == 4 ? 2 : 1), x + m * in_p,
                           rows - m < chunk ? rows - m : chunk, in_p, out_p, group, tile, acc, out + m * out_p + b * ROWS);
            }
        }
        free(tile);
        free(acc);
    }
}

int fused_available(void) { return 1; }

/* out (rows, out_p) = x (rows, in_p) times the packed int4 weight (torch's AVX-512 layout). */
void fused_int4(const uint8_t *packed, const uint16_t *sz, const uint16_t *x, int64_t rows, int64_t in_p,
                int64_t out_p, int64_t group, uint16_t *out) {
    fused(4, packed, sz, x, rows, in_p, out_p, group, out);
}

/* out (rows, out_f) = x (rows, in_f) times the int8 weight (out_f, in_f) and its per-row scales. */
void fused_int8(const int8_t *q, const uint16_t *scales, const uint16_t *x, int64_t rows, int64_t in_f,
                int64_t out_f, uint16_t *out) {
    fused(8, q, scales, x, rows, in_f, out_f, 32, out);
}
#else
int fused_available(void) { return 0; }  /* this CPU has no AVX-512 BF16: the kernels are not offered */
void fused_int4(const uint8_t *packed, const uint16_t *sz, const uint16_t *x, int64_t rows, int64_t in_p,
                int64_t out_p, int64_t group, uint16_t *out) { (void)packed; (void)sz; (void)x; (void)rows;
    (void)in_p; (void)out_p; (void)group; (void)out; }
void fused_int8(const int8_t *q, const uint16_t *scales, const uint16_t *x, int64_t rows, int64_t in_f,
                int64_t out_f, uint16_t *out) { (void)q; (void)scales; (void)x; (void)rows; (void)in_f; (void)out_f;
    (void)out; }
#endif
"""


@functools.lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    int4 = ([ctypes.c_void_p] * 3 + [ctypes.c_int64] * 4 + [ctypes.c_void_p], None)
    int8 = ([ctypes.c_void_p] * 3 + [ctypes.c_int64] * 3 + [ctypes.c_void_p], None)
    return native_build.library("fused_matmul", _SOURCE % {"mid": CODE_MID, "rows": ROWS},
                                {"fused_int4": int4, "fused_int8": int8, "fused_available": ([], ctypes.c_int)})


def _layout_is_avx512() -> bool:
    """Blocks of 64 rows whose byte i holds row i (low half) and row 32 + i (high half)."""
    layout = packed_layout()
    want = torch.stack((torch.arange(ROWS // 2), torch.arange(ROWS // 2, ROWS)), dim=1).flatten()
    return layout.block == ROWS and torch.equal(layout.slot_rows, want)


def unavailable_reason(storage: str = "int4") -> str | None:
    """Why the fused kernel of `storage` ("int4" or "int8") cannot run here (None: it can)."""
    try:
        if storage == "int4" and not _layout_is_avx512():
            return f"torch packs int4 in blocks of {packed_layout().block} rows here; the fused kernel reads {ROWS}"
        if not _library().fused_available():
            return "this CPU has no AVX-512 BF16 (avx512_bf16), which the fused kernels multiply with"
    except native_build.FAILURES as exc:
        return str(exc)
    return None


def _check_bf16(x: torch.Tensor, scales: torch.Tensor, name: str) -> None:
    if x.dtype != torch.bfloat16 or scales.dtype != torch.bfloat16:
        raise TypeError(f"{name} takes bfloat16 activations and scales, got {x.dtype} and {scales.dtype}")


def int4_fused(x: torch.Tensor, packed: torch.Tensor, scales_and_zeros: torch.Tensor, out_features: int) -> torch.Tensor:
    """x (rows, in) bf16 times the int4 weight, unpacked inside the matmul; (rows, out_features) bf16."""
    _check_bf16(x, scales_and_zeros, "int4_fused")
    in_p, out_p = packed.shape[1] * 2, packed.shape[0]
    xp = (x if x.shape[1] == in_p else F.pad(x, (0, in_p - x.shape[1]))).contiguous()
    packed, sz = packed.contiguous(), scales_and_zeros.contiguous()
    out = torch.empty(x.shape[0], out_p, dtype=torch.bfloat16)
    _library().fused_int4(packed.data_ptr(), sz.data_ptr(), xp.data_ptr(), x.shape[0], in_p, out_p,
                          in_p // sz.shape[0], out.data_ptr())
    return out[:, :out_features]


def _check_int8_shape(out_f: int, in_f: int) -> None:
    if out_f % ROWS or in_f % INT8_COLUMNS:
        raise ValueError(f"int8_fused takes weights of whole blocks ({ROWS} rows, {INT8_COLUMNS} columns), got "
                         f"{out_f} x {in_f}")


def tile_int8(qweight: torch.Tensor) -> torch.Tensor:
    """int8 weight (out, in) -> the pair order `int8_fused` reads, (out / 64, in / 2, 64, 2): [b, p, r, e] is
    row 64 b + r, column 2 p + e. The same bytes, so a block's tiles stream from one place (done once, at load)."""
    out_f, in_f = qweight.shape
    _check_int8_shape(out_f, in_f)
    return qweight.view(out_f // ROWS, ROWS, in_f // 2, 2).transpose(1, 2).contiguous()


def tile_int8_(qweight: torch.Tensor) -> torch.Tensor:
    """`tile_int8` in place: each block of 64 rows rearranged through a buffer of one block, so a load never holds a
    second copy of a weight (the lm_head's is 545 MB at the 7B shape). Returns the pair-order view of `qweight`'s
    storage; `qweight` itself must not be read as rows after."""
    out_f, in_f = qweight.shape
    _check_int8_shape(out_f, in_f)
    blocks = qweight.view(out_f // ROWS, ROWS, in_f // 2, 2)
    for block in blocks:
        block.view(-1).copy_(block.transpose(0, 1).flatten())
    return qweight.view(out_f // ROWS, in_f // 2, ROWS, 2)


def untile_int8(tiled: torch.Tensor) -> torch.Tensor:
    """The pair order back to (out, in) rows (for the reference kernels and checks)."""
    blocks, pairs = tiled.shape[:2]
    return tiled.transpose(1, 2).reshape(blocks * ROWS, pairs * 2)


def int8_fused(x: torch.Tensor, tiled: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x (rows, in) bf16 times the int8 weight in pair order (`tile_int8`'s (out / 64, in / 2, 64, 2)) with per-row
    scales (out,), converted inside the matmul; (rows, out) bf16."""
    _check_bf16(x, scales, "int8_fused")
    if tiled.dim() != 4 or tuple(tiled.shape[2:]) != (ROWS, INT8_COLUMNS):
        raise ValueError(f"int8_fused takes the pair order of tile_int8 (out / {ROWS}, in / 2, {ROWS}, 2), got "
                         f"{tuple(tiled.shape)}")
    out_f, in_f = tiled.shape[0] * ROWS, tiled.shape[1] * INT8_COLUMNS
    xc, q, s = x.contiguous(), tiled.contiguous(), scales.contiguous()
    out = torch.empty(x.shape[0], out_f, dtype=torch.bfloat16)
    _library().fused_int8(q.data_ptr(), s.data_ptr(), xc.data_ptr(), x.shape[0], in_f, out_f, out.data_ptr())
    return out
