"""Dimple Studio: `python app.py [--model tiny] [--device cpu|cuda] [--quantize int8] [--host H] [--port P] [--share] [--mcp] [--run-history]`.

Entry point only (the installed `dimple-studio` command runs the same
`app.launcher.main`). Importing this file loads no weights: the module-level
`demo` (the Gradio / Hugging Face Spaces convention) wraps a `LazyAssistant`
that loads the model on first use, so `gradio app.py`, Spaces and tests can
import it cheaply. The model name or path and the device come from the flags
(or DIMPLE_MODEL / DIMPLE_DEVICE for the module-level demo). `spaces` is
imported first where it exists, since ZeroGPU must patch torch before torch
loads.
"""

from __future__ import annotations

import os
import sys

from app.zerogpu import spaces_module

spaces_module()  # noqa: E402 - ZeroGPU's `spaces` before torch, where it is installed

from app.launcher import auto_device, check_model_flag, configure_queue, make_app, on_space, parse_args  # noqa: E402
from app.launcher import main as _main  # noqa: E402

__all__ = ["auto_device", "check_model_flag", "configure_queue", "demo", "assistant", "main", "make_app",
           "on_space", "parse_args"]

# The Gradio convention: a module-level `demo`. Building it loads no weights.
demo, assistant = make_app(os.environ.get("DIMPLE_MODEL", "tiny"), os.environ.get("DIMPLE_DEVICE", "auto"),
                           analytics=os.environ.get("DIMPLE_ANALYTICS") == "1",
                           quantize=os.environ.get("DIMPLE_QUANTIZE") or None,
                           calibrate=os.environ.get("DIMPLE_CALIBRATE") == "1",
                           int4_codes=os.environ.get("DIMPLE_INT4_CODES") or None)
configure_queue(demo, assistant.planned[1])


def main(argv=None) -> int:
    return _main(argv, prebuilt=(demo, assistant))


if __name__ == "__main__":
    sys.exit(main())
