"""Performance at real scale: `python -m dimple.scale --shape 7b` (or several shapes for the table).

For each named shape (`scale_shapes.SHAPES`) it writes a random-weight
checkpoint in the released layout (`scale_checkpoint`, outside git), measures
the machine (read bandwidth, the widest matmul with plain and prepacked
weights), loads the checkpoint through the ordinary `loading.load_model` path
and measures it (`scale_measure`): peak resident memory while loading and
while decoding against the checkpoint's size, one forward's seconds against
tokens fed with and without the prompt cache, a decode with and without
prefilling next to the analytic and fed-token ratios, tokens per second, the
prompt cache's bytes per request, and the cached pass against its roofline.
Several shapes run one process each (a clean peak-memory reading each) and
their results make one table (`scale_report`, docs/scale.md).

`--device cuda` measures the same in bf16 on a GPU (the CUDA allocator's peak
memory is reported next to the process's). It does not know the UI or Tiny's
training; it prints JSON and, with `--markdown`, writes the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

import torch

from ..loading import load_model
from ..quantize import MODES
from .checkpoint import existing_checkpoint, write_checkpoint
from .measure import decode_pair, floor_gives_way, forward_table, pass_costs, roofline
from .probe import PeakMemory, matmul_rates, peak_gflops, read_bandwidth, rss_bytes
from .shapes import SHAPES, ScaleSettings, get_shape

DEFAULT_CKPT_DIR = Path(tempfile.gettempdir()) / "dimple-scale"


def _memory(probe: PeakMemory, checkpoint: int) -> dict:
    r = dict(probe.result)
    r["peak_over_checkpoint"] = round(r["rss_peak_bytes"] / checkpoint, 3)
    if "cuda_peak_bytes" in r:
        r["cuda_peak_over_checkpoint"] = round(r["cuda_peak_bytes"] / checkpoint, 3)
    return r


def _checkpoint(shape, folder: Path, settings: ScaleSettings) -> dict:
    probe = PeakMemory().start()
    start = time.perf_counter()
    info = existing_checkpoint(shape, folder, settings.seed)
    reused = info is not None
    if not reused:
        info = write_checkpoint(shape, folder, settings.seed, settings.image_side)
    probe.stop()
    return {**info, "folder": str(folder), "reused": reused, "write_s": round(time.perf_counter() - start, 2),
            "write_memory": probe.result}


def _rooflines(model, settings, forward, decode, machine) -> list:
    costs, config = pass_costs(model), model.config
    gbps, gflops = machine["bandwidth"]["read_gbps"], machine["peak_gflops"]
    out = [dict(roofline(costs, config, r["tokens"], r["cached_attends_to"], settings.scored, r["cached_s"], gbps, gflops),
                kind="cached pass (table)") for r in forward["rows"] if r["tokens"] <= settings.canvas + 1]
    if decode["prefill"]["later_pass_s"]:
        P, R = decode["prompt_tokens"], decode["canvas"]
        out.append(dict(roofline(costs, config, R + 1, P + R, R, decode["prefill"]["later_pass_s"], gbps, gflops),
                        kind="decode's cached pass (median)"))
    return out


def run_shape(name: str, settings: ScaleSettings, device: str = "cpu", ckpt_dir: Path = DEFAULT_CKPT_DIR,
              keep: bool = False, pack: bool = True, quantize=None, baseline: bool = True,
              int4_codes: Optional[Path] = None) -> dict:
    """Write, load and measure one shape; the checkpoint is deleted afterwards unless `keep`. quantize: one of
    load_model's (None, "int8", "w8a8", "int4"); baseline False: the decode runs with prefilling only (no uncached
    decode); int4_codes: int4 codes saved before for this checkpoint (`python -m dimple.int4_codes`), read at load
    instead of chosen."""
    shape, settings = get_shape(name), settings.validate()
    if device == "cpu":
        torch.set_num_threads(settings.threads)
    folder = Path(ckpt_dir) / shape.name
    result = {"shape": shape.name, "note": shape.note, "device": _device_name(device), "threads": torch.get_num_threads(),
              "pack": pack and device == "cpu", "quantize": quantize, "cpu_model": cpu_model(),
              "int4_codes": None if int4_codes is None else str(int4_codes),
              "load_average_start": os.getloadavg(), "dims": {"hidden": shape.hidden, "intermediate": shape.intermediate, "layers": shape.layers},
              "settings": {k: v for k, v in vars(settings).items() if k != "extra"}}
    result["checkpoint"] = ckpt = _checkpoint(shape, folder, settings)
    machine = {"bandwidth": read_bandwidth(device, settings.bandwidth_gib),
               "matmul": matmul_rates(shape.hidden, shape.intermediate, torch.bfloat16, device, settings.matmul_rows,
                                         integer=quantize == "w8a8")}
    machine["peak_gflops"] = peak_gflops(machine["matmul"])
    result["machine"] = machine
    probe, start = PeakMemory(device).start(), time.perf_counter()
    model = load_model(str(folder), device=device, dtype="bf16", pack=pack, quantize=quantize, int4_codes=int4_codes)
    probe.stop()
    result["kernels"] = model.kernel_choice
    result["load"] = {"seconds": round(time.perf_counter() - start, 2), **_memory(probe, ckpt["bytes"]),
                      "model_rss_bytes": rss_bytes() - probe.start_rss}
    generator = torch.Generator().manual_seed(settings.seed)
    result["forward"] = forward_table(model, settings, shape.repeats, device, generator, shape.warmup)
    result["forward"]["floor_gives_way_at_tokens"] = floor_gives_way(result["forward"]["rows"])
    probe = PeakMemory(device).start()
    result["decode"] = decode_pair(model, settings, shape.repeats, device, generator, baseline)
    probe.stop()
    result["decode"]["memory"] = _memory(probe, ckpt["bytes"])
    P, R = result["decode"]["prompt_tokens"], settings.canvas
    result["cache_bytes_per_request"] = int(result["forward"]["cache_bytes_per_token"] * (P + R))
    result["roofline"] = _rooflines(model, settings, result["forward"], result["decode"], machine)
    result["parameters"] = sum(p.numel() for p in model.parameters())
    result["load_average_end"] = os.getloadavg()  # other work on the machine: timings are shared with it
    del model
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def cpu_model() -> str:
    """The CPU's model name and whether it has AMX (Linux /proc/cpuinfo; "" elsewhere)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "")
    amx = "with AMX" if "amx_bf16" in flags else "no AMX"
    return f"{name} ({os.cpu_count()} cores, {'avx512_bf16, ' if 'avx512_bf16' in flags else ''}{amx})"


