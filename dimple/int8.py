"""int8 weights: the symmetric per-row scheme, and the kernels that read it in rows (out, in).

Scheme (`quantize="int8"` and `"w8a8"`): each output row of a linear weight gets one scale, max |w| / 127,
and int8 values rounded to nearest (gpt-fast's and torchao's weight-only int8), the scale kept in the weight's
dtype; w ~= q * scale[:, None]. w8a8 also rounds each token's activations the same way as they enter the layer
(`quantize_rows`: dynamic, per token).

Kernels on the row layout: `int8_gemv` (torch's `_weight_int8pack_mm`, a matrix-vector kernel), `int8_dequant`
(one block of output rows converted and multiplied: the least memory, the reference), `int8_upcast` (the whole
weight converted for the call) and `w8a8_intmm` (torch's integer matmul). The fused kernel that reads the pair
order is `dimple.fused_matmul`'s; which kernel a call uses is `dimple.kernels`'. It does not know models or the
kernel choice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

INT8_MAX = 127  # symmetric int8: values in [-127, 127], so -w quantises to -q (weights and activations alike)
QUANT_CHUNK_ROWS = 4096  # rows quantised at a time: the float32 scratch stays at 4096 x in, not the whole weight


def quantize_weight(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, in) floating weight -> (int8 values (out, in), scales (out,) in the weight's dtype), row chunk by
    row chunk. w ~= q * scale[:, None]."""
    if weight.dim() != 2 or not weight.is_floating_point():
        raise ValueError(f"quantize_weight takes a 2-d floating weight, got {tuple(weight.shape)} {weight.dtype}")
    out_f = weight.shape[0]
    q = torch.empty(weight.shape, dtype=torch.int8, device=weight.device)
    scales = torch.empty(out_f, dtype=torch.float32, device=weight.device)
    for start in range(0, out_f, QUANT_CHUNK_ROWS):
        w = weight[start:start + QUANT_CHUNK_ROWS].float()
        s = (w.abs().amax(dim=1) / INT8_MAX).clamp_min(torch.finfo(torch.float32).tiny)
        s = s.to(weight.dtype).float()  # the scale the kernels will multiply by, so rounding uses it exactly
        q[start:start + QUANT_CHUNK_ROWS] = torch.round(w / s[:, None]).clamp_(-INT8_MAX, INT8_MAX).to(torch.int8)
        scales[start:start + QUANT_CHUNK_ROWS] = s
    return q, scales.to(weight.dtype)


def dequantize(qweight: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """The floating weight an int8 one stands for (for checks and error measurements)."""
    return qweight.to(scales.dtype) * scales[:, None]


INT8_MAX = 127  # symmetric int8: values in [-127, 127], so -w quantises to -q (weights and activations alike)


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, in) floating -> (int8 (rows, in), float32 scales (rows, 1)): one symmetric scale per row, max |x|
    / 127, round to nearest (a token's activations are quantised on their own: dynamic, per token)."""
    xf = x.float()
    s = (xf.abs().amax(dim=1, keepdim=True) / INT8_MAX).clamp_min_(torch.finfo(torch.float32).tiny)
    return torch.round(xf / s).clamp_(-INT8_MAX, INT8_MAX).to(torch.int8), s


def w8a8_intmm(x: torch.Tensor, qweight: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x (rows, in) quantised per row to int8, times the int8 weight (out, in), in torch's integer matmul
    (int32 sums: |sum| <= 127 * 127 * in < 2^31 for in < 133,000), then both scales. A different function from
    the weight-only kernels: the activations are rounded too (`quantize="w8a8"`, never chosen for "int8")."""
    xq, xs = quantize_rows(x)
    return (torch._int_mm(xq, qweight.t()).float() * xs * scales.float()).to(x.dtype)


def int8_gemv(x: torch.Tensor, qweight: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x (rows, in) times int8 weight (out, in) with per-output-row scales (out,): torch's int8 weight-pack
    matmul (the kernel gpt-fast and torchao's CPU weight-only int8 call)."""
    return torch.ops.aten._weight_int8pack_mm(x, qweight, scales)


def int8_dequant(x: torch.Tensor, qweight: torch.Tensor, scales: torch.Tensor, block_bytes: int = 4 * 2**20):
    """The same function by converting the int8 weight to x's dtype one block of output rows at a time (int8
    values are exact in bf16) and multiplying: out^T[block] = W[block] x^T, then the per-row scales. On a GPU
    the whole weight is converted at once."""
    if x.device.type != "cpu":
        return F.linear(x, qweight.to(x.dtype)) * scales
    out_features, in_features = qweight.shape
    block = max(16, block_bytes // (2 * in_features))
    out_t = torch.empty(out_features, x.shape[0], dtype=x.dtype, device=x.device)
    buf = torch.empty(min(block, out_features), in_features, dtype=x.dtype, device=x.device)
    x_t = x.t()
    for start in range(0, out_features, block):
        end = min(start + block, out_features)
        b = buf[: end - start]
        b.copy_(qweight[start:end])
        torch.mm(b, x_t, out=out_t[start:end])
    return out_t.t() * scales


def int8_upcast(x: torch.Tensor, qweight: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """The same function with the whole int8 weight converted to x's dtype for this call (a transient copy of one
    weight, 136 MB for the 7B's MLP, 1.1 GB for its lm_head) and one matmul: one conversion instead of
    `int8_dequant`'s blocks, which is faster for some shapes and machine states (the kernel table decides)."""
    return F.linear(x, qweight.to(x.dtype)) * scales


INT8PACK_K_MULTIPLE = 16  # _weight_int8pack_mm on the CPU reads the input dimension in blocks of this many


def int8pack_runs(device: torch.device, in_features: int) -> bool:
    """Whether torch's `_weight_int8pack_mm` can be called at this input width. On the CPU (torch 2.13) an
    in_features that is not a multiple of 16 crashed the process at 2+ rows (3420: the 7B vision MLP's
    down_proj, a segmentation fault during the kernel timing) and gave NaN at 1 row (100), so such a shape
    never reaches it: a crash cannot be caught and dropped like an error."""
    if not hasattr(torch.ops.aten, "_weight_int8pack_mm"):
        return False
    return device.type != "cpu" or in_features % INT8PACK_K_MULTIPLE == 0
