"""Dimple: a discrete diffusion multimodal LLM with parallel decoding (arXiv 2505.16990).

Public API (stable, see docs/DESIGN.md): `load_model`, `DecodeConfig`, `generate`,
`stream`, `Trajectory`; for teaching (docs/teaching.md): `ghosts_at`, `inspect`,
`explore`, `grounding_map`. Importing this package loads no weights and reads no
files (`grounding_map` and `Grounding` load the model code on first use); it
registers Dimple with transformers' AutoConfig / AutoModel / AutoTokenizer /
AutoProcessor (`dimple.auto`), so the released model card's code runs on this
implementation (see docs/dropin.md).
"""

from .config import DecodeConfig
from .engine import Request, generate, generate_batch, stream, stream_batch
from .explore import Exploration, explore
from .ghosts import ghosts_at, inspect
from .trajectory import Step, Trajectory
from .auto import register as _register_auto_classes

_register_auto_classes()


def load_model(name: str = "tiny", device: str = "cpu", dtype=None):
    """Load a Dimple checkpoint: "tiny" (shipped), a folder, or a hub id. See `dimple.loading`."""
    from .loading import load_model as _load

    return _load(name, device=device, dtype=dtype)


def __getattr__(name: str):
    if name in ("grounding_map", "Grounding"):
        from . import grounding

        return getattr(grounding, name)
    raise AttributeError(f"module 'dimple' has no attribute {name!r}")


__all__ = ["DecodeConfig", "Exploration", "Grounding", "Request", "Step", "Trajectory", "explore", "generate",
           "generate_batch", "ghosts_at", "grounding_map", "inspect", "load_model", "stream", "stream_batch"]
