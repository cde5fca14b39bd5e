"""Training batches for Dimple-Tiny: scene pools, stages and the answer padding Dimple supervises.

Owns the data pipeline of `python -m dimple.tiny.train`: a pool of pre-rendered
scenes per kind held as uint8 tensors (part replaced by fresh scenes now and
then), questions drawn per step, the stages (a dense vision warm-up, a
one-or-two-object curriculum, then the whole world), batches grouped by length
and patchified in one vectorised call, and the multimodal rotary positions of
the shared layout. Answers are followed by `<|im_end|>` and a random number of
`<|endoftext|>` pads, all supervised: that is what teaches where an answer ends.
Every answer is said in one of its valid forms (`forms.vary`), drawn at random,
so that no form is canonical (Tiny 3).

It knows the world, the tokenizer's special tokens and the processor's patch
layout; nothing of the model, the loss or the optimiser.
"""

from __future__ import annotations

import random
from typing import NamedTuple, Optional

import torch

from dimple.processing import IMAGE_PLACEHOLDER, chat_prompt, expand_image_tokens
from dimple.structure import build_canvas

from . import binding, dialogue, forms, nonworld, presets, replies, templates, world
from .tokenizer import special_ids
from .vision_heads import scene_targets

MERGED_SIDE = world.MODEL_IMAGE_SIZE // 28  # 3 merged image tokens per side: one per cell
N_IMAGE_TOKENS = MERGED_SIDE * MERGED_SIDE


def image_to_uint8(img) -> torch.Tensor:
    import numpy as np

    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1).copy())


def pixels_of(images_uint8: torch.Tensor):
    """uint8 (B, 3, 84, 84) -> pixel_values (B*36, 1176), image_grid_thw (B, 3), as the processor makes them."""
    from ..processing import normalize_uint8, patchify

    pv, (gh, gw) = patchify(normalize_uint8(images_uint8))
    grid = torch.tensor([[1, gh, gw]], dtype=torch.long).expand(images_uint8.shape[0], 3).contiguous()
    return pv, grid


