"""Calibrated int4 codes (GPTQ): each weight's rounding chosen against what its layer is fed, not the weight alone.

Owns GPTQ for the int4 group scheme (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for
Generative Pre-trained Transformers", Algorithm 1) and `InputHessians`, the forward hooks that gather each
layer's input statistics H = sum over calibration rows of x x^T (in, in) while calibration prompts decode.

A layer's output error on inputs X is (W - Q) X^T, so the error to minimise is tr((W - Q) H (W - Q)^T), not
|W - Q|^2. GPTQ rounds the input columns left to right; the error each column's rounding leaves is spread over
the columns not yet rounded, in proportion to H^-1 (through U, the upper Cholesky factor of H^-1: U^T U = H^-1),
so the later columns absorb what the earlier ones lost. The updates are applied lazily, a block of BLOCK columns
at a time (the paper's "lazy batch"), which is the same arithmetic in fewer, larger matmuls. Each group's scale
and zero are chosen when its first column is reached, from the weights as updated so far, by the same range
strategy as the data-free path (`dimple.int4_ranges.RANGES`), so the stored format and kernels are unchanged.

It does not know the packed layout or the kernels (`dimple.int4`), which prompts calibrate (the caller's), or
the model's architecture: which inputs each layer is rounded against, and in what order, is
`dimple.int4_sequential`'s (block by block, each against what the blocks before it, already rounded, feed it).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .int4_ranges import CODE_MAX, CODE_MID, DEFAULT_RANGES, RANGES

DAMP = 0.01  # added to H's diagonal, as a share of its mean: keeps H invertible where inputs are rare or collinear
BLOCK = 128  # columns rounded between lazy updates of the rest; a multiple of every group size offered


def inverse_factor(hessian: torch.Tensor, damp: float = DAMP) -> torch.Tensor:
    """U (in, in), upper triangular with U^T U = (H + damp * mean(diag H) I)^-1, in float32. Inputs that never
    fired (a zero diagonal: padding, or channels the calibration never used) get a diagonal of 1, so their
    columns are rounded on their own and take none of the others' error."""
    h = hessian.float().clone()  # float32 as the paper computes it; the damping keeps the factor well defined
    dead = torch.diagonal(h) == 0
    h[dead, dead] = 1.0
    h.diagonal().add_(damp * torch.diagonal(h).mean())
    inverse = torch.cholesky_inverse(torch.linalg.cholesky(h))
    return torch.linalg.cholesky(inverse, upper=True)


def _round_column(w: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One column (rows,) -> (codes 0..15, the dequantised values), w ~= (code - 8) * scale + zero."""
    inv = scale.reciprocal()  # the data-free path's arithmetic (int4_ranges._scaled): the same codes where H = I
    codes = torch.addcmul(CODE_MID - zero * inv, w, inv).round_().clamp_(0, CODE_MAX)
    return codes, (codes - CODE_MID) * scale + zero


def gptq_codes(weight: torch.Tensor, factor: torch.Tensor, group: int, dtype, ranges: str = DEFAULT_RANGES):
    """float32 weight (rows, in), U from `inverse_factor` (in, in) -> int32 codes (rows, in), scales and zeros
    (rows, in / group) holding `dtype` values: `dimple.int4_ranges.group_codes`' outputs, chosen by GPTQ."""
    rows, n = weight.shape
    if n % group or BLOCK % group:
        raise ValueError(f"gptq_codes needs input columns ({n}) and BLOCK ({BLOCK}) to be multiples of the group "
                         f"({group})")
    w = weight.float().clone()
    codes = torch.empty(rows, n, dtype=torch.int32)
    scale, zero = torch.empty(rows, n // group), torch.empty(rows, n // group)
    for b0 in range(0, n, BLOCK):
        b1 = min(b0 + BLOCK, n)
        block, u = w[:, b0:b1], factor[b0:b1, b0:b1]
        errors = torch.empty(rows, b1 - b0)
        for i in range(b1 - b0):
            col = b0 + i
            if col % group == 0:  # the group's range, from its columns as updated so far
                s, z = RANGES[ranges](block[:, i:i + group].unsqueeze(1), dtype)
                scale[:, col // group], zero[:, col // group] = s[:, 0], z[:, 0]
            c, q = _round_column(block[:, i], scale[:, col // group], zero[:, col // group])
            codes[:, col] = c.to(torch.int32)
            errors[:, i] = (block[:, i] - q) / u[i, i]
            block[:, i + 1:] -= errors[:, i:i + 1] * u[i:i + 1, i + 1:]  # within the block: at once
        w[:, b1:] -= errors @ factor[b0:b1, b1:]  # the rest: once per block
    return codes, scale, zero


class InputHessians:
    """Forward hooks summing x x^T (float32, (in, in)) of each named linear's inputs while active:

        with InputHessians(model, names) as hessians:
            run_calibration(model)
        hessians.get("model.layers.0.mlp.down_proj")  # (in, in), the mean over the calibration rows

    Layers fed one tensor in turn (q, k and v; gate and up) share one sum, so memory is one (in, in) float32
    matrix per distinct input. A layer never called during calibration has none (None)."""

    def __init__(self, model: nn.Module, names: list[str]):
        self.model, self.names = model, list(names)
        self._sums: dict[str, torch.Tensor] = {}
        self._rows: dict[str, int] = {}
        self._shared: dict[str, str] = {}  # layer -> the layer whose sum it shares (same input tensor in a pass)
        self._last: tuple = (None, None)  # (input tensor, owner): consecutive calls on one tensor share its sum
        self._hooks: list = []

    def _hook(self, name: str):
        def record(module, inputs, output):
            x = inputs[0]
            if self._last[0] is x:  # the same input as the layer just before: sum it once
                self._shared[name] = self._last[1]
                return
            self._last = (x, name)
            flat = x.detach().reshape(-1, x.shape[-1]).float()
            if name not in self._sums:
                self._sums[name] = torch.zeros(flat.shape[1], flat.shape[1])
                self._rows[name] = 0
            self._sums[name].addmm_(flat.t(), flat)
            self._rows[name] += flat.shape[0]
        return record

    def __enter__(self) -> "InputHessians":
        self._hooks = [self.model.get_submodule(n).register_forward_hook(self._hook(n)) for n in self.names]
        return self

    def __exit__(self, *exc) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks, self._last = [], (None, None)

    def get(self, name: str) -> Optional[torch.Tensor]:
        """The mean x x^T of the layer's inputs, or None if calibration never called it (a vision tower when
        the calibration prompts had no image): such a layer is rounded on its own."""
        owner = self._shared.get(name, name)
        return self._sums[owner] / max(self._rows[owner], 1) if owner in self._sums else None
