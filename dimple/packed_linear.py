"""oneDNN-prepacked weights for the linear layers of a model decoding on a CPU.

Owns one inference-time transform, `pack_linear_weights`: every `nn.Linear`
whose weight lives on the CPU in bfloat16 or float32 has that weight replaced,
in place and one layer at a time, by oneDNN's blocked ("prepacked") copy, and
its forward runs oneDNN's linear kernel on it. Without this, torch's CPU linear
hands oneDNN a plain weight on every call and oneDNN reorders it to its blocked
layout first: one extra read and write of the weight per call. In a cached
decoding pass (a few dozen rows against every weight of a 7B model) that
reorder is most of the pass; see docs/scale.md for the measurement.

The packed weight replaces the plain one (no second copy is kept). The loader
memory-maps the safetensors files and keeps the mapping after the plain
tensors are gone, so the pages a packing read stay resident: each packed
weight's file pages are handed back (`release_file_pages`, Linux madvise on
the read-only file mapping; the file is untouched), which keeps the peak at
one layer above the weights. The model is for inference only afterwards: the packed tensors are opaque
(`layout=torch._mkldnn`), any code that reads `linear.weight` as a plain
tensor fails loudly instead of computing garbage, and there is no backward.
It does not know the Dimple architecture; `loading.load_model` decides when
to call it.
"""

from __future__ import annotations

import ctypes
import mmap
import types
from pathlib import Path

import torch
from torch import nn

PACKABLE_DTYPES = (torch.bfloat16, torch.float32)
# oneDNN picks its kernel for this batch size; 1 measured best at every row count from 1 to 512 (docs/scale.md)
PACK_BATCH_HINT = 1


def packing_available() -> bool:
    """Whether this torch build can prepack linear weights with oneDNN on the CPU."""
    return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")


def pack_weight(weight: torch.Tensor) -> torch.Tensor:
    """(out, in) plain CPU weight -> oneDNN's opaque blocked copy of it."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach(), batch_size=PACK_BATCH_HINT)


def packed_linear(x: torch.Tensor, packed: torch.Tensor, bias) -> torch.Tensor:
    """x (..., in) times a packed weight, plus bias: the same function as F.linear on the plain weight."""
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


MADV_DONTNEED = 4  # Linux: drop these pages from the process; a file mapping re-reads them if touched again


def file_mappings() -> list[tuple[int, int]]:
    """[start, end) address ranges of this process's private memory mappings of safetensors files (Linux;
    else none). The loader maps them copy-on-write; weights are never written in place, so their pages are
    the file's."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[5].endswith(".safetensors") and parts[1].endswith("p"):
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            out.append((lo, hi))
    return out


def release_file_pages(tensor: torch.Tensor, mappings: list[tuple[int, int]], others: list[tuple[int, int]]) -> int:
    """Hand back the resident pages of a tensor that lies inside a mapped safetensors file; return bytes.

    Only whole pages inside the tensor are released, only from the loader's file mappings, and only for a
    tensor no other one shares (`others`: (start, bytes) of every tensor still in use): a later touch would
    read the bytes back from the file, so nothing in use can change, only RSS goes down."""
    start, n = tensor.data_ptr(), tensor.numel() * tensor.element_size()
    if not any(lo <= start and start + n <= hi for lo, hi in mappings):
        return 0
    if any(o_start < start + n and start < o_start + o_n for o_start, o_n in others):
        return 0
    page = mmap.PAGESIZE
    lo, hi = -(-start // page) * page, (start + n) // page * page
    if hi <= lo:
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        return hi - lo if libc.madvise(lo, hi - lo, MADV_DONTNEED) == 0 else 0
    except (OSError, AttributeError):
        return 0


def _packed_forward(self: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled() and x.requires_grad:
        raise RuntimeError("this model's linear weights are prepacked for inference; reload it to train")
    return packed_linear(x.to(self.weight.dtype), self.weight, self.bias)


def _packable(module: nn.Module) -> bool:
    if not isinstance(module, nn.Linear) or getattr(module, "packed", False):
        return False
    w = module.weight
    return w.device.type == "cpu" and w.dtype in PACKABLE_DTYPES and not w.is_mkldnn and w.dim() == 2


def plain_ranges(model: nn.Module) -> list[tuple[int, int]]:
    """(start, bytes) of the model's plain (not packed) parameters and buffers."""
    tensors = list(model.parameters()) + list(model.buffers())
    return [(t.data_ptr(), t.numel() * t.element_size()) for t in tensors if not t.is_mkldnn and t.device.type == "cpu"]


def pack_linear_weights(model: nn.Module, where=None) -> int:
    """Prepack the weight of every CPU linear layer of `model` (those `where(module)` accepts, if given) in
    place; return how many were packed.

    Each weight is replaced before the next is packed, so memory grows by one layer's weight at most.
    A bias (if any) is cast to the weight's dtype, as oneDNN expects.
    """
    if not packing_available():
        return 0
    count, mappings = 0, file_mappings()
    for module in model.modules():
        if not _packable(module) or (where is not None and not where(module)):
            continue
        with torch.no_grad():
            plain = module.weight
            module.weight = nn.Parameter(pack_weight(plain), requires_grad=False)
            release_file_pages(plain, mappings, plain_ranges(model) if mappings else [])
            del plain
            if module.bias is not None:
                module.bias = nn.Parameter(module.bias.detach().to(module.weight.dtype), requires_grad=False)
        module.packed = True
        module.forward = types.MethodType(_packed_forward, module)
        count += 1
    return count


def is_packed(model: nn.Module) -> bool:
    """Whether any linear layer of `model` holds a prepacked weight."""
    return any(getattr(m, "packed", False) for m in model.modules())
