"""Starting Dimple Studio: flags, the place it runs (laptop, Hugging Face Space, ZeroGPU), launch options.

Owns `python app.py` / `dimple-studio`: parsing the flags, noticing a Hugging
Face Space (`SPACE_ID` or `SYSTEM=spaces` in the environment: bind 0.0.0.0),
ZeroGPU (the `spaces` package importable: decodes run inside
`@spaces.GPU(duration=...)` and the model is loaded, on its device, before the
server starts, as ZeroGPU requires), the run-history switch (off unless
`--run-history`; see docs/security.md) and the MCP server (`--mcp`). It builds
the UI through `app.layout` and wraps the assistant through `app.zerogpu`; it
knows nothing of decoding.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Optional, Sequence

from dimple.loading import QUANTIZE_MODES, check_int4_options

from .lazy import LazyAssistant
from .page import build_demo, launch_options
from .zerogpu import GPU_SECONDS, on_zerogpu, zerogpu_assistant

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$")


def on_space(environ=os.environ) -> bool:
    """True inside a Hugging Face Space (it sets SPACE_ID, and SYSTEM=spaces)."""
    return bool(environ.get("SPACE_ID")) or environ.get("SYSTEM") == "spaces"


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


def _default_host() -> str:
    return os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space() else "127.0.0.1")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dimple-studio", description="Dimple Studio: watch a discrete-diffusion VLM decode.")
    p.add_argument("--model", type=check_model_flag, default=os.environ.get("DIMPLE_MODEL", "tiny"),
                   help='"tiny" (shipped), a Dimple checkpoint folder, or a hub id such as rp-yu/Dimple-7B')
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=os.environ.get("DIMPLE_DEVICE", "auto"))
    p.add_argument("--host", default=_default_host(), help="address to bind (default 127.0.0.1; 0.0.0.0 on a Space)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--share", action="store_true", help="create a public gradio.live link")
    p.add_argument("--concurrency", type=int, default=None,
                   help="decodes running at once (default: 2 on CPU, 1 on CUDA)")
    p.add_argument("--max-queue", type=int, default=32, help="requests waiting at most; more get a 'busy' message")
    p.add_argument("--run-history", action="store_true", default=os.environ.get("DIMPLE_RUN_HISTORY") == "1",
                   help="let Gradio keep every run (pictures, questions, answers) in the visitor's browser and "
                        "show it at /gradio_api/runs; off by default, see docs/security.md")
    p.add_argument("--mcp", action="store_true", default=os.environ.get("DIMPLE_MCP") == "1", help="also serve the `generate` endpoint as an MCP tool "
                                                      "(/gradio_api/mcp/)")
    p.add_argument("--quantize", choices=[m for m in QUANTIZE_MODES if m],
                   default=os.environ.get("DIMPLE_QUANTIZE") or None,
                   help="int8: weight-only int8 linear layers (about half the memory; the kernel is chosen by "
                        "measurement); w8a8: int8 activations too, faster canvas passes on a CPU; int4: weight-only "
                        "group-wise int4 on a CPU (about a quarter of the memory)")
    p.add_argument("--calibrate", action="store_true", default=os.environ.get("DIMPLE_CALIBRATE") == "1",
                   help="with --quantize int4: choose the int4 codes by GPTQ while the studio's examples decode "
                        "(closer to the float model; seconds for Dimple-Tiny, hours for the 7B on 2 cores)")
    p.add_argument("--int4-codes", metavar="FILE", default=os.environ.get("DIMPLE_INT4_CODES") or None,
                   help="with --quantize int4: read the codes saved by `python -m dimple.int4_codes` instead of "
                        "choosing them at load")
    p.add_argument("--analytics", action="store_true", default=os.environ.get("DIMPLE_ANALYTICS") == "1",
                   help="let Gradio send its usage analytics (off by default: classroom machines and Spaces)")
    p.add_argument("--gpu-seconds", type=int, default=int(os.environ.get("DIMPLE_GPU_SECONDS", GPU_SECONDS)),
                   help="ZeroGPU: seconds one decode may hold the GPU (spaces.GPU duration)")
    args = p.parse_args(argv)
    try:
        check_int4_options(args.quantize, args.calibrate, bool(args.int4_codes))
    except ValueError as exc:
        p.error(str(exc))
    return args


def make_app(model: str = "tiny", device: str = "auto", gpu_seconds: int = GPU_SECONDS, analytics: bool = False,
             quantize: Optional[str] = None, calibrate: bool = False, int4_codes: Optional[str] = None):
    """(demo, assistant): the UI around a model that loads on first use (on ZeroGPU: wrapped for the GPU).
    `analytics`: let Gradio send its usage analytics (off unless asked for); `quantize`: None, "int8", "w8a8" or
    "int4" (quantised linears, `dimple.quantize`); `calibrate`: int4 by GPTQ on the studio's examples;
    `int4_codes`: int4 codes saved before (`dimple.int4_codes`)."""
    assistant = LazyAssistant(model, auto_device() if device == "auto" else device, quantize=quantize,
                              calibrate=calibrate, int4_codes=int4_codes)
    return build_demo(zerogpu_assistant(assistant, gpu_seconds), analytics=analytics), assistant


def configure_queue(demo, device: str, concurrency=None, max_size: int = 32):
    limit = concurrency or (1 if device == "cuda" else 2)
    return demo.queue(default_concurrency_limit=limit, max_size=max_size)


def studio_launch_options(run_history: bool = False, mcp: bool = False) -> dict:
    """Everything `demo.launch` gets besides host and port."""
    return dict(launch_options(), run_history=bool(run_history), mcp_server=bool(mcp))


def main(argv: Optional[Sequence[str]] = None, prebuilt=None) -> int:
    """Parse the flags and serve. `prebuilt`: a (demo, assistant) pair to reuse when it fits the flags."""
    args = parse_args(argv)
    device = auto_device() if args.device == "auto" else args.device
    demo, assistant = prebuilt if prebuilt is not None else (None, None)
    if (assistant is None or (args.model, device) != assistant.planned or args.gpu_seconds != GPU_SECONDS
            or args.analytics != demo.analytics_enabled or args.quantize != assistant.quantize
            or args.calibrate != assistant.calibrate or args.int4_codes != assistant.int4_codes):
        demo, assistant = make_app(args.model, device, args.gpu_seconds, args.analytics, args.quantize,
                                   args.calibrate, args.int4_codes)
    configure_queue(demo, device, args.concurrency, args.max_queue)
    where = " on a Hugging Face Space" if on_space() else ""
    print(f"[dimple studio] model {args.model} on {device}{where}; http://{args.host}:{args.port}", flush=True)
    if on_zerogpu():
        assistant.get()  # ZeroGPU moves weights to the GPU only if they are on cuda before the server starts
        print(f"[dimple studio] ZeroGPU: model loaded at start-up; decodes hold the GPU up to {args.gpu_seconds} s",
              flush=True)
    else:
        assistant.warm_up()
    if args.run_history:
        print("[dimple studio] run history ON: every run is kept in the visitor's browser (/gradio_api/runs)",
              flush=True)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                **studio_launch_options(args.run_history, args.mcp))
    return 0
