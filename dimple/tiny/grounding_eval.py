"""How often Dimple-Tiny's grounding peaks on the object a question is about: `python -m dimple.tiny.grounding_eval --n 200`.

Owns the measurement behind the studio's grounding figure: questions about
one object of a drawn scene (its colour, its shape or its position, in the
phrasings of `world.ask`, with the object's cell known), answered by the
shipped model with its default decoding settings; for the first answer token
(the committed token that carries the answer: "red", "circle", "top") the
grounding (dimple.grounding, attention to the 3x3 image tokens) is computed
and its peak cell compared with the object's cell. Chance is 1/9. It prints
the rate overall, for correct answers, per question kind and per layer; with
`--json` the same as JSON. It reads whatever weights are shipped
(`--model tiny` by default) and knows nothing of the UI.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass

from . import world

KINDS = ("color", "shape", "position")


@dataclass
class ObjectQuestion:
    image: object  # PIL image
    question: str
    answer: str
    cell: int  # 0..8, reading order: the object's merged image token
    kind: str  # one of KINDS


def _questions_about(obj: world.Obj, objs: list[world.Obj]) -> list[tuple[str, str, str]]:
    """(kind, question, answer) pairs that single out `obj`, as world.ask phrases them."""
    out = [("color", f"What color is the object at the {obj.position}?", obj.color),
           ("shape", f"What shape is at the {obj.position}?", obj.shape)]
    if sum(o.shape == obj.shape for o in objs) == 1:
        out.append(("color", f"What color is the {obj.shape}?", obj.color))
    if sum(o.color == obj.color for o in objs) == 1:
        out.append(("shape", f"What shape is the {obj.color} object?", obj.shape))
    if sum(o.color == obj.color and o.shape == obj.shape for o in objs) == 1:
        out.append(("position", f"Where is the {obj.color} {obj.shape}?", obj.position))
    return out


def object_questions(n: int, seed: int = 0) -> list[ObjectQuestion]:
    """`n` one-object questions on eval-split scenes, the kinds in turn (colour, shape, position)."""
    out: list[ObjectQuestion] = []
    for i, scene_seed in enumerate(world.split_seeds("eval", n, start=500_000 + seed)):
        rng = random.Random(scene_seed)
        scene = world.random_objects_scene(rng)
        kind = KINDS[i % len(KINDS)]
        options = [(o, q, a) for o in scene.objects for k, q, a in _questions_about(o, scene.objects) if k == kind]
        if not options:  # every object has a twin: ask for a colour instead
            options = [(o, q, a) for o in scene.objects for k, q, a in _questions_about(o, scene.objects)]
        obj, question, answer = rng.choice(options)
        out.append(ObjectQuestion(world.render(scene), question, answer, obj.cell, kind))
    return out


def measure(assistant, questions: list[ObjectQuestion]) -> dict:
    """Localisation of the first answer token's grounding, overall, for correct answers, per kind and layer."""
    hits = correct_hits = n_correct = 0
    per_kind = {k: [0, 0] for k in KINDS}
    per_layer: list[int] = []
    shares, seconds = [], []
    for q in questions:
        traj = assistant.generate(q.image, q.question)
        t0 = time.perf_counter()
        g = assistant.ground(q.image, traj, 0)
        seconds.append(time.perf_counter() - t0)
        cols = len(g.grid[0])
        hit = g.peak[0] * cols + g.peak[1] == q.cell
        right = assistant.decode(traj.answer_ids).strip().lower() == q.answer.lower()
        hits += hit
        n_correct += right
        correct_hits += hit and right
        per_kind[q.kind][0] += hit
        per_kind[q.kind][1] += 1
        shares.append(g.image_share)
        for layer, grid in enumerate(g.layers):
            flat = [v for row in grid for v in row]
            if len(per_layer) <= layer:
                per_layer.append(0)
            per_layer[layer] += flat.index(max(flat)) == q.cell
    n = len(questions)
    return {"n": n, "peak_on_object": hits / n, "chance": 1 / 9, "answers_correct": n_correct / n,
            "peak_on_object_when_correct": correct_hits / n_correct if n_correct else None,
            "per_kind": {k: (h / m if m else None) for k, (h, m) in per_kind.items()},
            "per_layer": [h / n for h in per_layer], "image_share_mean": sum(shares) / n,
            "grounding_ms_mean": 1000 * sum(seconds) / n}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dimple.tiny.grounding_eval", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=200, help="questions (the kinds in turn)")
    p.add_argument("--model", default="tiny", help="the shipped Dimple-Tiny, or a folder of a checkpoint of its world")
    p.add_argument("--seed", type=int, default=0, help="offset into the eval split's scenes")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be at least 1")
    from ..assistant import Assistant

    assistant = Assistant.load(args.model, device="cpu")
    report = measure(assistant, object_questions(args.n, args.seed))
    report["model"] = assistant.name
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    print(f"{report['model']}: {report['n']} one-object questions (colour, shape, position)")
    print(f"grounding peaks on the object's cell: {pct(report['peak_on_object'])} (chance {pct(1 / 9)})")
    print(f"  when the answer is correct ({pct(report['answers_correct'])} are): "
          f"{pct(report['peak_on_object_when_correct'])}")
    print("  per kind: " + ", ".join(f"{k} {pct(v)}" for k, v in report["per_kind"].items()))
    print("  per layer: " + ", ".join(f"L{i} {pct(v)}" for i, v in enumerate(report["per_layer"])))
    print(f"  attention on the image: {pct(report['image_share_mean'])}; one grounding "
          f"{report['grounding_ms_mean']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
