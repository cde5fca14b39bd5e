"""Dimple Studio: `python app.py [--model tiny] [--device cpu|cuda] [--host H] [--port P] [--share]`.

Entry point only: parse the flags, build the UI around a lazily loaded model and
launch it with a bounded queue. Importing this file loads no weights: the
module-level `demo` (the Gradio / Hugging Face Spaces convention) wraps a
`LazyAssistant` that loads the model on first use, so `gradio app.py`, Spaces
and tests can import it cheaply. `python app.py` starts loading the model in the
background as soon as the server is up. The model name or path and the device
come from the flags (or DIMPLE_MODEL / DIMPLE_DEVICE for the module-level demo).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

from app.layout import build_demo, launch_options
from app.lazy import LazyAssistant

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$")


def auto_device() -> str:
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except Exception:
        return "cpu"


def check_model_flag(name: str) -> str:
    """A model flag is "tiny", a hub id (owner/name) or an existing local folder; nothing else."""
    if os.path.isdir(name):
        return name
    if not _MODEL_NAME.match(name) or ".." in name or name.startswith("/"):
        raise argparse.ArgumentTypeError(f"--model: {name!r} is not 'tiny', a hub id (owner/name) or a folder")
    return name


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Dimple Studio: watch a discrete-diffusion VLM decode.")
    p.add_argument("--model", type=check_model_flag, default=os.environ.get("DIMPLE_MODEL", "tiny"),
                   help='"tiny" (shipped), a Dimple checkpoint folder, or a hub id such as rp-yu/Dimple-7B')
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=os.environ.get("DIMPLE_DEVICE", "auto"))
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--share", action="store_true", help="create a public gradio.live link")
    p.add_argument("--concurrency", type=int, default=None,
                   help="decodes running at once (default: 2 on CPU, 1 on CUDA)")
    p.add_argument("--max-queue", type=int, default=32, help="requests waiting at most; more get a 'busy' message")
    return p.parse_args(argv)


def make_app(model: str = "tiny", device: str = "auto"):
    """(demo, assistant): the UI around a model that loads on first use."""
    assistant = LazyAssistant(model, auto_device() if device == "auto" else device)
    return build_demo(assistant), assistant


def configure_queue(demo, device: str, concurrency=None, max_size: int = 32):
    limit = concurrency or (1 if device == "cuda" else 2)
    return demo.queue(default_concurrency_limit=limit, max_size=max_size)


# The Gradio convention: a module-level `demo`. Building it loads no weights.
demo, assistant = make_app(os.environ.get("DIMPLE_MODEL", "tiny"), os.environ.get("DIMPLE_DEVICE", "auto"))
configure_queue(demo, assistant.planned[1])


def main(argv=None) -> int:
    global demo, assistant
    args = parse_args(argv)
    device = auto_device() if args.device == "auto" else args.device
    if (args.model, device) != assistant.planned:
        demo, assistant = make_app(args.model, device)
    configure_queue(demo, device, args.concurrency, args.max_queue)
    print(f"[dimple studio] model {args.model} on {device}; http://{args.host}:{args.port}", flush=True)
    assistant.warm_up()
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, **launch_options())
    return 0


if __name__ == "__main__":
    sys.exit(main())
