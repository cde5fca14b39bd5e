"""Key/value caches for diffusion decoding: the prompt prefix (paper) and the whole canvas (beyond it).

`PrefixKVCache` is Dimple's prefilling: the first iteration runs prompt +
all-mask response, the keys/values of the first `n_keep` prompt positions (all
but the last prompt token) are kept unchanged, and later iterations feed only
the last prompt token and the response. The kept keys saw an all-mask
response, so it approximates the no-cache forward.

`CanvasKVCache` goes further, in the spirit of Fast-dLLM's dual cache and
dKV-Cache: it keeps keys/values of every position, and a forward feeds only
the positions the engine names (`select`); committed response tokens reuse
keys/values computed one iteration after they were committed, until the
engine refreshes the whole response.

Both hold tensors per layer, after rotary, and nothing else: they do not know
how positions or masks are built; the model asks them which positions a
forward feeds (`query_index`) and hands each layer's new keys/values to
`extend`. A prefix cache also keeps the rotary angles the model computed for
the fed positions (`angles`), which never change once it is filled.
"""

from __future__ import annotations

from typing import Optional

import torch


class _LayerCache:
    def __init__(self) -> None:
        self.keys: list[torch.Tensor] = []  # per layer: (batch, kv_heads, positions, head_dim)
        self.values: list[torch.Tensor] = []
        self.filled = False  # False until one full forward has recorded the keys/values
        self.total = 0  # sequence length of the full forward that filled the cache
        self.angles: Optional[tuple] = None  # (cos, signed sin) of the fed positions, where they stay the same

    def mark_filled(self, total: int) -> None:
        if not self.filled:
            self.filled, self.total = True, total

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def reorder(self, index: Optional[torch.Tensor]) -> None:
        """Select batch rows (for batched decoding that drops finished requests)."""
        if index is not None:
            self.angles = None
            self.keys = [k.index_select(0, index) for k in self.keys]
            self.values = [v.index_select(0, index) for v in self.values]

    def _record(self, layer_idx: int, key: torch.Tensor, value: torch.Tensor) -> None:
        if layer_idx != len(self.keys):
            raise RuntimeError("layers must fill the cache in order")
        self.keys.append(key.detach())
        self.values.append(value.detach())


class PrefixKVCache(_LayerCache):
    keeps_angles = True  # once filled, every forward feeds the same positions

    def __init__(self, n_keep: int):
        super().__init__()
        if n_keep < 0:
            raise ValueError(f"n_keep must be >= 0, got {n_keep}")
        self.n_keep = n_keep  # prefix positions whose keys/values are kept

    @property
    def offset(self) -> int:
        """Index of the first position a forward must feed once the cache is filled."""
        return self.n_keep if self.filled else 0

    def query_index(self) -> Optional[torch.Tensor]:
        if not self.filled:
            return None
        return torch.arange(self.n_keep, self.total, device=self.keys[0].device if self.keys else None)

    def extend(self, layer_idx: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """key, value: (batch, kv_heads, fed positions, head_dim) -> what the layer attends to.

        The filling forward's keys/values are kept whole: later forwards feed the same positions after
        the prefix, so they overwrite that tail in place (a copy, not a concatenation per layer).
        """
        if not self.filled:
            self._record(layer_idx, key.contiguous(), value.contiguous())
            return key, value
        keys, values = self.keys[layer_idx], self.values[layer_idx]
        keys[:, :, self.n_keep:] = key
        values[:, :, self.n_keep:] = value
        return keys, values


class CanvasKVCache(_LayerCache):
    keeps_angles = False  # the fed positions change with every selection

    def __init__(self) -> None:
        super().__init__()
        self.index: Optional[torch.Tensor] = None  # positions the next forward feeds (sorted), None: all

    def select(self, index: Optional[torch.Tensor]) -> None:
        self.index = index

    def query_index(self) -> Optional[torch.Tensor]:
        return self.index if self.filled else None

    def extend(self, layer_idx: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.filled:
            self._record(layer_idx, key, value)
            return key, value
        keys, values = self.keys[layer_idx], self.values[layer_idx]
        keys[:, :, self.index] = key  # fresh keys/values replace the stale ones in place
        values[:, :, self.index] = value
        return keys, values
