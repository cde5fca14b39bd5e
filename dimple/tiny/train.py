"""Training Dimple-Tiny on the drawn world with the paper's recipe.

    python -m dimple.tiny.train [--steps N] [--recipe ar-then-diffusion|diffusion-only|ar-only] [--name RUN]
    python -m dimple.tiny.train --resume --name RUN          # continue from runs/RUN/last.pt
    python -m dimple.tiny.train --export assets/dimple-tiny --name RUN   # 16-bit safetensors + config + tokenizer
    accelerate launch -m dimple.tiny.train ...                # same script on one or more GPUs

Owns the training loop and the two training phases
of Dimple (autoregressive: causal attention and next-token loss on the answer;
diffusion: full attention, each answer token masked with probability
t ~ U(eps, 1), loss on masked positions weighted by 1/t) and resuming. The
configuration is `train_config.py`, the model, checkpoints and export are
`checkpoint.py`, the batches (scene pools, stages, padding) are `data.py`.

It does not decode (see `engine.py`) nor score answers (see `evaluate.py`).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F

from .checkpoint import build_model, export, load_checkpoint, load_tokenizer, model_from_checkpoint, save_checkpoint
from .data import WorldData
from .init import load_start
from .train_config import RECIPES, TrainConfig, parse_args  # noqa: F401 - RECIPES is part of this module's API
from .settings import image_processor
from .binding import BindingHead
from .vision_heads import DenseVisionHeads, ImageTokenTap, OutputTap

# ------------------------------------------------------------------ loss
def compute_loss(model, batch: dict, phase: str, cfg: TrainConfig, mask_id: int, generator: torch.Generator):
    """Dimple's loss for one batch. ar: causal, next-token CE on every supervised response position.
    diffusion: full attention; each supervised position masked with prob t ~ U(eps, 1) (t per sample);
    CE on masked positions weighted by 1/t, averaged over supervised positions. Returns (loss, stats, the
    positions scored), (b, L) bool."""
    input_ids = batch["input_ids"]
    sup = batch["labels_mask"]
    b, length = input_ids.shape
    if phase == "ar":
        fed = input_ids
        target_mask = sup
        weight = torch.ones(b, 1)
    else:
        t = cfg.mask_eps + (1 - cfg.mask_eps) * torch.rand(b, 1, generator=generator)
        masked = (torch.rand(b, length, generator=generator) < t) & sup
        # every sample contributes: if nothing got masked, mask one supervised position
        none = ~masked.any(1)
        if bool(none.any()):
            rows = none.nonzero(as_tuple=True)[0]
            for r in rows.tolist():
                cand = sup[r].nonzero(as_tuple=True)[0]
                masked[r, cand[torch.randint(len(cand), (1,), generator=generator)]] = True
        fed = torch.where(masked, torch.full_like(input_ids, mask_id), input_ids)
        target_mask = masked
        weight = (1.0 / t).clamp(max=cfg.max_loss_weight)
    out = model(input_ids=fed, attention_mask=batch["attention_mask"], pixel_values=batch["pixel_values"],
                image_grid_thw=batch["image_grid_thw"], position_ids=batch["position_ids"], causal=(phase == "ar"))
    logits = out.logits[:, :-1]  # output i predicts token i + 1
    targets = input_ids[:, 1:]
    tmask = target_mask[:, 1:]
    ce = F.cross_entropy(logits[tmask].float(), targets[tmask], reduction="none")
    per_pos = torch.zeros(b, length - 1, device=ce.device, dtype=ce.dtype)
    per_pos[tmask] = ce
    n_sup = sup[:, 1:].sum(1).clamp(min=1)
    per_sample = per_pos.sum(1) / n_sup * weight.squeeze(1).to(ce.device)
    loss = per_sample.mean()
    with torch.no_grad():
        acc = (logits[tmask].argmax(-1) == targets[tmask]).float().mean()
    return loss, {"loss": float(loss.detach()), "tok_acc": float(acc), "ce": float(ce.detach().mean())}, target_mask


def param_groups(model, weight_decay: float):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.dim() < 2 or "embed" in name or "norm" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


# ------------------------------------------------------------------ loop
@dataclass
class _Run:
    """What one training process holds while it runs."""

    cfg: TrainConfig
    accelerator: object
    model: torch.nn.Module  # as prepared by accelerate (possibly wrapped for data parallelism)
    raw: torch.nn.Module  # the model itself
    optimizer: torch.optim.Optimizer
    data: WorldData
    tokenizer: object
    vision: Optional[tuple] = None  # (DenseVisionHeads, their optimizer) when the auxiliary loss is on
    tap: Optional[ImageTokenTap] = None
    binding: Optional[tuple] = None  # (BindingHead, its optimizer) when the binding loss is on
    hidden_tap: Optional[OutputTap] = None  # one decoder layer's output (cfg.binding_layer), for the binding loss
    step: int = 0
    train_seconds: float = 0.0
    running: dict = field(default_factory=dict)  # smoothed stats of the last steps

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def log_path(self) -> str:
        return os.path.join(self.cfg.run_dir, "log.txt")

    @property
    def ckpt_path(self) -> str:
        return os.path.join(self.cfg.run_dir, "last.pt")


def _restore(cfg: TrainConfig, resume: bool) -> _Run:
    """Build the model, optimizer and data, then continue from the run's checkpoint or start from --init-from."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    # accelerate keeps its settings process-wide and would silently keep an earlier train()'s precision; the
    # process group (PartialState) stays
    AcceleratorState._reset_state()
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision)
    tokenizer = load_tokenizer(cfg.tokenizer_dir)
    model = build_model(cfg, tokenizer)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-8)
    data = WorldData(cfg, tokenizer, seed=cfg.seed + 1000 * accelerator.process_index)
    vision = None
    if cfg.vision_aux_weight > 0:
        heads = DenseVisionHeads(cfg.hidden_size)
        vision = (heads, torch.optim.AdamW(heads.parameters(), lr=cfg.lr, weight_decay=0.0))
    bind = None
    if cfg.binding_aux_weight > 0:
        head = BindingHead(cfg.hidden_size)
        bind = (head, torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=0.0))
    run = _Run(cfg, accelerator, model, model, optimizer, data, tokenizer, vision, binding=bind)
    extra: dict = {}
    if resume and os.path.exists(run.ckpt_path):
        state = load_checkpoint(run.ckpt_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        run.step = int(state["step"])
        run.train_seconds = float(state["extra"].get("train_seconds", 0.0))
        data.rng.setstate(state["python_rng"])
        torch.set_rng_state(state["torch_rng"])
        extra = state
    elif cfg.init_from:
        extra = load_start(model, cfg.init_from, tokenizer)  # read once; token rows follow a changed tokenizer
    _load_head(vision, extra, "vision_heads", resume)
    _load_head(bind, extra, "binding_head", resume)
    run.model, run.optimizer = accelerator.prepare(model, optimizer)
    run.raw = accelerator.unwrap_model(run.model)
    if vision is not None:
        run.vision = accelerator.prepare(*vision)
        run.tap = ImageTokenTap(run.raw)
    if bind is not None:
        run.binding = accelerator.prepare(*bind)
        run.hidden_tap = OutputTap(run.raw.model.layers[cfg.binding_layer], "hidden states")
    if cfg.compile == "layers":  # after the taps: a layer's hooks are traced into its compiled forward
        for layer in run.raw.model.layers:
            layer.compile(dynamic=True)
    return run


def _load_head(head: Optional[tuple], extra: dict, key: str, resume: bool) -> None:
    """An auxiliary head (and, when resuming, its optimizer) from a checkpoint's entries; one the checkpoint lacks,
    or of another width, starts fresh."""
    if head is None or key not in extra:
        return
    own = head[0].state_dict()
    kept = {k: v for k, v in extra[key].items() if k in own and v.shape == own[k].shape}
    missing, _ = head[0].load_state_dict(kept, strict=False)
    if resume and not missing:
        head[1].load_state_dict(extra[key + "_optimizer"])


def _step(run: _Run, gen: torch.Generator) -> dict:
    """One optimizer step at run.step: the phase's loss (plus the dense vision and binding losses that are on),
    clipped, applied."""
    cfg, acc = run.cfg, run.accelerator
    progress = cfg.progress(run.step, run.train_seconds)
    phase, lr = cfg.phase(progress), cfg.lr_at(run.step, progress)
    optimizers = [run.optimizer] + [h[1] for h in (run.vision, run.binding) if h is not None]
    for opt in optimizers:
        for g in opt.param_groups:
            g["lr"] = lr
    batch = {k: (v.to(acc.device) if torch.is_tensor(v) else v) for k, v in run.data.batch(run.step).items()}
    loss, st, scored = compute_loss(run.model, batch, phase, cfg, run.raw.config.mask_token_id, gen)
    if run.vision is not None:
        aux, aux_st = run.vision[0](run.tap.take(), batch["scene_targets"])
        loss = loss + cfg.vision_aux_weight * aux
        st.update(aux_st)
    if run.binding is not None:
        aux, aux_st = run.binding[0](run.hidden_tap.take(), batch["answer_cells"], scored)
        loss = loss + cfg.binding_aux_weight * aux
        st.update(aux_st)
    for opt in optimizers:
        opt.zero_grad(set_to_none=True)
    acc.backward(loss)
    if cfg.grad_clip:
        acc.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    for opt in optimizers:
        opt.step()
    run.data.maybe_refresh()
    run.step += 1
    return dict(st, phase=phase, lr=lr, progress=progress)


def _log_step(run: _Run, st: dict, steps_per_s: float, bar) -> dict:
    """Smooth the step's stats into run.running; write a log line every log_every steps (main process)."""
    for k, v in st.items():
        if isinstance(v, float) and k not in ("lr", "progress"):
            run.running[k] = run.running[k] * 0.9 + v * 0.1 if k in run.running else v
    if bar is not None:
        bar.update(1)
        if run.step % 10 == 0:
            bar.set_postfix(loss=f"{run.running['loss']:.3f}", acc=f"{run.running['tok_acc']:.3f}",
                            phase=st["phase"], progress=f"{st['progress']:.3f}")
    if not run.main or (run.step % run.cfg.log_every and run.step != run.cfg.steps):
        return {}
    stats = dict(step=run.step, phase=st["phase"], stage=run.data.stage(run.step), lr=round(st["lr"], 6),
                 progress=round(st["progress"], 4), train_seconds=round(run.train_seconds, 1),
                 loss=round(run.running["loss"], 4), tok_acc=round(run.running["tok_acc"], 4),
                 **{k: round(v, 3) for k, v in run.running.items() if k.startswith("aux_")},
                 steps_per_s=round(steps_per_s, 3))
    _log(run.log_path, json.dumps(stats))
    return stats


def _save(run: _Run, stats: dict) -> None:
    save_checkpoint(run.ckpt_path, run.raw, run.optimizer, run.step, run.cfg, run.data,
                    dict(stats, train_seconds=run.train_seconds), _unwrapped(run.accelerator, run.vision),
                    _unwrapped(run.accelerator, run.binding))


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, max_seconds: Optional[float] = None) -> dict:
    """Run (or continue) training; returns the last logged stats and the model."""
    cfg.validate()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    run = _restore(cfg, resume)
    start_step = run.step
    gen = torch.Generator().manual_seed(cfg.seed * 7 + start_step + run.accelerator.process_index)
    if run.main:
        os.makedirs(cfg.run_dir, exist_ok=True)
        with open(os.path.join(cfg.run_dir, "config.json"), "w") as f:
            json.dump(asdict(cfg), f, indent=1)
        n_params = sum(p.numel() for p in run.raw.parameters())
        _log(run.log_path, f"start step {start_step}/{cfg.steps} recipe {cfg.recipe} params {n_params} resume={resume}")
    bar = None
    if progress and run.main:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start_step, dynamic_ncols=True, mininterval=2.0)
    stats: dict = {}
    t_start = last_save = t_last = time.time()
    run.model.train()
    while run.step < cfg.steps and cfg.progress(run.step, run.train_seconds) < 1.0:
        st = _step(run, gen)
        now = time.time()
        run.train_seconds += now - t_last
        t_last = now
        # time-based decisions (schedule, phase, stop) use the main process's clock on every process, or DDP hangs
        run.train_seconds, elapsed = _from_main(run.accelerator, run.train_seconds, now - t_start)
        stats = _log_step(run, st, (run.step - start_step) / max(elapsed, 1e-9), bar) or stats
        if run.main and cfg.eval_every and run.step % cfg.eval_every == 0:
            _quick_eval(run.raw, run.tokenizer, cfg, run.log_path, run.step)
            run.model.train()
        if run.main and (time.time() - last_save > cfg.checkpoint_minutes * 60 or run.step == cfg.steps):
            _save(run, stats)
            last_save = t_last = time.time()
        if max_seconds is not None and elapsed > max_seconds:
            break
    if bar is not None:
        bar.close()
    if run.main:
        _save(run, stats)
        _log(run.log_path, f"end step {run.step} train_seconds {run.train_seconds:.0f}")
    _close_processes(run.accelerator)
    return {"stats": stats, "model": run.raw, "tokenizer": run.tokenizer, "step": run.step}