def parse_mix(text: str) -> dict[str, float]:
    """"exists=3,position=2.5" -> {"exists": 3.0, "position": 2.5}; names from WorldData.MIX, weights >= 0."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = part.partition("=")
        name = name.strip()
        if not sep or name not in WorldData.MIX:
            raise ValueError(f"mix entries are category=weight with a category of {', '.join(WorldData.MIX)}: {part!r}")
        out[name] = float(weight)
        if not out[name] >= 0:
            raise ValueError(f"mix weights must be >= 0: {part!r}")
    return out


# Long answers about busy pictures bind an attribute to the wrong object most often, so these categories may draw
# a picture with one of the BUSY_SPAN largest object counts more often (TrainConfig.busy_share).
BUSY_CATEGORIES = ("describe", "structured", "visitor", "conversation", "choice", "size")
BUSY_SPAN = 3
# The scene each category asks about: the canonical ones' (world.SCENE_KIND), and "choice" and "size" pick among
# objects; the other visitor categories draw a scene kind at random.
CATEGORY_SCENE = {**world.SCENE_KIND, "choice": "objects", "size": "objects"}
# The question kinds of the categories that draw from a subset of dialogue's kinds: "choice" picks objects; "size"
# is its size filter alone ("how many big things?", "which one is the biggest?"), which the ninth run still lacked
# (docs/tiny3.md); off (weight 0) unless a run's --mix asks for it, so earlier runs' commands draw as before.
KIND_SUBSETS = {"choice": dialogue.CHOICE_KINDS, "size": ("count_size", "comparison")}


class Item(NamedTuple):
    """One training sequence before batching."""

    ids: list[int]  # prompt + answer + <|im_end|> + pads (or a template's canvas)
    start: int  # where the response starts
    image: torch.Tensor  # uint8 picture
    category: str
    scene_targets: list[int]  # what the image tokens should reveal (vision_heads.scene_targets)
    fixed: list[int]  # a template's fixed response positions (given, not supervised)
    cells: list[int]  # per response token, the cell of the object it names (binding.answer_cells), or empty


class ScenePool:
    """Pre-rendered scenes of one kind as a uint8 tensor, part replaced by fresh ones now and then.
    `draw(scene, rng)` makes the picture (the world's renderer unless given)."""

    def __init__(self, make, size: int, rng: random.Random, draw=None):
        self.make, self.rng = make, rng
        self.draw = draw or (lambda scene, _rng: world.render(scene))
        self.scenes = [make(rng) for _ in range(size)]
        self.images = torch.stack([self._image(s) for s in self.scenes])

    def _image(self, scene) -> torch.Tensor:
        return image_to_uint8(world.model_view(self.draw(scene, self.rng)))

    def refresh(self, count: int) -> None:
        for _ in range(count):
            i = self.rng.randrange(len(self.scenes))
            self.scenes[i] = self.make(self.rng)
            self.images[i] = self._image(self.scenes[i])

    def pick(self, rng: random.Random) -> int:
        return rng.randrange(len(self.scenes))


class WorldData:
    """Batches of (image, conversation, answer) drawn from scene pools, as training tensors."""

    # Category weights after the curriculum. The canonical templates (world.ask) keep the evaluation's
    # questions; visitor phrasings, conversations, replies outside the world and presets are Tiny 2's.
    MIX = {"describe": 1.0, "count": 0.8, "exists": 0.8, "attribute": 1.0, "position": 1.0, "ocr": 0.6,
           "chart": 0.8, "structured": 1.0, "cells": 0.2, "visitor": 4.0, "conversation": 2.5, "offworld": 0.8,
           "nonworld": 1.0, "preset": 1.6, "template": 1.6, "choice": 0.5, "size": 0.0}
    VISITOR_CATEGORIES = ("visitor", "conversation", "offworld", "nonworld", "preset", "template", "choice", "size")

    def __init__(self, cfg, tokenizer, seed: Optional[int] = None):  # cfg: train.TrainConfig
        self.cfg = cfg
        self.mix = {**self.MIX, **parse_mix(getattr(cfg, "mix", ""))}
        self.tok = tokenizer
        self.ids = special_ids(tokenizer)
        self.rng = random.Random(cfg.seed if seed is None else seed)
        pool_rng = random.Random((cfg.seed if seed is None else seed) + 12345)
        n = cfg.pool_per_kind
        self.pools = {f"objects{k}": ScenePool(lambda r, k=k: world.random_objects_scene(r, n_objects=k), n, pool_rng)
                      for k in range(1, world.MAX_OBJECTS + 1)}
        self.pools["text"] = ScenePool(world.random_text_scene, n, pool_rng)
        self.pools["chart"] = ScenePool(world.random_chart_scene, n, pool_rng)
        self.pools["nonworld"] = ScenePool(lambda r: world.Scene("nonworld"), max(8, n // 4), pool_rng,
                                           draw=lambda scene, r: nonworld.image(r, "train"))
        self._enc = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
        self.prefix = self._enc("<|im_start|>user\n" + IMAGE_PLACEHOLDER)  # where the image sits (position_ids)
        self._cache: dict[str, list[int]] = {}
        self.steps_since_refresh = 0
        self.bucket = 4  # batches drawn at once and grouped by length
        self._queue: list = []

    def encode(self, text: str) -> list[int]:
        ids = self._cache.get(text)
        if ids is None:
            ids = self._cache[text] = self._enc(text)
        return ids

    def prompt_ids(self, question: str, history=()) -> list[int]:
        """The prompt exactly as `processing.encode_prompt` makes it: the chat format, the image's tokens expanded."""
        return self._enc(expand_image_tokens(chat_prompt(question, history), [N_IMAGE_TOKENS]))

    # --- stage logic
    def stage(self, step: int) -> str:
        if step < self.cfg.vision_warmup_steps:
            return "warmup"
        if step < self.cfg.curriculum_steps:
            return "curriculum"
        return "full"

    def _category(self, stage: str) -> tuple[str, str]:
        rng = self.rng
        if stage == "warmup":
            r = rng.random()
            return ("cells", f"objects{rng.randint(1, world.MAX_OBJECTS)}") if r < 0.6 else (
                ("ocr", "text") if r < 0.8 else ("chart", "chart"))
        skip = ("ocr", "chart") + self.VISITOR_CATEGORIES if stage == "curriculum" else ()
        cats = [c for c, w in self.mix.items() if w > 0 and c not in skip]
        cat = rng.choices(cats, weights=[self.mix[c] for c in cats])[0]
        if cat == "nonworld":
            return cat, "nonworld"
        kind = CATEGORY_SCENE.get(cat) or rng.choice(("objects",) * 3 + ("text", "chart"))
        if kind != "objects":
            return cat, kind
        top = self.cfg.curriculum_objects if stage == "curriculum" else world.MAX_OBJECTS
        busy = cat in BUSY_CATEGORIES and rng.random() < self.cfg.busy_share
        return cat, f"objects{rng.randint(max(1, top - BUSY_SPAN + 1) if busy else 1, top)}"

    def draw(self, step: int):
        """(category, history, question, answer, image uint8, scene) for one sample at `step`; the answer is a
        string, or (template, fillings) for a structure-prior preset."""
        rng, stage = self.rng, self.stage(step)
        for _ in range(20):
            cat, pool_name = self._category(stage)
            pool = self.pools[pool_name]
            i = pool.pick(rng)
            scene = pool.scenes[i]
            got = self._ask(cat, scene, stage)
            if got is not None:
                return (cat, *got, pool.images[i], scene)
        raise RuntimeError("no question fits the drawn scenes")

    def _ask(self, cat: str, scene: world.Scene, stage: str):
        rng = self.rng
        if stage == "warmup" and cat != "cells":
            return (), *(("Read the text.", " ".join(w for _, w, _ in scene.words)) if cat == "ocr" else (
                "Describe the chart.", world.chart_answer(scene.bars)))
        if cat == "nonworld":
            return self._nonworld()
        say = lambda t: forms.vary(t.answer, t.facts, scene, rng)  # noqa: E731 (one of the answer's valid forms)
        if cat == "offworld":
            kind = rng.choice(replies.KINDS)
            history = [(t.question, say(t)) for t in dialogue.conversation(scene, rng)[:rng.randint(0, 2)]]
            return history, replies.text_of(kind, rng), replies.vary(replies.REPLIES[kind], rng)
        if cat == "visitor" or cat in KIND_SUBSETS:  # "choice", "size": only their kinds (KIND_SUBSETS)
            turn = dialogue.ask_any(scene, rng, kinds=KIND_SUBSETS.get(cat))
            return (), turn.question, say(turn)
        if cat == "conversation":
            turns = dialogue.conversation(scene, rng, last=rng.choice(("follow_up", "any")))
            return [(t.question, say(t)) for t in turns[:-1]], turns[-1].question, say(turns[-1])
        if cat in ("preset", "template"):  # a grammar template's slots are drawn 1-2x their filling
            got = presets.sample(scene, rng, vary=True) if cat == "preset" else templates.sample(scene, rng)
            if got is None:
                return None
            _, template, turn, fills = got
            return (), turn.question, (template, fills, cat == "template")
        got = world.ask_facts(scene, cat, rng)
        return (), got.question, forms.vary(got.answer, got.facts, scene, rng)

    def _nonworld(self):
        """(history, question, answer) for a picture not from the world: now and then a greeting or an off-world
        text, otherwise a world question (visitor or canonical wording) about a scene that is not in the picture."""
        rng = self.rng
        if rng.random() < 0.3:
            kind = rng.choice(replies.KINDS)
            return (), replies.text_of(kind, rng), replies.vary(replies.REPLIES[kind], rng)
        fake = world.random_objects_scene(rng) if rng.random() < 0.7 else world.random_chart_scene(rng)
        if rng.random() < 0.7:
            question = dialogue.ask_any(fake, rng).question
        else:
            category = rng.choice(("describe", "count", "exists", "position")) if fake.kind == "objects" else "chart"
            question = world.ask(fake, category, rng)[0]
        return (), question, replies.vary(replies.NONWORLD_IMAGE, rng)

    def maybe_refresh(self) -> None:
        self.steps_since_refresh += 1
        if self.cfg.pool_refresh_every and self.steps_since_refresh >= self.cfg.pool_refresh_every:
            self.steps_since_refresh = 0
            for pool in self.pools.values():
                pool.refresh(min(self.cfg.pool_refresh_count, len(pool.scenes)))

    def template_response(self, template: str, fills: list[str], grammar: bool = False) -> tuple[list[int], list[int]]:
        """(response ids, fixed positions) of a template: a grammar's slots are 1 to 2x their filling
        (`templates.slot_lengths`); a preset's half the time its own lengths, else random spare room; each slot
        holds its filling (or its start), then pads (the elastic slots)."""
        rng = self.rng
        fill_ids = [self.encode(f) for f in fills]
        if grammar:
            template = presets.with_slot_lengths(template, templates.slot_lengths([len(f) for f in fill_ids], rng))
        elif rng.random() < 0.5:
            template = presets.with_slot_lengths(template, [len(f) + rng.randint(0, 4) for f in fill_ids])
        canvas = build_canvas(template, self.tok, self.ids["mask"], self.ids["eos"], 4 * self.cfg.canvas_len)
        ids, slot = list(canvas.ids), 0
        i = 0
        while i < len(ids):
            if canvas.fixed[i]:
                i += 1
                continue
            j = i
            while j < len(ids) and not canvas.fixed[j]:
                j += 1
            filling = fill_ids[slot][: j - i]
            ids[i:j] = filling + [self.ids["pad"]] * (j - i - len(filling))
            slot, i = slot + 1, j
        return ids, [k for k, f in enumerate(canvas.fixed) if f]

    def sample(self, step: int) -> Item:
        """One sequence; the binding targets only when the run's binding loss is on (TrainConfig)."""
        cfg, rng = self.cfg, self.rng
        cat, history, q, a, img, scene = self.draw(step)
        prompt = self.prompt_ids(q, history)
        if isinstance(a, tuple):
            answer, fixed = self.template_response(*a)
            return Item(prompt + answer, len(prompt), img, cat, scene_targets(scene), fixed, [])
        answer = self.encode(a) + [self.ids["eos"]]
        if rng.random() < cfg.long_pad_prob:
            n_pad = max(0, cfg.canvas_len - len(answer))
        else:
            n_pad = rng.randint(0, cfg.max_pad)
        cells = binding.answer_cells(self.tok, a, scene) if cfg.binding_aux_weight > 0 else []
        return Item(prompt + answer + [self.ids["pad"]] * n_pad, len(prompt), img, cat, scene_targets(scene), [],
                    cells)

    def batch(self, step: int, batch_size: Optional[int] = None) -> dict:
        """Right-padded batch: input_ids, attention_mask, labels_mask (supervised response positions: a
        template's fixed tokens are given, not supervised), pixel_values, image_grid_thw, position_ids,
        categories, scene_targets (batch, N_TARGETS), answer_cells (batch, length: binding targets, IGNORE where
        none). Samples are drawn `bucket` batches at a time and grouped by length, so that short answers are not
        padded to the longest ones."""
        b = batch_size or self.cfg.batch_size
        if not self._queue or len(self._queue[0]) != b:
            pool = [self.sample(step) for _ in range(b * self.bucket)]
            pool.sort(key=lambda x: len(x[0]))
            self._queue = [pool[i * b:(i + 1) * b] for i in range(self.bucket)]
            self.rng.shuffle(self._queue)
        return self.collate(self._queue.pop())

    def collate(self, items) -> dict:
        b = len(items)
        length = max(len(x[0]) for x in items)
        input_ids = torch.full((b, length), self.ids["pad"], dtype=torch.long)
        attention_mask = torch.zeros((b, length), dtype=torch.long)
        labels_mask = torch.zeros((b, length), dtype=torch.bool)
        cells = torch.full((b, length), binding.IGNORE, dtype=torch.long)
        for r, item in enumerate(items):
            seq, start = item.ids, item.start
            input_ids[r, : len(seq)] = torch.tensor(seq)
            attention_mask[r, : len(seq)] = 1
            labels_mask[r, start : len(seq)] = True
            labels_mask[r, [start + k for k in item.fixed]] = False
            cells[r, start : start + len(item.cells)] = torch.tensor(item.cells, dtype=torch.long)
        pv, grid = pixels_of(torch.stack([x.image for x in items]))
        return dict(input_ids=input_ids, attention_mask=attention_mask, labels_mask=labels_mask,
                    pixel_values=pv, image_grid_thw=grid, position_ids=self.position_ids(b, length),
                    categories=[x.category for x in items], scene_targets=torch.tensor([x.scene_targets for x in items]),
                    answer_cells=cells)

    def position_ids(self, b: int, length: int) -> torch.Tensor:
        """Multimodal rotary positions for the shared layout (text, 6x6 image, text), (3, b, length)."""
        n_before = len(self.prefix) - 2  # text tokens up to and including <|vision_start|>
        pos = torch.arange(length).repeat(3, 1)
        hh, ww = torch.meshgrid(torch.arange(MERGED_SIDE), torch.arange(MERGED_SIDE), indexing="ij")
        img = slice(n_before, n_before + N_IMAGE_TOKENS)
        pos[0, img] = n_before
        pos[1, img] = n_before + hh.reshape(-1)
        pos[2, img] = n_before + ww.reshape(-1)
        after = n_before + N_IMAGE_TOKENS
        pos[:, after:] = torch.arange(length - after) + n_before + MERGED_SIDE
        return pos[:, None, :].expand(3, b, length).contiguous()
