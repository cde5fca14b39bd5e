"""The weight average of several Dimple-Tiny checkpoints of one architecture (a uniform "model soup").

Owns reading two or more training checkpoints (`runs/<name>/last.pt`) or exported model folders, checking that
they hold the same parameters over the same vocabulary, their float32 mean, and writing it as an exported folder
the app and `dimple.cli eval` load. Used on two stages of one run (docs/tiny3.md, sessions 29-30), whose weights
lie in one basin, so their mean is a model too. It does not know whether the mean is better than its sources:
the rule's evaluation decides that. It never trains and never reads the optimizer state.

    python -m dimple.tiny.average OUT SOURCE SOURCE [SOURCE ...]

A folder OUT takes everything but its weights (config, tokenizer, image settings, card) from the first source. An
OUT ending in ".pt" is a start for another run (`python -m dimple.tiny.train --init-from OUT`): the mean trunk,
the training-only auxiliary heads of the last source that has them (a fresh head would start its loss at chance
and pull the trunk), and no optimizer state.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import torch

from .checkpoint import AUX_HEADS
from .init import read_start


def _vocabulary(tokenizer_dir) -> dict:
    """The token -> id table of the tokenizer at `tokenizer_dir` ({} when the source does not name one)."""
    path = os.path.join(tokenizer_dir or "", "tokenizer.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)["model"]["vocab"]


def mean_state(sources: list[str]) -> dict[str, torch.Tensor]:
    """The float32 mean of the sources' weights; raises ValueError unless every source holds the same parameter
    names and shapes, read with the same vocabulary (a token's rows must mean one token in each)."""
    return _read_mean(sources)[0]


def _read_mean(sources: list[str]) -> tuple[dict[str, torch.Tensor], dict, str]:
    """(mean_state's mean, the auxiliary heads of the last source that holds them, the tokenizer folder of the first
    source that names one), each source read once."""
    if len(sources) < 2:
        raise ValueError("an average needs at least two sources")
    total: dict[str, torch.Tensor] = {}
    heads: dict = {}
    vocab0, tok0 = None, ""
    for i, path in enumerate(sources):
        state, extra, tok_dir = read_start(path)
        vocab = _vocabulary(tok_dir)
        heads.update({k: v for k, v in extra.items() if k in AUX_HEADS})
        tok0 = tok0 or tok_dir or ""
        if i == 0:
            total, vocab0 = {k: v.float().clone() for k, v in state.items()}, vocab
            continue
        if vocab and vocab0 and vocab != vocab0:
            raise ValueError(f"{path} was trained with another tokenizer than {sources[0]}")
        if set(state) != set(total):
            raise ValueError(f"{path} holds other parameters than {sources[0]}: "
                             f"{sorted(set(state) ^ set(total))[:4]}")
        for key, value in state.items():
            if value.shape != total[key].shape:
                raise ValueError(f"{path}: {key} is {tuple(value.shape)}, not {tuple(total[key].shape)}")
            total[key] += value.float()
    return {k: v / len(sources) for k, v in total.items()}, heads, tok0


def write_average(out_dir: str, sources: list[str]) -> str:
    """Write the mean of `sources` to `out_dir` as an exported folder (16-bit as the first source's export, or
    bf16 from a checkpoint) and return it."""
    state = mean_state(sources)
    first = sources[0]
    if os.path.isdir(first):
        from safetensors.torch import load_file, save_file

        weights = os.path.join(first, "model.safetensors")
        dtypes = {k: v.dtype for k, v in load_file(weights).items()}
        shutil.copytree(first, out_dir, dirs_exist_ok=True)
        save_file({k: v.to(dtypes[k]).contiguous() for k, v in state.items()},
                  os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
        return out_dir
    from .checkpoint import export, model_from_checkpoint

    model, tokenizer, cfg, _ = model_from_checkpoint(first)
    model.load_state_dict(state)
    return export(model, tokenizer, out_dir, canvas=cfg.canvas_len)


def write_start(out_path: str, sources: list[str]) -> str:
    """Write the mean of `sources` as a training start at `out_path` (a .pt file `--init-from` reads) and return
    it: the mean trunk, the tokenizer folder of the first source that names one, and the auxiliary heads of the
    last source that holds them."""
    state, heads, tok_dir = _read_mean(sources)
    start = {"model": state, "config": {"tokenizer_dir": tok_dir} if tok_dir else {}, **heads}
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    torch.save(start, out_path)
    return out_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dimple.tiny.average", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="the folder to write (an exported model), or a .pt training start")
    parser.add_argument("sources", nargs="+", help="training checkpoints (.pt) or exported model folders")
    args = parser.parse_args(argv)
    try:
        (write_start if args.out.endswith(".pt") else write_average)(args.out, args.sources)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote the mean of {len(args.sources)} sources to {args.out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
