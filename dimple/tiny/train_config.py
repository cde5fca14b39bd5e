"""Dimple-Tiny's training configuration: one dataclass, a comment per field, `validate()` that raises.

Owns the run's settings (recipe, schedule, stages, sequences, data pool,
checkpoints, model shape) and what follows from them alone: the share of the
run done (by steps or by a time budget), the phase at a point of the run
(autoregressive or diffusion) and the learning rate. It knows nothing of the
model, the data or the loop (train.py); it also reads the command line into a config (`parse_args`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from dataclasses import dataclass, field, fields
from typing import Optional

from . import world
from .data import WorldData, parse_mix
from .settings import TINY


RECIPES = ("ar-then-diffusion", "diffusion-only", "ar-only")
MIXED_PRECISION = ("no", "bf16")  # accelerate's names
COMPILE = ("off", "layers")  # TrainConfig.compile's values


@dataclass
class TrainConfig:
    # --- run ---
    name: str = "tiny"  # run name: log and checkpoints go to <out_root>/<name>/
    out_root: str = "runs"  # folder of runs (gitignored)
    recipe: str = "ar-then-diffusion"  # one of RECIPES
    seed: int = 0  # seeds torch, Python and the scene pool
    threads: int = 2  # torch CPU threads (0: leave torch's default)
    # "bf16": forward and backward under bfloat16 autocast (weights and AdamW state stay fp32); on the AMD EPYC
    # with avx512_bf16, 1.1-1.3x the steps per second of "no" at Tiny 3's size (docs/tiny3.md); "no": fp32 throughout
    mixed_precision: str = "no"
    # "layers": each decoder layer runs under torch.compile (dynamic shapes; its elementwise work fused), about 1.2x
    # the steps per second at Tiny 3's size after a ~20 s compile (docs/tiny3.md, session 26); "off": eager
    compile: str = "off"
    tokenizer_dir: str = "assets/dimple-tiny"  # tokenizer to train with (built there if missing)
    init_from: str = ""  # start from these weights (runs/<name>/last.pt or an exported folder); the schedule starts at 0
    # --- schedule ---
    steps: int = 3600  # optimizer steps in all
    batch_size: int = 48  # samples per step (per process)
    lr: float = 2e-3  # peak AdamW learning rate
    min_lr_ratio: float = 0.05  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 100  # linear learning-rate warm-up
    weight_decay: float = 0.01  # AdamW weight decay (not on norms, biases, embeddings)
    grad_clip: float = 1.0  # gradient norm clip (0: off)
    time_budget_minutes: float = 0.0  # > 0: the schedule runs on max(step/steps, train time/budget) and stops at 1
    ar_fraction: float = 0.4  # ar-then-diffusion: share of the steps trained autoregressively, before diffusion
    # --- stages / curriculum ---
    vision_warmup_steps: int = 150  # dense per-row captions, words and charts read out in full
    curriculum_steps: int = 600  # until then objects scenes have at most `curriculum_objects` objects, no words/charts
    curriculum_objects: int = 2  # most objects per scene during the curriculum stage
    busy_share: float = 0.0  # share of describe, JSON, visitor and conversation scenes drawn with 4-6 objects
    # --- sequences ---
    max_pad: int = 6  # supervised <|endoftext|> pads after <|im_end|>: uniform in [0, max_pad]
    # chance that the pads instead fill the response up to canvas_len; the short pads' masked room tells the model
    # the answer's length, which the app's full canvas does not (Tiny 3's runs pass 0.85: docs/tiny3.md)
    long_pad_prob: float = 0.15
    canvas_len: int = TINY.canvas  # response length the long pads fill (the decode canvas used in evaluation)
    mask_eps: float = 1e-3  # diffusion: t ~ U(mask_eps, 1)
    max_loss_weight: float = 10.0  # diffusion: the 1/t weight is clipped at this
    vision_aux_weight: float = 1.0  # weight of the dense per-cell/row/column vision loss (vision_heads.py; 0: off)
    binding_aux_weight: float = 0.0  # weight of the loss reading each object word's cell (binding.py; 0: off)
    binding_layer: int = -1  # decoder layer whose output the binding head reads (negative: from the last)
    # --- data pool ---
    pool_per_kind: int = 3000  # pre-rendered scenes per pool (objects with n = 1..6 objects, text, chart)
    pool_refresh_every: int = 50  # steps between replacing part of the pool with fresh scenes
    pool_refresh_count: int = 64  # scenes replaced per pool at each refresh
    mix: str = ""  # category weight overrides after the curriculum, "exists=3,position=3" (data.WorldData.MIX)
    # --- checkpoints / logging ---
    checkpoint_minutes: float = 5.0  # save runs/<name>/last.pt this often (and at the end)
    log_every: int = 25  # steps between log lines
    eval_every: int = 0  # steps between quick held-out evaluations (0: off)
    eval_n: int = 64  # samples in each quick evaluation
    # --- model size ---
    hidden_size: int = 128  # language model width
    num_layers: int = 4  # language model layers
    num_heads: int = 4  # attention heads
    num_kv_heads: int = 2  # key/value heads (grouped-query attention)
    intermediate_size: int = 384  # language model MLP width
    mrope_section: list = field(default_factory=lambda: [4, 6, 6])  # rotary pairs (t, h, w); sums to head_dim/2
    rope_theta: float = 10000.0  # rotary base; small values give the height/width sections usable frequencies
    vision_hidden: int = 64  # vision tower width
    vision_depth: int = 2  # vision blocks
    vision_heads: int = 2  # vision attention heads
    vision_intermediate: int = 128  # vision MLP width
    vision_window: int = 28  # window attention size in pixels: one cell (the last block attends fully)

    def validate(self) -> "TrainConfig":
        def need(cond, name, allowed):
            if not cond:
                raise ValueError(f"{name} must be {allowed}, got {getattr(self, name)!r}")

        need(self.recipe in RECIPES, "recipe", f"one of {', '.join(RECIPES)}")
        need(self.mixed_precision in MIXED_PRECISION, "mixed_precision", f"one of {', '.join(MIXED_PRECISION)}")
        need(self.compile in COMPILE, "compile", f"one of {', '.join(COMPILE)}")
        need(isinstance(self.name, str) and self.name and "/" not in self.name, "name", "a non-empty name without '/'")
        need(self.steps >= 1, "steps", ">= 1")
        need(self.batch_size >= 1, "batch_size", ">= 1")
        need(0 < self.lr <= 1, "lr", "in (0, 1]")
        need(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "in [0, 1]")
        need(self.warmup_steps >= 0, "warmup_steps", ">= 0")
        need(self.weight_decay >= 0, "weight_decay", ">= 0")
        need(self.grad_clip >= 0, "grad_clip", ">= 0")
        need(self.time_budget_minutes >= 0, "time_budget_minutes", ">= 0")
        need(0 <= self.ar_fraction <= 1, "ar_fraction", "in [0, 1]")
        need(self.vision_warmup_steps >= 0, "vision_warmup_steps", ">= 0")
        need(self.curriculum_steps >= 0, "curriculum_steps", ">= 0")
        need(1 <= self.curriculum_objects <= world.MAX_OBJECTS, "curriculum_objects", f"in [1, {world.MAX_OBJECTS}]")
        need(0 <= self.busy_share <= 1, "busy_share", "in [0, 1]")
        need(0 <= self.max_pad <= 64, "max_pad", "in [0, 64]")
        need(0 <= self.long_pad_prob <= 1, "long_pad_prob", "in [0, 1]")
        need(8 <= self.canvas_len <= 256, "canvas_len", "in [8, 256]")
        need(0 < self.mask_eps < 1, "mask_eps", "in (0, 1)")
        need(self.max_loss_weight >= 1, "max_loss_weight", ">= 1")
        need(self.vision_aux_weight >= 0, "vision_aux_weight", ">= 0")
        need(self.binding_aux_weight >= 0, "binding_aux_weight", ">= 0")
        need(-self.num_layers <= self.binding_layer < self.num_layers, "binding_layer", "a layer index of the stack")
        need(not self.init_from or os.path.exists(self.init_from), "init_from", "empty, a checkpoint file or a model folder")
        need(self.pool_per_kind >= 8, "pool_per_kind", ">= 8")
        need(self.pool_refresh_every >= 0, "pool_refresh_every", ">= 0")
        need(0 <= self.pool_refresh_count <= self.pool_per_kind, "pool_refresh_count", "in [0, pool_per_kind]")
        try:
            mix = parse_mix(self.mix)
        except ValueError:
            mix = None
        need(mix is not None, "mix", "empty or comma-separated category=weight with weights >= 0")
        need(sum(w for c, w in {**WorldData.MIX, **(mix or {})}.items() if c not in ("ocr", "chart")) > 0,
             "mix", "weights that leave some scene category (the curriculum draws no words or charts)")
        need(self.checkpoint_minutes > 0, "checkpoint_minutes", "> 0")
        need(self.log_every >= 1, "log_every", ">= 1")
        need(self.eval_every >= 0, "eval_every", ">= 0")
        need(self.hidden_size % self.num_heads == 0, "hidden_size", "divisible by num_heads")
        need(self.num_heads % self.num_kv_heads == 0, "num_heads", "divisible by num_kv_heads")
        need(len(self.mrope_section) == 3 and 2 * sum(self.mrope_section) == self.hidden_size // self.num_heads,
             "mrope_section", "three numbers summing to head_dim / 2")
        need(self.rope_theta > 1, "rope_theta", "> 1")
        need(self.vision_hidden % self.vision_heads == 0, "vision_hidden", "divisible by vision_heads")
        need(self.vision_window % 28 == 0, "vision_window", "a multiple of 28")
        return self

    @property
    def run_dir(self) -> str:
        return os.path.join(self.out_root, self.name)

    def progress(self, step: int, train_seconds: float = 0.0) -> float:
        """Share of the run done, in [0, 1]: by steps, or by training time when a time budget is set."""
        p = step / self.steps
        if self.time_budget_minutes > 0:
            p = max(p, train_seconds / (60 * self.time_budget_minutes))
        return min(1.0, p)

    def phase(self, progress: float) -> str:
        """'ar' or 'diffusion' at this point of the run."""
        if self.recipe == "ar-only":
            return "ar"
        if self.recipe == "diffusion-only":
            return "diffusion"
        return "ar" if progress < self.ar_fraction else "diffusion"

    def lr_at(self, step: int, progress: Optional[float] = None) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        p = self.progress(step) if progress is None else progress
        w = self.warmup_steps / self.steps
        p = min(1.0, max(0.0, (p - w) / max(1e-9, 1 - w)))
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def parse_args(argv=None, prog: str = "train", description: str = "") -> tuple[TrainConfig, argparse.Namespace]:
    """The training command line: a flag per TrainConfig field; --resume and --export start from the run's saved
    config, and the flags given override it."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name == "mrope_section":
            p.add_argument(flag, type=int, nargs=3, default=None)
        elif f.type in ("int", int):
            p.add_argument(flag, type=int, default=None)
        elif f.type in ("float", float):
            p.add_argument(flag, type=float, default=None)
        else:
            p.add_argument(flag, type=str, default=None)
    p.add_argument("--resume", action="store_true", help="continue from <run>/last.pt")
    p.add_argument("--export", metavar="DIR", help="write the run's last checkpoint as 16-bit safetensors to DIR and exit")
    p.add_argument("--dtype", default="bf16", choices=["bf16", "fp16"], help="export precision")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--max-seconds", type=float, default=None, help="stop (and checkpoint) after this much wall time")
    args = p.parse_args(argv)
    cfg = TrainConfig()
    if args.resume or args.export:
        saved = os.path.join(cfg.out_root if args.out_root is None else args.out_root,
                             args.name or cfg.name, "config.json")
        if os.path.exists(saved):
            with open(saved) as f:
                known = {f_.name for f_ in fields(TrainConfig)}
                cfg = TrainConfig(**{k: v for k, v in json.load(f).items() if k in known})
    for f in fields(TrainConfig):
        v = getattr(args, f.name)
        if v is not None:
            setattr(cfg, f.name, list(v) if f.name == "mrope_section" else v)
    return cfg, args
