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
how positions or masks are built. Both answer one interface (`KVCache`):
before each iteration the engine tells the cache what it knows (`plan`: the
iteration, the masked positions, last iteration's commits) and the cache
decides which positions the next forward feeds; the model asks it which
(`query_index`), hands each layer's new keys/values to `extend`, and gets the
rotary angles of the fed positions through `angles` (a prefix cache keeps
them: its fed positions never change once it is filled).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch


class KVCache:
    """What the engine and the model call on a cache; the subclasses decide what a forward feeds."""

    def __init__(self) -> None:
        self.keys: list[torch.Tensor] = []  # per layer: (batch, kv_heads, positions, head_dim)
        self.values: list[torch.Tensor] = []
        self.filled = False  # False until one full forward has recorded the keys/values
        self.total = 0  # sequence length of the full forward that filled the cache

    def mark_filled(self, total: int) -> None:
        if not self.filled:
            self.filled, self.total = True, total

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def plan(self, step: int, masked: torch.Tensor, committed: torch.Tensor) -> None:
        """Before iteration `step` of a filled cache: masked and just committed absolute positions."""
        raise NotImplementedError

    def query_index(self) -> Optional[torch.Tensor]:
        """Positions the next forward feeds (sorted); None: the whole sequence."""
        raise NotImplementedError

    def extend(self, layer_idx: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A layer's keys/values of the fed positions -> the keys/values it attends to."""
        raise NotImplementedError

    def angles(self, compute: Callable[[], tuple]) -> tuple:
        """Rotary (cos, signed sin) of the fed positions: `compute()` unless the cache kept them."""
        return compute()

    def _record(self, layer_idx: int, key: torch.Tensor, value: torch.Tensor) -> None:
        if layer_idx != len(self.keys):
            raise RuntimeError("layers must fill the cache in order")
        self.keys.append(key.detach())
        self.values.append(value.detach())


class PrefixKVCache(KVCache):
    def __init__(self, n_keep: int):
        super().__init__()
        if n_keep < 0:
            raise ValueError(f"n_keep must be >= 0, got {n_keep}")
        self.n_keep = n_keep  # prefix positions whose keys/values are kept
        self._angles: Optional[tuple] = None  # rotary angles of the fed positions, once filled

    def plan(self, step: int, masked: torch.Tensor, committed: torch.Tensor) -> None:
        """Nothing to decide: once filled, every forward feeds the positions after the prefix."""

    def angles(self, compute: Callable[[], tuple]) -> tuple:
        if not self.filled:
            return compute()
        if self._angles is None:  # the same fed positions at every later forward: compute once
            self._angles = compute()
        return self._angles

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


class CanvasKVCache(KVCache):
    def __init__(self, refresh: int, first: int) -> None:
        super().__init__()
        if refresh < 1 or first < 0:
            raise ValueError(f"refresh must be >= 1 and first >= 0, got {refresh} and {first}")
        self.refresh = refresh  # every `refresh`-th iteration feeds the whole response again
        self.first = first  # first position a refresh feeds: the last prompt token (it scores response 0)
        self.index: Optional[torch.Tensor] = None  # positions the next forward feeds (sorted), None: all

    def plan(self, step: int, masked: torch.Tensor, committed: torch.Tensor) -> None:
        """Feed all of the response on refresh iterations, else only the masked positions, the outputs
        that score them, and last iteration's commits (their keys are stale)."""
        if step % self.refresh == 0:
            self.index = torch.arange(self.first, self.total, device=masked.device)
        else:
            self.index = torch.unique(torch.cat([masked, masked - 1, committed]))

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
