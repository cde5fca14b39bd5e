"""Quantisation of a loaded model's linear layers: `load_model(..., quantize="int8" | "w8a8" | "int4")`.

Owns the quantised layers (`Int8Linear`, `Int4Linear`), the checks of what is refused, and the swap of a
model's linears for them; the schemes are `dimple.int8`'s and `dimple.int4`'s. With int8 each linear weight
(out, in) becomes int8 values with one scale per output row (`int8.quantize_weight`), stored with the scales in
the activation dtype; activations stay in bf16 (or the load dtype). So the weights take half their bf16 bytes,
a pass streams half, and a token's logits move by the rounding of each weight to 1/254 of its row's range
(measured in docs/scale.md, tests/test_quantize.py).

The kernels and which one a call uses are `dimple.kernels`' business: a layer holds its weight in the layout
its chosen kernels read and the choice per row count, and asks `kernels.kernel_for_rows`. Why torch's own int8
op and not torchao: torchao's CPU weight-only int8 calls the same op, and its wheel builds C++ extensions
against one torch version; this adds no dependency.

`quantize="w8a8"` keeps the same weights and also rounds each token's
activations to int8 (one scale per token, max |x| / 127) as they enter a linear
layer, so the matmul runs on integers (`int8.w8a8_intmm`): faster than
converting the weight to bf16 when a pass feeds many tokens, at the price of
the activations' rounding (measured like int8: scripts/int8_accuracy.py).
It runs on the CPU only (torch's integer matmul on CUDA needs more than 16
rows).

`quantize="int4"` stores each weight as 4-bit codes in groups of `KernelSettings.int4_group` input columns,
with a scale and zero per group (`dimple.int4`: torch's CPU int4 matmul and its packed layout): about a
quarter of the bf16 bytes plus the group scales. Each group's range is searched at load for the least
squared rounding error (`dimple.int4_ranges`, data-free: from the weight alone; `KernelSettings.int4_ranges`
= "minmax" keeps the earlier exact [min, max] ranges for comparison). `Int4Linear` holds it; its kernels
are chosen per row count like int8's. CPU only (the packed layout is the CPU op's).

What is refused (ValueError): any mode but those of MODES, w8a8 and int4 off the CPU, int4 where torch's CPU
int4 ops are missing or pack in a layout `dimple.int4` does not read, and any mode across several GPUs
(accelerate's device_map; untested). On CUDA the code path runs
(the dequantising kernel; `_weight_int8pack_mm` if the build has it) but was
not measured here. It does not know checkpoints or the Dimple architecture:
every `nn.Linear` with a floating weight is quantised.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from .int4 import int4_dequant, int4_gemv, quantize_int4, unavailable_reason as int4_unavailable
from .fused_matmul import int4_fused, int8_fused, tile_int8_
from .int4_native import int4_native
from .int4_codes import layer_from_saved
from .int4_sequential import quantize_sequentially
from .int4_ranges import DEFAULT_RANGES
from .int8 import int8_dequant, int8_gemv, int8_upcast, quantize_weight, w8a8_intmm
from .kernels import REFERENCE, kernel_for_rows, layout_of
from .packed_linear import plain_ranges, file_mappings, release_file_pages


# `quantize` values load_model accepts: off, weight-only int8, int8 weights and per-token int8 activations,
# weight-only group-wise int4. The CLI's, the app's and dimple.scale's --quantize choices are these.
MODES = (None, "int8", "w8a8", "int4")


def check_quantize(quantize, device: str, several_gpus: bool = False) -> None:
    """Raise ValueError, naming the setting, for a quantize value or combination this project does not run."""
    if quantize not in MODES:
        raise ValueError(f"quantize must be None, 'int8' (weight-only int8), 'w8a8' (int8 weights and "
                         f"activations) or 'int4' (weight-only int4, CPU); got {quantize!r}")
    if quantize == "w8a8" and device != "cpu":
        raise ValueError(f"quantize='w8a8' runs on the CPU only (torch's integer matmul on a GPU needs more than 16 "
                         f"rows, and a cached pass feeds one); got device {device!r}: use quantize='int8' there")
    if quantize == "w8a8" and not hasattr(torch, "_int_mm"):  # its only kernel: refused here, not at the first pass
        raise ValueError(f"quantize='w8a8' needs torch's integer matmul (torch._int_mm), which torch "
                         f"{torch.__version__} lacks; use quantize='int8'")
    if quantize == "int4" and device != "cpu":
        raise ValueError(f"quantize='int4' runs on the CPU only (torch's CPU int4 matmul and its packed layout); "
                         f"got device {device!r}: use quantize='int8' there")
    if quantize == "int4" and int4_unavailable() is not None:
        raise ValueError(f"quantize='int4' cannot run with torch {torch.__version__} on this CPU: "
                         f"{int4_unavailable()}; use quantize='int8'")
    if quantize is not None and several_gpus:
        raise ValueError(f"quantize={quantize!r} runs on one device (cpu, cuda or cuda:N), not spread over several "
                         "GPUs with device='cuda'; pass device='cuda:0' or leave quantize off")
    if quantize is not None and not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"quantize={quantize!r} needs device 'cpu' or 'cuda[:N]'; got {device!r}")


def check_int4_options(quantize, calibrating: bool, saved_codes: bool) -> None:
    """Raise ValueError, naming the flag, where calibration (GPTQ) or saved int4 codes are asked for with a
    quantize value they do nothing for, or together (saved codes were chosen already). One check for the
    library, the CLI and the studio, so each says the same thing before any weight is read."""
    if (calibrating or saved_codes) and quantize != "int4":
        raise ValueError(f"calibration and saved codes are int4's; quantize={quantize!r} rounds each weight on its "
                         "own: use them with --quantize int4")
    if calibrating and saved_codes:
        raise ValueError("saved int4 codes were chosen already: calibrating again would ignore them")


INT4_KERNELS = {"int4_gemv": int4_gemv, "int4_fused": int4_fused}  # the int4 kernels without a block size
INT4_BLOCK_KERNELS = {"int4_native": int4_native, "int4_dequant": int4_dequant}  # ... and those that take one
KERNELS = {"int8_gemv": int8_gemv, "int8_upcast": int8_upcast, "int8_dequant": int8_dequant, "int8_fused": int8_fused,
           "w8a8_intmm": w8a8_intmm}


class QuantizedLinear(nn.Module):
    """y = x W^T + b with W stored quantised; the kernel per call is the one measured fastest at the nearest
    timed row count (`choice`, {rows: kernel name}; set by dimple.kernels at load). Subclasses hold the
    weight and multiply (`_multiply`)."""

    kind = ""  # the storage's name, for the repr

    def _setup(self, in_features: int, out_features: int, bias, dtype, choice, block_bytes: int) -> None:
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("bias", None if bias is None else bias.detach().to(dtype))
        self.choice = dict(choice or {1: REFERENCE[self.kind]})
        self.block_bytes = block_bytes

    def _multiply(self, flat: torch.Tensor, name: str) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            raise RuntimeError(f"this model's linear weights are {self.kind} for inference; reload it without "
                               "quantize to train")
        flat = x.reshape(-1, self.in_features).to(self.dtype).contiguous()  # the packed kernels need rows contiguous
        out = self._multiply(flat, kernel_for_rows(self.choice, flat.shape[0]))
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, {self.kind}, kernels={self.choice}"


class Int8Linear(QuantizedLinear):
    """int8 values x per-row scales (out,). The values are kept in the layout the chosen kernels read
    (`kernels.layout_of`): rows (out, in), or pair order for `int8_fused` (`fused_matmul.tile_int8`)."""

    kind = "int8"

    def __init__(self, qweight: torch.Tensor, scales: torch.Tensor, bias, choice: dict | None = None,
                 block_bytes: int = 4 * 2**20):
        """qweight: int8 rows (out, in), arranged here, in place, for the choice's kernels."""
        super().__init__()
        self._setup(qweight.shape[1], qweight.shape[0], bias, scales.dtype, choice, block_bytes)
        self.layout = layout_of(self.choice)
        self.register_buffer("qweight", tile_int8_(qweight) if self.layout == "pairs" else qweight)
        self.register_buffer("scales", scales)

    @classmethod
    def from_linear(cls, linear: nn.Linear, **kwargs) -> "Int8Linear":
        q, s = quantize_weight(linear.weight.detach())
        return cls(q, s, linear.bias, **kwargs)

    @property
    def dtype(self) -> torch.dtype:
        return self.scales.dtype

    def _multiply(self, flat: torch.Tensor, name: str) -> torch.Tensor:
        if name == "int8_dequant":
            return int8_dequant(flat, self.qweight, self.scales, self.block_bytes)
        return KERNELS[name](flat, self.qweight, self.scales)


