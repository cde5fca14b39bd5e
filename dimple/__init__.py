"""Dimple: a discrete diffusion multimodal LLM with parallel decoding (arXiv 2505.16990).

Public API (stable, see docs/DESIGN.md): `load_model`, `DecodeConfig`, `generate`,
`stream`, `Trajectory`. Importing this package loads nothing heavy.
"""

from .config import DecodeConfig
from .engine import Request, generate, generate_batch, stream, stream_batch
from .trajectory import Step, Trajectory


def load_model(name: str = "tiny", device: str = "cpu", dtype=None):
    """Load a Dimple checkpoint: "tiny" (shipped), a folder, or a hub id. See `dimple.loading`."""
    from .loading import load_model as _load

    return _load(name, device=device, dtype=dtype)


__all__ = ["DecodeConfig", "Request", "Step", "Trajectory", "generate", "generate_batch", "load_model", "stream",
           "stream_batch"]
