"""Training batches for Dimple-Tiny: scene pools, stages and the answer padding Dimple supervises.

Owns the data pipeline of `python -m dimple.tiny.train`: a pool of pre-rendered
scenes per kind held as uint8 tensors (part replaced by fresh scenes now and
then), questions drawn per step, the stages (a dense vision warm-up, a
one-or-two-object curriculum, then the whole world), batches grouped by length
and patchified in one vectorised call, and the multimodal rotary positions of
the shared layout. Answers are followed by `<|im_end|>` and a random number of
`<|endoftext|>` pads, all supervised: that is what teaches where an answer ends.

It knows the world, the tokenizer's special tokens and the processor's patch
layout; nothing of the model, the loss or the optimiser.
"""

from __future__ import annotations

import random
from typing import Optional

import torch

from . import world
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


class ScenePool:
    """Pre-rendered scenes of one kind as a uint8 tensor, part replaced by fresh ones now and then."""

    def __init__(self, make, size: int, rng: random.Random):
        self.make, self.rng = make, rng
        self.scenes = [make(rng) for _ in range(size)]
        self.images = torch.stack([image_to_uint8(world.model_view(world.render(s))) for s in self.scenes])

    def refresh(self, count: int) -> None:
        for _ in range(count):
            i = self.rng.randrange(len(self.scenes))
            self.scenes[i] = self.make(self.rng)
            self.images[i] = image_to_uint8(world.model_view(world.render(self.scenes[i])))

    def pick(self, rng: random.Random) -> int:
        return rng.randrange(len(self.scenes))


class WorldData:
    """Batches of (image, prompt, answer) drawn from scene pools, as training tensors."""

    # Category weights after the curriculum (long, exact answers and binding questions get more).
    MIX = {"describe": 1.5, "count": 1.0, "exists": 1.0, "attribute": 1.5, "position": 1.5, "ocr": 1.0,
           "chart": 1.5, "structured": 1.5, "cells": 0.5}

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
        enc = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
        self._enc = enc
        self.prefix = enc("<|im_start|>user\n") + [self.ids["vision_start"]] + [self.ids["image"]] * N_IMAGE_TOKENS + [self.ids["vision_end"]]
        self.suffix = enc("<|im_end|>\n<|im_start|>assistant\n")
        self._cache: dict[str, list[int]] = {}
        self.steps_since_refresh = 0
        self.bucket = 4  # batches drawn at once and grouped by length
        self._queue: list = []

    def encode(self, text: str) -> list[int]:
        ids = self._cache.get(text)
        if ids is None:
            ids = self._cache[text] = self._enc(text)
        return ids

    # --- stage logic
    def stage(self, step: int) -> str:
        if step < self.cfg.vision_warmup_steps:
            return "warmup"
        if step < self.cfg.curriculum_steps:
            return "curriculum"
        return "full"

    def draw(self, step: int) -> tuple[str, str, str, torch.Tensor, world.Scene]:
        """(category, question, answer, image uint8, scene) for one training sample at `step`."""
        rng, stage = self.rng, self.stage(step)
        if stage == "warmup":
            r = rng.random()
            if r < 0.6:
                cat, kind = "cells", f"objects{rng.randint(1, world.MAX_OBJECTS)}"
            elif r < 0.8:
                cat, kind = "ocr", "text"
            else:
                cat, kind = "chart", "chart"
        else:
            cats = [c for c, w in self.mix.items() if w > 0 and (stage == "full" or c not in ("ocr", "chart"))]
            cat = rng.choices(cats, weights=[self.mix[c] for c in cats])[0]
            if cat == "ocr":
                kind = "text"
            elif cat == "chart":
                kind = "chart"
            else:
                top = self.cfg.curriculum_objects if stage == "curriculum" else world.MAX_OBJECTS
                if cat in ("describe", "structured"):
                    top = min(top, world.MAX_LIST_OBJECTS)
                kind = f"objects{rng.randint(1, top)}"
        pool = self.pools[kind]
        i = pool.pick(rng)
        scene = pool.scenes[i]
        if stage == "warmup" and cat != "cells":
            q, a = ("Read the text.", " ".join(w for _, w, _ in scene.words)) if cat == "ocr" else (
                "Describe the chart.", ", ".join(f"{lb}: {v}" for lb, v, _ in scene.bars))
        else:
            q, a = world.ask(scene, cat, rng)
        return cat, q, a, pool.images[i], scene

    def maybe_refresh(self) -> None:
        self.steps_since_refresh += 1
        if self.cfg.pool_refresh_every and self.steps_since_refresh >= self.cfg.pool_refresh_every:
            self.steps_since_refresh = 0
            for pool in self.pools.values():
                pool.refresh(self.cfg.pool_refresh_count)

    def sample(self, step: int) -> tuple[list[int], int, torch.Tensor, str, list[int]]:
        """(token ids of prompt + answer + end + pads, response start, image uint8, category,
        what the image tokens should reveal: `vision_heads.scene_targets`)."""
        cfg, rng = self.cfg, self.rng
        cat, q, a, img, scene = self.draw(step)
        prompt = self.prefix + self.encode(q) + self.suffix
        answer = self.encode(a) + [self.ids["eos"]]
        if rng.random() < cfg.long_pad_prob:
            n_pad = max(0, cfg.canvas_len - len(answer))
        else:
            n_pad = rng.randint(0, cfg.max_pad)
        return prompt + answer + [self.ids["pad"]] * n_pad, len(prompt), img, cat, scene_targets(scene)

    def batch(self, step: int, batch_size: Optional[int] = None) -> dict:
        """Right-padded batch: input_ids, attention_mask, labels_mask (supervised response positions),
        pixel_values, image_grid_thw, position_ids, categories, scene_targets (batch, N_TARGETS). Samples are drawn `bucket` batches at a
        time and grouped by length, so that short answers are not padded to the longest ones."""
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
        for r, (seq, start, *_rest) in enumerate(items):
            input_ids[r, : len(seq)] = torch.tensor(seq)
            attention_mask[r, : len(seq)] = 1
            labels_mask[r, start : len(seq)] = True
        pv, grid = pixels_of(torch.stack([x[2] for x in items]))
        return dict(input_ids=input_ids, attention_mask=attention_mask, labels_mask=labels_mask,
                    pixel_values=pv, image_grid_thw=grid, position_ids=self.position_ids(b, length),
                    categories=[x[3] for x in items], scene_targets=torch.tensor([x[4] for x in items]))

    def position_ids(self, b: int, length: int) -> torch.Tensor:
        """Multimodal rotary positions for the shared layout (text, 6x6 image, text), (3, b, length)."""
        n_before = len(self.prefix) - N_IMAGE_TOKENS - 1  # text tokens up to and including <|vision_start|>
        pos = torch.arange(length).repeat(3, 1)
        hh, ww = torch.meshgrid(torch.arange(MERGED_SIDE), torch.arange(MERGED_SIDE), indexing="ij")
        img = slice(n_before, n_before + N_IMAGE_TOKENS)
        pos[0, img] = n_before
        pos[1, img] = n_before + hh.reshape(-1)
        pos[2, img] = n_before + ww.reshape(-1)
        after = n_before + N_IMAGE_TOKENS
        pos[:, after:] = torch.arange(length - after) + n_before + MERGED_SIDE
        return pos[:, None, :].expand(3, b, length).contiguous()
