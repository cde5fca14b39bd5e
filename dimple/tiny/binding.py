"""Binding supervision of long answers during Dimple-Tiny training.

A description decoded in parallel can bind one object's colour and shape to
another object's place (docs/tiny3.md, session 23: of the ninth run's wrong
items, most carried a size, colour and shape that no object of the scene
has), while the same words teacher-forced are right every time. The words of
one item must come from one image cell, and nothing in the answer loss says
which cell a masked word is about. The world knows it, so during training a
linear head reads, from the hidden state (one decoder layer's output,
`TrainConfig.binding_layer`) at each answer word that names an object, the
cell of that object:

- an object is named by "[size word] colour shape" (singular shape, so a
  plural count such as "two red stars" names no one object);
- the mention's words (size, colour, shape) all target the cell of the one
  object of the scene with those attributes; a mention that fits no object,
  or more than one, targets nothing.

As in the answer loss, the hidden state at position i - 1 reads token i, and
in the diffusion phase only masked words are scored (a visible word is read
off its own token). The head lives only here and in training checkpoints;
the exported model is the plain Dimple architecture. It knows the world's
vocabulary and a fast tokenizer's character offsets; nothing of the model's
internals beyond the module whose output it taps.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import world
from .forms import SIZE_WORDS
from .vision_heads import OutputTap

IGNORE = -100
N_CELLS = len(world.POSITIONS)
_SIZE_OF = {w: size for size, words in SIZE_WORDS.items() for w in words}  # synonym -> world size
_MENTION = re.compile(r"\b(?:(%s)\s+)?(%s)\s+(%s)\b(?!s)" % (
    "|".join(_SIZE_OF), "|".join(world.COLOR_NAMES), "|".join(world.SHAPES)), re.IGNORECASE)


def mention_spans(text: str, scene: world.Scene) -> list[tuple[int, int, int]]:
    """(start, end, cell) character spans of the objects `text` names, each the one object of `scene` whose
    colour, shape and (when the mention gives it) size it names."""
    spans = []
    for m in _MENTION.finditer(text):
        size_word, color, shape = (g.lower() if g else g for g in m.groups())
        fits = [o for o in scene.objects if o.color == color and o.shape == shape
                and (size_word is None or o.size == _SIZE_OF[size_word])]
        if len(fits) == 1:
            spans.append((m.start(), m.end(), fits[0].cell))
    return spans


def token_cells(offsets: list[tuple[int, int]], spans: list[tuple[int, int, int]]) -> list[int]:
    """Per token (character offsets into the text), the cell of the mention it overlaps, or IGNORE. A token that
    is only the space before a mention's first word does not count."""
    out = []
    for start, end in offsets:
        cell = IGNORE
        for s, e, c in spans:
            if max(start, s) < min(end, e):  # the token holds a character of the mention
                cell = c
                break
        out.append(cell)
    return out


def answer_cells(tokenizer, text: str, scene: world.Scene) -> list[int]:
    """The binding targets of `text`'s tokens, as the tokenizer encodes it without special tokens."""
    spans = mention_spans(text, scene)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    if not spans:
        return [IGNORE] * len(enc["input_ids"])
    return token_cells(enc["offset_mapping"], spans)


class BindingHead(nn.Module):
    """A linear read-out of the cell an answer word is about, from the hidden state at the position that predicts
    it."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.proj = nn.Linear(hidden_size, N_CELLS)

    def forward(self, hidden: torch.Tensor, cells: torch.Tensor, scored: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """hidden (b, L, h) hidden states, cells (b, L) targets (IGNORE: none), scored (b, L) positions the
        answer loss scores -> (loss, {"aux_bind": accuracy}). Hidden state i reads token i + 1's cell."""
        keep = scored[:, 1:] & (cells[:, 1:] != IGNORE)
        logits = self.proj(hidden[:, :-1].float())
        if not bool(keep.any()):  # still part of the graph: data-parallel training expects every gradient
            return 0.0 * logits.sum(), {}
        logits, y = logits[keep], cells[:, 1:][keep]
        loss = F.cross_entropy(logits, y)
        return loss, {"aux_bind": float((logits.argmax(-1) == y).float().mean())}


