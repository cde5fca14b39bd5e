"""Does one committed shape spread to the other items of a description? The five-star check.

    python scripts/shape_copy.py MODEL [N]     # N held-out scenes of 3-6 objects (default 60), 96 slots

The failure it measures: "Describe the image." on objects_1.png names five stars, one of them right; once a
"star" is committed, the other items' shapes follow it. On N held-out scenes (the evaluation split, three or
more objects of two or three shapes), the canonical description is put on the canvas with every item's shape
word masked (places, sizes and colours given, the rest of the canvas filled), and one forward pass reads
the model's choice at each masked shape, in three conditions:

- **alone**: every shape masked: the shape must come from the item's place and colour (binding);
- **first right**: the first item's shape committed, correctly;
- **first wrong**: the first item's shape committed as a shape no object of the scene has.

For the other items it reports how many are read right, and the **copy rate**: the share whose choice is the
first item's shape (committed or, alone, its true one) although their own shape differs. If committing one
shape raises the copy rate above its level alone, committed shapes spread, which is what parallel decoding
then amplifies (docs/tiny3.md).
"""

from __future__ import annotations

import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CANVAS = 96  # Tiny 3's training canvas
CONDITIONS = ("alone", "first right", "first wrong")


def held_out_scenes(n: int) -> list:
    """Samples of the evaluation split whose scene has >= 3 objects of >= 2 shapes but not all of them (the
    wrong shape is one no object has), with their describe answer."""
    from dimple.tiny import world

    out, start = [], 0
    while len(out) < n:
        for seed in world.split_seeds("eval", 200, start):
            sample = world.make_sample(seed, "describe", n_objects=random.Random(seed).randint(3, 6))
            if 2 <= len({o.shape for o in sample.scene.objects}) < len(world.SHAPES):  # a shape is left to be wrong
                out.append(sample)
        start += 200
    return out[:n]


def shape_positions(tokenizer, ids: list) -> list:
    """Canvas indices of the shape words, in order (one per item)."""
    from dimple.tiny.world import SHAPES

    return [i for i, t in enumerate(ids) if tokenizer.decode([t]).strip() in SHAPES]


def read_shapes(assistant, sample, condition: str) -> tuple[list, list, str]:
    """(true shapes, chosen shapes, the first item's committed shape) of one scene under a condition."""
    from int4_calibration import canvas_logits
    from dimple.processing import encode_prompt
    from dimple.tiny.world import SHAPES

    tok = assistant.tokenizer
    answer = tok(sample.answer, add_special_tokens=False)["input_ids"][:CANVAS]
    canvas = answer + [assistant.eos_token_id] * (CANVAS - len(answer))
    where = shape_positions(tok, canvas)
    truth = [tok.decode([canvas[i]]).strip() for i in where]
    first = truth[0] if condition != "first wrong" else next(s for s in SHAPES if s not in truth)
    for k, i in enumerate(where):
        canvas[i] = assistant.mask_token_id if k or condition == "alone" else tok.convert_tokens_to_ids(first)
    enc = encode_prompt(tok, assistant.image_processor, sample.question, sample.image)
    item = {"input_ids": torch.cat([enc["input_ids"][0], torch.tensor(canvas)]).unsqueeze(0),
            "pixel_values": enc["pixel_values"], "image_grid_thw": enc["image_grid_thw"], "canvas": CANVAS}
    logits = canvas_logits(assistant.model, item)
    shape_ids = [tok.convert_tokens_to_ids(s) for s in SHAPES]
    chosen = [SHAPES[int(logits[i, shape_ids].argmax())] for i in where]
    return truth, chosen, first


def main(argv=None) -> int:
    from dimple.assistant import Assistant

    args = sys.argv[1:] if argv is None else argv
    assistant = Assistant.load(args[0])
    samples = held_out_scenes(int(args[1]) if len(args) > 1 else 60)
    for condition in CONDITIONS:
        right = copied = others = different = 0
        for sample in samples:
            truth, chosen, first = read_shapes(assistant, sample, condition)
            for want, got in zip(truth[1:], chosen[1:]):
                others += 1
                right += got == want
                if want != first:
                    different += 1
                    copied += got == first
        print(f"{condition:12s} other items right {right}/{others} ({right / others:.3f}); copied the first "
              f"item's shape {copied}/{different} ({copied / max(1, different):.3f})")
    return 0


if __name__ == "__main__":  # run as a script, its own folder is on the path (int4_calibration)
    raise SystemExit(main())
