"""Dimple Studio: `python app.py [--model tiny] [--device cpu|cuda] [--quantize int8] [--host H] [--port P] [--share] [--mcp] [--run-history]`.

Entry point only (the installed `dimple-studio` command runs the same
`app.launcher.main`). Importing this file loads no weights: the module-level
`demo` (the Gradio / Hugging Face Spaces convention) wraps a `LazyAssistant`
that loads the model on first use, so `gradio app.py`, Spaces and tests can
import it cheaply. The model name or path and the device come from the flags
(or DIMPLE_MODEL / DIMPLE_DEVICE / DIMPLE_QUANTIZE for the module-level demo).
`--quantize int8` loads weight-only int8 linear layers (`dimple.quantize`):
this file takes the flag out before `app.launcher` parses the rest, and builds
the lazy assistant with a loader that passes it on. `spaces` is
imported first where it exists, since ZeroGPU must patch torch before torch
loads.
"""

from __future__ import annotations

import argparse
import os
import sys

from app.zerogpu import spaces_module

spaces_module()  # noqa: E402 - ZeroGPU's `spaces` before torch, where it is installed

from app.launcher import auto_device, check_model_flag, configure_queue, make_app, on_space, parse_args  # noqa: E402
from app.launcher import main as _main  # noqa: E402
from app.lazy import LazyAssistant  # noqa: E402
from app.layout import build_demo  # noqa: E402
from app.zerogpu import GPU_SECONDS, zerogpu_assistant  # noqa: E402

__all__ = ["auto_device", "check_model_flag", "configure_queue", "demo", "assistant", "main", "make_app",
           "make_quantized_app", "on_space", "parse_args", "split_quantize"]

QUANTIZE = ("int8",)  # values of --quantize / DIMPLE_QUANTIZE


def split_quantize(argv) -> tuple:
    """(quantize or None, the other flags): `--quantize` taken out, since app.launcher's parser lacks it."""
    p = argparse.ArgumentParser(prog="app.py", add_help=False)
    p.add_argument("--quantize", choices=QUANTIZE, default=os.environ.get("DIMPLE_QUANTIZE") or None)
    known, rest = p.parse_known_args(list(argv))
    if known.quantize not in (None, *QUANTIZE):
        p.error(f"DIMPLE_QUANTIZE must be one of {', '.join(QUANTIZE)}; got {known.quantize!r}")
    return known.quantize, rest


def make_quantized_app(model: str, device: str, quantize, gpu_seconds: int = GPU_SECONDS):
    """make_app, with a loader that passes `quantize` to Assistant.load (None: make_app itself)."""
    if quantize is None:
        return make_app(model, device, gpu_seconds)

    def loader(name: str, dev: str):
        from dimple.assistant import Assistant

        return Assistant.load(name, device=dev, quantize=quantize)

    lazy = LazyAssistant(model, auto_device() if device == "auto" else device, loader=loader)
    return build_demo(zerogpu_assistant(lazy, gpu_seconds)), lazy


# The Gradio convention: a module-level `demo`. Building it loads no weights.
_QUANTIZE = split_quantize([])[0]
demo, assistant = make_quantized_app(os.environ.get("DIMPLE_MODEL", "tiny"), os.environ.get("DIMPLE_DEVICE", "auto"),
                                     _QUANTIZE)
configure_queue(demo, assistant.planned[1])


def main(argv=None) -> int:
    quantize, rest = split_quantize(sys.argv[1:] if argv is None else argv)
    prebuilt = (demo, assistant)
    if quantize != _QUANTIZE:
        args = parse_args(rest)
        prebuilt = make_quantized_app(args.model, args.device, quantize, args.gpu_seconds)
    return _main(rest, prebuilt=prebuilt)


if __name__ == "__main__":
    sys.exit(main())