def _close_processes(accelerator) -> None:
    """Under DDP, every process waits for the main one's last save, then the process group is closed: a process
    that exits while another still holds the group can abort in gloo's teardown."""
    if accelerator.num_processes == 1:
        return
    import torch.distributed as dist

    accelerator.wait_for_everyone()
    if dist.is_initialized():
        dist.destroy_process_group()


def _unwrapped(accelerator, head):
    return None if head is None else (accelerator.unwrap_model(head[0]), head[1])


def _from_main(accelerator, *values: float) -> tuple:
    """The main process's values on every process (a no-op for a single process)."""
    if accelerator.num_processes == 1:
        return values
    from accelerate.utils import broadcast

    t = broadcast(torch.tensor(values, dtype=torch.float64, device=accelerator.device), from_process=0)
    return tuple(float(v) for v in t.tolist())


def _log(path: str, line: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    with open(path, "a") as f:
        f.write(f"{stamp} {line}\n")


def _quick_eval(model, tokenizer, cfg: TrainConfig, log_path: str, step: int) -> None:
    from ..config import DecodeConfig
    from .evaluate import evaluate
    model.eval()
    proc = image_processor()
    dcfg = DecodeConfig(max_new_tokens=cfg.canvas_len, steps=cfg.canvas_len, alg_p_threshold=0.9, prefill=True)
    res = evaluate(model, (tokenizer, proc), cfg.eval_n, dcfg)
    _log(log_path, "eval " + json.dumps({"step": step, **{k: v for k, v in res.items() if k != "samples"}}))


def main(argv=None) -> int:
    cfg, args = parse_args(argv, prog="python -m dimple.tiny.train", description=__doc__.split("\n\n")[0])
    try:
        cfg.validate()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.export:
        path = os.path.join(cfg.run_dir, "last.pt")
        if not os.path.exists(path):
            print(f"error: no checkpoint at {path}", file=sys.stderr)
            return 2
        model, tokenizer, run_cfg, state = model_from_checkpoint(path)
        export(model, tokenizer, args.export, torch.bfloat16 if args.dtype == "bf16" else torch.float16,
               canvas=run_cfg.canvas_len)  # the card's canvas: the one the run trained on
        print(f"exported step {state['step']} of {path} to {args.export}")
        return 0
    out = train(cfg, resume=args.resume, progress=not args.no_progress, max_seconds=args.max_seconds)
    if out["stats"]:  # the main process's last stats (other processes log nothing)
        print(json.dumps(out["stats"]))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
