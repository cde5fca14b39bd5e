"""PrefixKVCache: the prompt's keys and values, kept across diffusion iterations.

Dimple's prefilling (paper, section on prefilling) runs the first iteration on
prompt + all-mask response, keeps the keys/values of the first `n_keep` prompt
positions (all but the last prompt token) and reuses them unchanged; later
iterations feed only the last prompt token and the response. This object holds
those tensors, per layer, and nothing else. It does not know how positions or
masks are built; the model asks it to `extend` each layer's new keys/values.

The kept keys saw an all-mask response, so prefilling is an approximation of
the no-cache forward, not an identity.
"""

from __future__ import annotations

from typing import Optional

import torch


class PrefixKVCache:
    def __init__(self, n_keep: int):
        if n_keep < 0:
            raise ValueError(f"n_keep must be >= 0, got {n_keep}")
        self.n_keep = n_keep  # prefix positions whose keys/values are kept
        self.keys: list[torch.Tensor] = []  # per layer: (batch, kv_heads, n_keep, head_dim), after rotary
        self.values: list[torch.Tensor] = []
        self.filled = False  # False until one full forward has recorded the prefix

    @property
    def offset(self) -> int:
        """Index of the first position a forward must feed once the cache is filled."""
        return self.n_keep if self.filled else 0

    def extend(self, layer_idx: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Record (first forward) or prepend (later forwards) this layer's prefix keys/values.

        key, value: (batch, kv_heads, seq, head_dim) of the positions fed in this forward.
        Returns the keys/values the layer attends to.
        """
        if not self.filled:
            if layer_idx != len(self.keys):
                raise RuntimeError("layers must fill the cache in order")
            self.keys.append(key[:, :, : self.n_keep].detach())
            self.values.append(value[:, :, : self.n_keep].detach())
            return key, value
        return (
            torch.cat([self.keys[layer_idx], key], dim=2),
            torch.cat([self.values[layer_idx], value], dim=2),
        )

    def mark_filled(self) -> None:
        self.filled = True

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def reorder(self, index: Optional[torch.Tensor]) -> None:
        """Select batch rows (for batched decoding that drops finished requests)."""
        if index is None:
            return
        self.keys = [k.index_select(0, index) for k in self.keys]
        self.values = [v.index_select(0, index) for v in self.values]
