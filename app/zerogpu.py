"""ZeroGPU: Hugging Face's shared GPUs, lent to a Space one decorated call at a time.

Owns the one thing ZeroGPU asks of an app: every piece of GPU work runs inside a
function decorated with `spaces.GPU(duration=...)`. Here that is every
assistant call that reaches the model (`STREAMING` and `SINGLE`: the decodes,
branches, manual proposals, the threshold explorer and grounding); everything
else (tokenizing, rendering, plots) stays outside. The decorated functions are
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


# Every assistant method that reaches the model, by kind: a generator (the decode streams its Trajectory) or one
# call. The studio's protocol (app/protocol.py) names them; a method missing here would run outside the GPU.
STREAMING = ("stream", "branch")
SINGLE = ("generate", "generate_batch", "propose", "explore", "ground")


def _stream(args, options):
    yield from _assistant.stream(*args, **options)


def _branch(args, options):
    yield from _assistant.branch(*args, **options)


def _generate(args, options):
    return _assistant.generate(*args, **options)


def _generate_batch(args, options):
    return _assistant.generate_batch(*args, **options)


def _propose(args, options):
    return _assistant.propose(*args, **options)


def _explore(args, options):
    return _assistant.explore(*args, **options)


def _ground(args, options):
    return _assistant.ground(*args, **options)


_ON_GPU = {fn.__name__[1:]: fn for fn in (_stream, _branch, _generate, _generate_batch, _propose, _explore, _ground)}


class GPUAssistant:
    """The assistant with every model call inside `spaces.GPU`; every other attribute passes through."""

    def __init__(self, assistant: Any, gpu) -> None:
        self.__dict__["_inner"] = assistant
        self.__dict__["_gpu"] = {name: gpu(fn) for name, fn in _ON_GPU.items()}

    def __getattr__(self, item: str):
        if item in STREAMING:
            return lambda *args, should_stop=None, **options: self._streamed(item, args, options, should_stop)
        if item in SINGLE:
            return lambda *args, **options: self.__dict__["_gpu"][item](args, options)
        return getattr(self.__dict__["_inner"], item)

    def _streamed(self, name: str, args, options, should_stop):
        """`should_stop` (a callable, not picklable) is checked here, between the iterations the GPU yields."""
        for traj in self.__dict__["_gpu"][name](args, options):
            if should_stop is not None and should_stop():
                traj.stopped = True
                yield traj
                return
            yield traj


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