class Int4Linear(QuantizedLinear):
    """4-bit codes in torch's CPU packed layout (out', in' / 2 bytes) with a scale and zero per group of input
    columns (scales_and_zeros (in' / G, out', 2)); out' and in' are padded (`dimple.int4`)."""

    kind = "int4"

    def __init__(self, packed: torch.Tensor, scales_and_zeros: torch.Tensor, in_features: int, out_features: int,
                 bias, choice: dict | None = None, block_bytes: int = 4 * 2**20):
        super().__init__()
        self.register_buffer("packed", packed)
        self.register_buffer("scales_and_zeros", scales_and_zeros)
        self._setup(in_features, out_features, bias, scales_and_zeros.dtype, choice, block_bytes)

    @classmethod
    def from_linear(cls, linear: nn.Linear, group: int = 64, ranges: str = DEFAULT_RANGES, hessian=None,
                    **kwargs) -> "Int4Linear":
        packed, scales_and_zeros = quantize_int4(linear.weight.detach(), group, ranges, hessian)
        return cls(packed, scales_and_zeros, linear.in_features, linear.out_features, linear.bias, **kwargs)

    @property
    def dtype(self) -> torch.dtype:
        return self.scales_and_zeros.dtype

    @property
    def group(self) -> int:
        return self.packed.shape[1] * 2 // self.scales_and_zeros.shape[0]

    def _multiply(self, flat: torch.Tensor, name: str) -> torch.Tensor:
        if name in INT4_KERNELS:
            return INT4_KERNELS[name](flat, self.packed, self.scales_and_zeros, self.out_features)
        return INT4_BLOCK_KERNELS[name](flat, self.packed, self.scales_and_zeros, self.out_features, self.block_bytes)


