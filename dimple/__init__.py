"""Dimple: a discrete diffusion multimodal LLM with parallel decoding (arXiv 2505.16990).

Public API (stable, see docs/DESIGN.md): `load_model`, `DecodeConfig`, `generate`,
`stream`, `Trajectory`; for teaching (docs/teaching.md): `ghosts_at`, `inspect`,
`explore`, `grounding_map`. Importing this package loads no weights and reads no
files. It registers Dimple with transformers' AutoConfig / AutoModel / AutoTokenizer /
AutoProcessor (`dimple.auto`), so the released model card's code runs on this
implementation (see docs/dropin.md); that registration loads no Qwen2.5-VL modelling code.
The engine's and grounding's names are looked up on first use (`__getattr__`), so this file
names what it exports without importing the modules behind them.
"""

from importlib import import_module

from .auto import register as _register_auto_classes
from .config import DecodeConfig
# eager, not lazy: `dimple.explore` is also a submodule's name, and importing that submodule (the app does)
# would bind the package attribute to the module before a lazy lookup could give the function
from .explore import Exploration, explore
from .ghosts import ghosts_at, inspect
from .trajectory import Step, Trajectory

_register_auto_classes()

# name -> the submodule that defines it, imported when the name is first read
_LAZY = {"Request": "engine", "generate": "engine", "generate_batch": "engine", "stream": "engine",
         "stream_batch": "engine", "grounding_map": "grounding", "Grounding": "grounding"}


def load_model(name: str = "tiny", device: str = "cpu", dtype=None):
    """Load a Dimple checkpoint: "tiny" (shipped), a folder, or a hub id. See `dimple.loading`."""
    from .loading import load_model as _load

    return _load(name, device=device, dtype=dtype)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'dimple' has no attribute {name!r}")
    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value  # later reads skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["DecodeConfig", "Exploration", "Grounding", "Request", "Step", "Trajectory", "explore", "generate",
           "generate_batch", "ghosts_at", "grounding_map", "inspect", "load_model", "stream", "stream_batch"]
