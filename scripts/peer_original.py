"""The peer comparison of issue 34: this project against the original Dimple code on one random model.

  python scripts/peer_original.py write DIR                 # the peer model (scripts/peer_profile.py's shape) + inputs
  python scripts/peer_original.py ours DIR                  # decode with this project; DIR/ours.json
  VENV/bin/python scripts/peer_original.py original DIR SRC # decode with the original; DIR/original.json
  python scripts/peer_original.py compare DIR               # histories equal? seconds and speedups
  python scripts/peer_original.py ours DIR --mode prefill   # one mode; a later run keeps the faster time

On a shared machine, alternate the two sides one mode at a time (ours, original, ours, original, ...): each
run keeps the best time so far in DIR, so both sides meet the same background load.

SRC is a folder holding the original's `dimple_model` package (configuration_dimple.py, modeling_dimple.py,
generation_utils.py, ... from the public Dimple repository, lmms-eval/lmms_eval/models/dimple_model), and
VENV a virtual environment with transformers 4.46.2, which that code needs. Neither is part of this project:
fetch them yourself; nothing of the original is copied here. Both sides load the same safetensors weights
(float32), decode the same prompt with the threshold off (the schedule alone, so random weights give a fixed
pass count), greedy, with and without prefilling, best of `--repeats` runs each, on 2 threads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

STEPS = 48  # = the canvas: with the threshold off the schedule decides; 47 iterations here


def _settings(canvas: int) -> dict:
    return dict(max_new_tokens=canvas, steps=STEPS, temperature=0.0, alg="maskgit_plus", alg_p_threshold=0.0,
                alg_temp=0.0, use_original_confidence=True)


def write(folder: Path) -> None:
    from safetensors.torch import save_file

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from peer_profile import CANVAS, peer_model, prompt

    model = peer_model(torch.float32)
    model.save_pretrained(str(folder))
    inputs = prompt(model.config)
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    save_file({k: v.contiguous() for k, v in inputs.items()}, str(folder / "inputs.safetensors"))
    (folder / "peer.json").write_text(json.dumps({"canvas": CANVAS, "mask_token_id": model.config.mask_token_id}))


def _inputs(folder: Path) -> tuple[dict, dict]:
    from safetensors.torch import load_file

    return load_file(str(folder / "inputs.safetensors")), json.loads((folder / "peer.json").read_text())


def _best(fn, repeats: int):
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        runs.append((time.perf_counter() - start, out))
    return min(runs, key=lambda r: r[0])


MODES = {"prefill": True, "no_prefill": False}


def ours(folder: Path, repeats: int, modes: tuple) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import dimple
    from dimple.config import DecodeConfig
    from dimple.loading import load_model

    x, peer = _inputs(folder)
    model = load_model(str(folder), dtype="fp32")
    out = {}
    for mode in modes:
        prefill = MODES[mode]
        cfg = DecodeConfig(**_settings(peer["canvas"]), prefill=prefill)
        seconds, traj = _best(lambda: dimple.generate(model, x["input_ids"], cfg, attention_mask=x["attention_mask"],
                                                      pixel_values=x["pixel_values"], image_grid_thw=x["image_grid_thw"]),
                              repeats)
        out["prefill" if prefill else "no_prefill"] = {"seconds": round(seconds, 3), "passes": traj.nfe,
                                                       "history": traj.states()}
    out["kernel_choice"] = [{k: r[k] for k in ("in_features", "out_features", "chosen")} for r in model.kernel_choice]
    return out


def original(folder: Path, src: Path, repeats: int, modes: tuple) -> dict:
    sys.path.insert(0, str(src))
    from dimple_model.modeling_dimple import DimpleModel  # the original package, outside this project

    x, peer = _inputs(folder)
    model = DimpleModel.from_pretrained(str(folder), torch_dtype=torch.float32).eval()
    P = x["input_ids"].shape[1]
    out = {}
    for mode in modes:
        use_cache = MODES[mode]

        def run():
            with torch.no_grad():
                return model.diffusion_generate(x["input_ids"], attention_mask=x["attention_mask"],
                                                pixel_values=x["pixel_values"], image_grid_thw=x["image_grid_thw"],
                                                output_history=True, return_dict_in_generate=True, use_cache=use_cache,
                                                decoding_pipeline="dim", **_settings(peer["canvas"]))
        seconds, result = _best(run, repeats)
        history = [h[0, P:].tolist() for h in result.history]
        out["prefill" if use_cache else "no_prefill"] = {"seconds": round(seconds, 3), "passes": len(history),
                                                         "history": history}
    import transformers

    out["transformers"] = transformers.__version__
    return out


def _keep_faster(path: Path, result: dict) -> dict:
    """`result` merged into the side's earlier file: per mode, the faster of the two runs (same history)."""
    if not path.exists():
        return result
    merged = json.loads(path.read_text())
    for mode, new in result.items():
        old = merged.get(mode)
        if not isinstance(new, dict) or not isinstance(old, dict):
            merged[mode] = new
            continue
        if new.get("history") != old.get("history"):
            raise SystemExit(f"{mode}: this run's history differs from the earlier run's")
        if new["seconds"] < old["seconds"]:
            merged[mode] = new
    return merged


def compare(folder: Path) -> dict:
    a, b = (json.loads((folder / f"{n}.json").read_text()) for n in ("ours", "original"))
    out = {}
    for mode in ("prefill", "no_prefill"):
        out[mode] = {"ours_s": a[mode]["seconds"], "original_s": b[mode]["seconds"],
                     "speedup": round(b[mode]["seconds"] / a[mode]["seconds"], 3),
                     "passes": [a[mode]["passes"], b[mode]["passes"]],
                     "histories_identical": a[mode]["history"] == b[mode]["history"]}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["write", "ours", "original", "compare"])
    p.add_argument("folder", type=Path)
    p.add_argument("src", type=Path, nargs="?")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--mode", choices=["both", *MODES], default="both")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    args.folder.mkdir(parents=True, exist_ok=True)
    if args.what == "write":
        write(args.folder)
        return 0
    if args.what == "compare":
        print(json.dumps(compare(args.folder), indent=1))
        return 0
    modes = tuple(MODES) if args.mode == "both" else (args.mode,)
    side = ours if args.what == "ours" else (lambda f, r, m: original(f, args.src, r, m))
    result = _keep_faster(args.folder / f"{args.what}.json", side(args.folder, args.repeats, modes))
    (args.folder / f"{args.what}.json").write_text(json.dumps(result))
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "history"} if isinstance(v, dict) else v
                      for k, v in result.items() if k != "kernel_choice"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
