"""Dimple: a discrete diffusion multimodal LLM with parallel decoding (arXiv 2505.16990).

Public API (stable, see docs/DESIGN.md): `load_model`, `DecodeConfig`, `generate`,
`stream`, `Trajectory`. Importing this package loads no weights and reads no
files; it registers Dimple with transformers' AutoConfig / AutoModel /
AutoTokenizer / AutoProcessor (`dimple.auto`), so the released model card's
code runs on this implementation (see docs/dropin.md).
"""

from .config import DecodeConfig
from .engine import Request, generate, generate_batch, stream, stream_batch
from .trajectory import Step, Trajectory
from .auto import register as _register_auto_classes

_register_auto_classes()


def load_model(name: str = "tiny", device: str = "cpu", dtype=None):
    """Load a Dimple checkpoint: "tiny" (shipped), a folder, or a hub id. See `dimple.loading`."""
    from .loading import load_model as _load

    return _load(name, device=device, dtype=dtype)


__all__ = ["DecodeConfig", "Request", "Step", "Trajectory", "generate", "generate_batch", "load_model", "stream",
           "stream_batch"]
