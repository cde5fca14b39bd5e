"""ZeroGPU: Hugging Face's shared GPUs, lent to a Space one decorated call at a time.

Owns the one thing ZeroGPU asks of an app: every piece of GPU work runs inside a
function decorated with `spaces.GPU(duration=...)`. Here that is the decode
(`stream`, `generate`, `generate_batch` of the assistant); everything else
(tokenizing, rendering, plots) stays outside. The decorated functions are
module-level and take only picklable arguments (images, strings, a
DecodeConfig) and return Trajectories, since ZeroGPU may run them in another
process; the model they use is the module's assistant.

When the `spaces` package is not importable (a laptop, a CPU or dedicated-GPU
Space without it) `zerogpu_assistant` returns the assistant unchanged: no
effect. The model must also be on cuda before the server starts; the launcher
does that (`on_zerogpu`). It knows nothing of Gradio or of decoding itself.
"""

from __future__ import annotations

import importlib
from typing import Any, Optional

GPU_SECONDS = 60  # default spaces.GPU duration: one 7B decode of 256 tokens fits with room to spare

_assistant: Any = None  # the assistant the GPU functions use (ZeroGPU may call them in a worker process)


def spaces_module():
    """The `spaces` package, or None where it is not installed."""
    try:
        return importlib.import_module("spaces")
    except ImportError:
        return None


def on_zerogpu() -> bool:
    return spaces_module() is not None


def _stream(image, prompt, cfg, options):
    yield from _assistant.stream(image, prompt, cfg, **options)


def _generate(image, prompt, cfg, options):
    return _assistant.generate(image, prompt, cfg, **options)


def _generate_batch(items, cfg, options):
    return _assistant.generate_batch(items, cfg, **options)


class GPUAssistant:
    """The assistant with its decodes inside `spaces.GPU`; every other attribute passes through."""

    def __init__(self, assistant: Any, gpu) -> None:
        self.__dict__["_inner"] = assistant
        self.__dict__["_stream"] = gpu(_stream)
        self.__dict__["_generate"] = gpu(_generate)
        self.__dict__["_generate_batch"] = gpu(_generate_batch)

    def stream(self, image, prompt, cfg, should_stop=None, **options):
        """`should_stop` (a callable, not picklable) is checked here, between the iterations the GPU yields."""
        for traj in self.__dict__["_stream"](image, prompt, cfg, options):
            if should_stop is not None and should_stop():
                traj.stopped = True
                yield traj
                return
            yield traj

    def generate(self, image, prompt, cfg, **options):
        return self.__dict__["_generate"](image, prompt, cfg, options)

    def generate_batch(self, items, cfg, **options):
        return self.__dict__["_generate_batch"](items, cfg, options)

    def __getattr__(self, item: str):
        return getattr(self.__dict__["_inner"], item)


def zerogpu_assistant(assistant: Any, seconds: int = GPU_SECONDS, spaces: Optional[Any] = None):
    """`assistant` with GPU decodes when `spaces` is importable (or given); else `assistant` itself."""
    global _assistant
    spaces = spaces if spaces is not None else spaces_module()
    if spaces is None:
        return assistant
    if not isinstance(seconds, int) or seconds < 1:
        raise ValueError(f"gpu seconds must be a positive integer, got {seconds!r}")
    _assistant = assistant
    return GPUAssistant(assistant, spaces.GPU(duration=seconds))