def _device_name(device: str) -> str:
    if torch.device(device).type == "cuda":
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({torch.get_num_threads()} threads)"


def run_in_subprocess(name: str, args: argparse.Namespace) -> dict:
    """One shape in a fresh process, so that its peak memory is its own."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "dimple.scale", "--shape", name, "--json-out", str(out), *_passthrough(args)]
        subprocess.run(cmd, check=True, stdout=sys.stderr)
        return json.loads(out.read_text())[0]


def _passthrough(args: argparse.Namespace) -> list[str]:
    out = ["--device", args.device, "--ckpt-dir", str(args.ckpt_dir), "--steps", str(args.steps),
           "--threads", str(args.threads), "--fed-tokens", ",".join(map(str, args.fed_tokens))]
    out += ["--canvas", str(args.canvas)] + (["--quantize", args.quantize] if args.quantize else [])
    out += ["--no-baseline"] if args.no_baseline else []
    out += ["--int4-codes", str(args.int4_codes)] if args.int4_codes else []
    return out + (["--keep"] if args.keep else []) + (["--no-pack"] if args.no_pack else [])


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m dimple.scale", description=__doc__.splitlines()[0])
    p.add_argument("--shape", action="append", choices=list(SHAPES), help="shape(s) to measure (default: tiny)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--ckpt-dir", type=Path, default=DEFAULT_CKPT_DIR, help="where checkpoints are written (outside git)")
    p.add_argument("--keep", action="store_true", help="keep the checkpoints (reused by a later run)")
    p.add_argument("--no-pack", action="store_true", help="load without prepacking the linear weights (the old path)")
    p.add_argument("--steps", type=int, default=ScaleSettings.steps, help="fixed passes of each decode")
    p.add_argument("--canvas", type=int, default=ScaleSettings.canvas, help="response canvas of the decode (tokens)")
    p.add_argument("--quantize", choices=[m for m in MODES if m], default=None,
                   help="load with quantised linear layers: weight-only int8 (int8), with int8 activations "
                        "(w8a8, CPU) or weight-only group-wise int4 (int4, CPU)")
    p.add_argument("--int4-codes", type=Path, help="with --quantize int4: read these saved codes at load "
                   "(`python -m dimple.int4_codes`) instead of choosing them")
    p.add_argument("--no-baseline", action="store_true", help="decode with prefilling only (skip the uncached decode)")
    p.add_argument("--threads", type=int, default=ScaleSettings.threads, help="torch threads on a CPU")
    p.add_argument("--fed-tokens", type=lambda s: tuple(int(v) for v in s.split(",")),
                   default=ScaleSettings.fed_tokens, help="comma-separated token counts of the timed forwards")
    p.add_argument("--json-out", type=Path, help="write the results (a list, one per shape) here")
    p.add_argument("--markdown", type=Path, help="write the tables here (e.g. docs/scale.md)")
    p.add_argument("--from-json", type=Path, nargs="+", help="render earlier --json-out files instead of measuring")
    args = p.parse_args(argv)
    args.shape = args.shape or ["tiny"]
    return args


def main(argv=None) -> int:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    args = parse_args(argv)
    settings = replace(ScaleSettings(), steps=args.steps, threads=args.threads, fed_tokens=args.fed_tokens,
                       canvas=args.canvas, scored=args.canvas).validate()
    if args.from_json:
        results = sorted((r for f in args.from_json for r in json.loads(f.read_text())),
                         key=lambda r: list(SHAPES).index(r["shape"]))
    elif len(args.shape) == 1:
        results = [run_shape(args.shape[0], settings, args.device, args.ckpt_dir, args.keep, not args.no_pack,
                             args.quantize, not args.no_baseline, args.int4_codes)]
    else:
        results = [run_in_subprocess(name, args) for name in args.shape]
    text = json.dumps(results, indent=2)
    if args.json_out:
        args.json_out.write_text(text)
    if args.markdown:
        from .report import write_markdown

        write_markdown(results, args.markdown, command="python -m dimple.scale " + " ".join(sys.argv[1:] if argv is None else argv))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
