"""oneDNN-prepacked weights for the linear layers of a model decoding on a CPU.

Owns one inference-time transform, `pack_linear_weights`: every `nn.Linear`
whose weight lives on the CPU in bfloat16 or float32 has that weight replaced,
in place and one layer at a time, by oneDNN's blocked ("prepacked") copy, and
its forward runs oneDNN's linear kernel on it. Without this, torch's CPU linear
hands oneDNN a plain weight on every call and oneDNN reorders it to its blocked
layout first: one extra read and write of the weight per call. In a cached
decoding pass (a few dozen rows against every weight of a 7B model) that
reorder is most of the pass; see docs/scale.md for the measurement.

The packed weight replaces the plain one (no second copy is kept), so the
model is for inference only afterwards: the packed tensors are opaque
(`layout=torch._mkldnn`), any code that reads `linear.weight` as a plain
tensor fails loudly instead of computing garbage, and there is no backward.
It does not know the Dimple architecture; `loading.load_model` decides when
to call it.
"""

from __future__ import annotations

import types

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


def _packed_forward(self: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled() and x.requires_grad:
        raise RuntimeError("this model's linear weights are prepacked for inference; reload it to train")
    return packed_linear(x.to(self.weight.dtype), self.weight, self.bias)


def _packable(module: nn.Module) -> bool:
    if not isinstance(module, nn.Linear) or getattr(module, "packed", False):
        return False
    w = module.weight
    return w.device.type == "cpu" and w.dtype in PACKABLE_DTYPES and not w.is_mkldnn and w.dim() == 2


def pack_linear_weights(model: nn.Module) -> int:
    """Prepack the weight of every CPU linear layer of `model` in place; return how many were packed.

    Each weight is replaced before the next is packed, so memory grows by one layer's weight at most.
    A bias (if any) is cast to the weight's dtype, as oneDNN expects.
    """
    if not packing_available():
        return 0
    count = 0
    for module in model.modules():
        if not _packable(module):
            continue
        with torch.no_grad():
            module.weight = nn.Parameter(pack_weight(module.weight), requires_grad=False)
            if module.bias is not None:
                module.bias = nn.Parameter(module.bias.detach().to(module.weight.dtype), requires_grad=False)
        module.packed = True
        module.forward = types.MethodType(_packed_forward, module)
        count += 1
    return count


def is_packed(model: nn.Module) -> bool:
    """Whether any linear layer of `model` holds a prepacked weight."""
    return any(getattr(m, "packed", False) for m in model.modules())