QUANTIZED_LINEARS = (Int8Linear, Int4Linear)  # the layers that keep their weights as buffers, not parameters


def float_linears(model: nn.Module) -> list:
    """(qualified name, module) of every nn.Linear with a plain 2-d floating weight."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear) and m.weight.dim() == 2
            and m.weight.is_floating_point() and not m.weight.is_mkldnn]


def _replace(model: nn.Module, name: str, make, mappings: list) -> None:
    """Swap the linear `name` for make(linear), handing the plain weight's pages of a memory-mapped checkpoint
    back as it goes, so memory peaks one layer above the quantised model."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    linear = getattr(parent, child)
    with torch.no_grad():
        layer = make(name, linear)
        setattr(parent, child, layer)
        del layer
        plain = linear.weight
        del linear
        release_file_pages(plain, mappings, plain_ranges(model) if mappings else [])
        del plain


def quantize_linears(model: nn.Module, choices: dict, block_bytes: int = 4 * 2**20, mode: str = "int8",
                     int4_group: int = 64, int4_ranges: str = DEFAULT_RANGES,
                     calibrate: Optional[Callable[[nn.Module], None]] = None, codes: Optional[dict] = None) -> int:
    """Replace every floating nn.Linear of `model` by an Int8Linear ("int8", "w8a8") or an Int4Linear ("int4",
    groups of `int4_group` columns, ranges chosen by `int4_ranges`), one at a time, in place; `choices`:
    {(in, out): {rows: kernel}}, a shape without one gets `mode`'s reference kernel. Returns how many were
    replaced. calibrate (int4 only): runs calibration passes on the float model, once, without a KV cache; the
    layers are then rounded by GPTQ against their inputs (`dimple.int4_gptq`), block by block, each block against
    what the blocks before it, already rounded, feed it (`dimple.int4_sequential`). codes (int4 only): {layer
    name: `dimple.int4_codes.SavedLayer`}, codes chosen before and saved (`dimple.int4_codes`): read, not rounded
    again; every layer must have them."""
    check_int4_options(mode, calibrate is not None, codes is not None)
    names = [n for n, _ in float_linears(model)]  # names only: each plain layer is freed once replaced
    mappings = file_mappings()

    def make(name, linear, hessian=None):
        choice = choices.get((linear.in_features, linear.out_features)) or {1: REFERENCE[mode]}
        if codes is not None:
            if name not in codes:
                raise ValueError(f"the saved int4 codes have no layer {name}: the file is of another model")
            return layer_from_saved(codes[name], linear, name, choice=choice, block_bytes=block_bytes)
        if mode == "int4":
            return Int4Linear.from_linear(linear, group=int4_group, ranges=int4_ranges, hessian=hessian,
                                          choice=choice, block_bytes=block_bytes)
        return Int8Linear.from_linear(linear, choice=choice, block_bytes=block_bytes)

    def replace(name: str, hessian=None) -> None:
        _replace(model, name, lambda name, linear: make(name, linear, hessian), mappings)

    if calibrate is not None:
        quantize_sequentially(model, names, calibrate, replace)
    else:
        for name in names:
            replace(name)
    return len(names)


def is_quantized(model: nn.Module) -> bool:
    return any(isinstance(m, QUANTIZED_LINEARS) for m in model.modules())
