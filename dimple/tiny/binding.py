"""Binding supervision of long answers during Dimple-Tiny training.

A description decoded in parallel can bind one object's colour and shape to
another object's place (docs/tiny3.md, session 23: of the ninth run's wrong
items, most carried a size, colour and shape that no object of the scene
has), while the same words teacher-forced are right every time. The words of
one item must come from one image cell, and nothing in the answer loss says
which cell a masked word is about. The world knows it, so during training a
linear head reads, from the language model's last hidden state at each
answer word that names an object, the cell of that object:

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
    """A linear read-out of the cell an answer word is about, from the hidden state that predicts it."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.proj = nn.Linear(hidden_size, N_CELLS)

    def forward(self, hidden: torch.Tensor, cells: torch.Tensor, scored: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """hidden (b, L, h) last hidden states, cells (b, L) targets (IGNORE: none), scored (b, L) positions the
        answer loss scores -> (loss, {"aux_bind": accuracy}). Hidden state i reads token i + 1's cell."""
        keep = scored[:, 1:] & (cells[:, 1:] != IGNORE)
        logits = self.proj(hidden[:, :-1].float())
        if not bool(keep.any()):  # still part of the graph: data-parallel training expects every gradient
            return 0.0 * logits.sum(), {}
        logits, y = logits[keep], cells[:, 1:][keep]
        loss = F.cross_entropy(logits, y)
        return loss, {"aux_bind": float((logits.argmax(-1) == y).float().mean())}
