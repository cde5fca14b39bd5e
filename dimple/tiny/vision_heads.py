"""Dense auxiliary supervision of the vision tower during Dimple-Tiny training.

Answers alone teach the vision tower slowly and unevenly: the shipped
weights of step 24,119 encoded colour and size perfectly but shape barely
above chance (a probe on its frozen image tokens: 0.31 over four shapes),
which capped every question that names a shape. The world knows what each
merged image token sees, so a few linear heads read it back from the image
tokens (the output of `DimpleModel.image_features`) during training:

- every image: per cell, which cell the token is (a value vector that knows its
  place is what "Where is ...?" answers read; rotary positions only steer
  attention, and a probe found the shipped tokens barely knew their cell: 0.25);
- objects scenes: per cell (one merged token each), shape / colour / size or "empty";
- charts: per column (its three tokens side by side), the bar's label and value;
- text scenes: per row (its three tokens side by side), the word or "none".

The heads live only here and in training checkpoints; the exported model is
the plain Dimple architecture. The same heads, trained on a model's frozen
image tokens, are a probe of what its vision tower encodes:
`python -m dimple.tiny.vision_heads --model tiny`. It knows the world's vocabulary and the 3x3
token layout; nothing of the language model, the tokenizer or the optimiser.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import world

SIDE = 3  # merged image tokens per side: one per cell
IGNORE = -100
# (name, number of classes, where it reads, slots): slots are consecutive entries of the target row.
GROUPS = (
    ("where", SIDE * SIDE, "cell", SIDE * SIDE),
    ("shape", len(world.SHAPES) + 1, "cell", SIDE * SIDE),
    ("color", len(world.COLOR_NAMES) + 1, "cell", SIDE * SIDE),
    ("size", len(world.SIZES) + 1, "cell", SIDE * SIDE),
    ("bar_label", len(world.BAR_LABELS), "column", SIDE),
    ("bar_value", 9, "column", SIDE),
    ("word", len(world.WORDS) + 1, "row", SIDE),
)
N_TARGETS = sum(g[3] for g in GROUPS)


def scene_targets(scene: world.Scene) -> list[int]:
    """The N_TARGETS class indices a scene's image tokens should reveal (IGNORE where a group does not apply)."""
    out = {name: [IGNORE] * slots for name, _, _, slots in GROUPS}
    out["where"] = list(range(SIDE * SIDE))
    if scene.kind == "objects":
        out["shape"] = [len(world.SHAPES)] * 9
        out["color"] = [len(world.COLOR_NAMES)] * 9
        out["size"] = [len(world.SIZES)] * 9
        for o in scene.objects:
            out["shape"][o.cell] = world.SHAPES.index(o.shape)
            out["color"][o.cell] = world.COLOR_NAMES.index(o.color)
            out["size"][o.cell] = world.SIZES.index(o.size)
    elif scene.kind == "chart":
        for i, (label, value, _) in enumerate(scene.bars):
            out["bar_label"][i] = world.BAR_LABELS.index(label)
            out["bar_value"][i] = value - 1
    elif scene.kind == "text":
        out["word"] = [len(world.WORDS)] * SIDE
        for row, word, _ in scene.words:
            out["word"][row] = world.WORDS.index(word)
    return [v for name, _, _, _ in GROUPS for v in out[name]]