def _features(model, tokenizer, seeds: list[int], ratio: float, seed: int, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(hidden states, cells) of the masked object words of one description per scene of `seeds`, its answer
    masked at `ratio` (each response position independently), read from the output of `model`'s decoder layer
    `layer`."""
    import random

    from .data import Item, WorldData, image_to_uint8
    from .forms import describe
    from .train_config import TrainConfig

    data = WorldData(TrainConfig(pool_per_kind=8, binding_aux_weight=1.0), tokenizer, seed=seed)
    rng, gen = random.Random(seed), torch.Generator().manual_seed(seed)
    tap = OutputTap(model.model.layers[layer], "hidden states")
    feats, cells = [], []
    for start in range(0, len(seeds), 32):
        items = []
        for s in seeds[start:start + 32]:
            sample = world.make_sample(s, "describe")
            text = describe(sample.scene.objects, rng)
            prompt = data.prompt_ids(sample.question)
            ids = prompt + data.encode(text) + [data.ids["eos"]]
            items.append(Item(ids, len(prompt), image_to_uint8(world.model_view(sample.image)), "describe", [], [],
                              answer_cells(tokenizer, text, sample.scene)))
        batch = data.collate(items)
        masked = (torch.rand(batch["input_ids"].shape, generator=gen) < ratio) & batch["labels_mask"]
        fed = torch.where(masked, torch.full_like(batch["input_ids"], data.ids["mask"]), batch["input_ids"])
        with torch.no_grad():
            model(input_ids=fed, attention_mask=batch["attention_mask"], pixel_values=batch["pixel_values"],
                  image_grid_thw=batch["image_grid_thw"], position_ids=batch["position_ids"])
        hidden, target = tap.take()[:, :-1].float(), batch["answer_cells"][:, 1:]
        keep = masked[:, 1:] & (target != IGNORE)
        feats.append(hidden[keep])
        cells.append(target[keep])
    tap.close()
    return torch.cat(feats), torch.cat(cells)


def probe(model, tokenizer, ratios=(0.25, 0.5, 0.75, 1.0), n_train: int = 1024, n_test: int = 256,
          steps: int = 300, seed: int = 0, layer: int = -1) -> dict:
    """How well a linear head reads each masked object word's cell from a model's frozen hidden states (decoder
    layer `layer`'s output), per mask ratio of the answer: trained on descriptions of `n_train` training scenes,
    scored on `n_test` held-out ones (the evaluation split). High where the model already knows which object a
    masked word is about."""
    out = {}
    for ratio in ratios:
        x, y = _features(model, tokenizer, world.split_seeds("train", n_train), ratio, seed, layer)
        tx, ty = _features(model, tokenizer, world.split_seeds("eval", n_test), ratio, seed + 1, layer)
        torch.manual_seed(seed)
        head = BindingHead(x.shape[-1])
        opt = torch.optim.AdamW(head.parameters(), lr=3e-3)
        for _ in range(steps):
            loss = F.cross_entropy(head.proj(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            out[f"masked {ratio:.2f}"] = round(float((head.proj(tx).argmax(-1) == ty).float().mean()), 3)
        out[f"words {ratio:.2f}"] = int(len(ty))
    return out


if __name__ == "__main__":  # pragma: no cover
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m dimple.tiny.binding",
                                description="A linear probe of which object a model's masked answer words are about.")
    p.add_argument("model", help="a model folder or a training checkpoint (.pt)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layer", type=int, default=-1, help="the decoder layer whose output is read (negative: from the last)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from .checkpoint import probe_target

    net, tok = probe_target(args.model)
    print(json.dumps(probe(net.float().eval(), tok, layer=args.layer)))