def _views(tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    """(batch, 9, hidden) image tokens -> per cell (b, 9, h), per column and per row (b, 3, 3h)."""
    b, _, h = tokens.shape
    grid = tokens.reshape(b, SIDE, SIDE, h)  # row-major, as the image tokens are laid out
    return {"cell": tokens, "row": grid.reshape(b, SIDE, SIDE * h),
            "column": grid.transpose(1, 2).reshape(b, SIDE, SIDE * h)}


class DenseVisionHeads(nn.Module):
    """Linear read-outs of the image tokens, one per target group."""

    def __init__(self, hidden_size: int):
        super().__init__()
        width = {"cell": hidden_size, "row": SIDE * hidden_size, "column": SIDE * hidden_size}
        self.heads = nn.ModuleDict({name: nn.Linear(width[where], n) for name, n, where, _ in GROUPS})

    def forward(self, image_tokens: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """image_tokens (batch * 9, hidden), targets (batch, N_TARGETS) -> (loss, accuracy per group)."""
        b = targets.shape[0]
        if image_tokens.shape[0] != b * SIDE * SIDE:
            raise ValueError(f"expected {b * SIDE * SIDE} image tokens (3x3 per image), got {image_tokens.shape[0]}")
        views = _views(image_tokens.float().reshape(b, SIDE * SIDE, -1))
        loss = image_tokens.new_zeros((), dtype=torch.float32)
        stats, start = {}, 0
        for name, _, where, slots in GROUPS:
            y = targets[:, start:start + slots].reshape(-1)
            start += slots
            keep = y != IGNORE
            logits = self.heads[name](views[where]).reshape(b * slots, -1)
            if not bool(keep.any()):  # still part of the graph: data-parallel training expects every gradient
                loss = loss + 0.0 * logits.sum()
                continue
            logits = logits[keep]
            loss = loss + F.cross_entropy(logits, y[keep])
            stats[f"aux_{name}"] = float((logits.argmax(-1) == y[keep]).float().mean())
        return loss, stats


class OutputTap:
    """Keeps the last output of one module of the model (for an auxiliary loss on it)."""

    def __init__(self, module, what: str):
        self.tokens, self.what = None, what
        self._handle = module.register_forward_hook(self._keep)

    def _keep(self, _module, _inputs, output):
        self.tokens = output

    def take(self) -> torch.Tensor:
        tokens, self.tokens = self.tokens, None
        if tokens is None:
            raise RuntimeError(f"the model computed no {self.what} in this forward")
        return tokens

    def close(self) -> None:
        self._handle.remove()


class ImageTokenTap(OutputTap):
    """Keeps the last output of the model's image projector (its image tokens) for the auxiliary loss."""

    def __init__(self, model):
        super().__init__(model.img_projector, "image tokens")


def probe(model, n_train: int = 3000, n_test: int = 600, steps: int = 400, seed: int = 0) -> dict:
    """How well linear heads read each group from a model's frozen image tokens: the heads are trained on
    `n_train` fresh scenes (objects, charts and words in turn) and scored on `n_test` others."""
    import random

    from .data import image_to_uint8, pixels_of

    makers = (world.random_objects_scene, world.random_chart_scene, world.random_text_scene)
    rng = random.Random(seed)
    scenes = [makers[i % 3](rng) for i in range(n_train + n_test)]
    images = torch.stack([image_to_uint8(world.model_view(world.render(s))) for s in scenes])
    targets = torch.tensor([scene_targets(s) for s in scenes])
    with torch.no_grad():
        tokens = torch.cat([model.image_features(*pixels_of(images[i:i + 256])).float()
                            for i in range(0, len(scenes), 256)]).reshape(len(scenes), SIDE * SIDE, -1)
    torch.manual_seed(seed)
    heads = DenseVisionHeads(tokens.shape[-1])
    opt = torch.optim.AdamW(heads.parameters(), lr=3e-3)
    for _ in range(steps):
        idx = torch.randint(0, n_train, (256,))
        loss, _ = heads(tokens[idx].reshape(-1, tokens.shape[-1]), targets[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        _, stats = heads(tokens[n_train:].reshape(-1, tokens.shape[-1]), targets[n_train:])
    return {k.removeprefix("aux_"): round(v, 3) for k, v in stats.items()}


if __name__ == "__main__":  # pragma: no cover
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m dimple.tiny.vision_heads",
                                description="Linear probes of a model's image tokens (what its vision tower encodes).")
    p.add_argument("--model", default="tiny", help="'tiny', a model folder, or a training checkpoint (.pt)")
    args = p.parse_args()
    torch.set_num_threads(2)
    from .checkpoint import probe_target

    net = probe_target(args.model)[0]
    print(json.dumps(probe(net.float().eval())))
