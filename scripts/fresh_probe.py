"""A fresh probe: questions made up after a model trained, that no data recipe was tuned on before it was scored.

    python scripts/fresh_probe.py [MODEL ...]                    # default: tiny
    python scripts/fresh_probe.py --phrasings FILE.json MODEL ...

The visitor evaluation's held-out texts have been read, run after run, to decide what training gets next (its
phrasings never enter training, but their neighbours may). A probe is the check that guards against that:
phrasings written in one sitting before any model answered them, each asked about 6 scenes from the eval seed
split, scored by meaning through the Assistant, with every model given side by side. It prints accuracy overall
and per group, and the wrong answers (`--quiet`: scores only, so that the phrasings stay unread). A text from
outside the world passes with any of the four honest replies (each says what the model can talk about, which
is what a visitor needs); the count of those that got another kind's reply is printed too.

PROBE below was written after the ninth run trained. `--phrasings` reads another set with the same kinds:
{"describe": [frames], "count": ["... {shapes} ..."], "exists": ["... {a} {color} {shape} ..."],
"colour_of_shape": ["... {shape} ..."], "object_at": ["... {pos} ..."], "position": ["... {color} {shape} ..."],
"ocr": [frames], "chart_tallest": [frames], "chart_value": ["... {label} ..."], "off_world": [[kind, text]]}.

tests/probes/probe2.json and probe3.json were written the same way by a helper that saw neither the training
frames nor any answer (probe 2 after the tenth run's data was fixed, probe 3 after the tenth run trained); they
were scored with --quiet, and were not read, when the tenth and eleventh runs were judged.

Nothing here feeds training; a phrasing added to training from a probe makes that probe worthless.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from dimple.tiny import language, replies, score  # noqa: E402
from dimple.tiny import world as W  # noqa: E402

SEED_START = 900_000  # eval-split seeds past the visitor evaluation's
PER_FRAME = 6
HONEST = tuple(replies.REPLIES.values())


def _unique(scene):
    return [o for o in scene.objects if sum(p.color == o.color and p.shape == o.shape for p in scene.objects) == 1]


def _only_shape(scene):
    return [o for o in scene.objects if sum(p.shape == o.shape for p in scene.objects) == 1]


def _count(scene, rng):
    shape = rng.choice(W.SHAPES)
    return {"shapes": shape + "s"}, str(sum(o.shape == shape for o in scene.objects))


def _exists(scene, rng):
    color, shape, yes = W.exists_target(scene.objects, rng)
    return {"color": color, "shape": shape}, "yes" if yes else "no"  # language.fill adds {a}


def _colour_of_shape(scene, rng):
    objs = _only_shape(scene)
    objs = rng.sample(objs, len(objs))
    return ({"shape": objs[0].shape}, objs[0].color) if objs else None


def _object_at(scene, rng):
    o = rng.choice(scene.objects)
    return {"pos": o.position}, o.name(size=True)


def _position(scene, rng):
    objs = _unique(scene)
    objs = rng.sample(objs, len(objs))
    return ({"color": objs[0].color, "shape": objs[0].shape}, objs[0].position) if objs else None


def _chart_value(scene, rng):
    label, value, *_ = rng.choice(scene.bars)
    return {"label": label}, str(value)


def _exists_color(scene, rng):
    present = sorted({o.color for o in scene.objects})
    color = rng.choice(present) if rng.random() < 0.5 else rng.choice([c for c in W.COLOR_NAMES if c not in present])
    return {"color": color}, "yes" if color in present else "no"


def _comparison(scene, rng):
    sizes = sorted({o.size for o in scene.objects})
    if len(sizes) < 2:
        return None
    size = rng.choice(sizes)
    most = rng.choice({"big": ("biggest", "largest"), "small": ("smallest", "tiniest")}[size])
    return {"most": most}, W.describe_answer([o for o in scene.objects if o.size == size])


def _position_of_shape(scene, rng):
    objs = _only_shape(scene)
    return ({"shape": objs[0].shape}, objs[0].position) if objs else None


# kind -> (scene kind, (scene, rng) -> (slots, expected answer), or None to draw another scene)
ANSWERS = {
    "describe": ("objects", lambda s, r: ({}, W.describe_answer(s.objects))),
    "count": ("objects", _count),
    "count_all": ("objects", lambda s, r: ({}, str(len(s.objects)))),
    "exists": ("objects", _exists),
    "colour_of_shape": ("objects", _colour_of_shape),
    "object_at": ("objects", _object_at),
    "position": ("objects", _position),
    "ocr": ("text", lambda s, r: ({}, " ".join(w for _, w, _ in s.words))),
    "chart_tallest": ("chart", lambda s, r: ({}, max(s.bars, key=lambda b: b[1])[0])),
    "chart_value": ("chart", _chart_value),
    # Tiny 3's kinds (probe 4)
    "exists_color": ("objects", _exists_color),
    "comparison": ("objects", _comparison),
    "position_of_shape": ("objects", _position_of_shape),
}
for _kind, _reply in replies.REPLIES.items():
    ANSWERS[_kind] = ("objects", lambda s, r, reply=_reply: ({}, reply))
GROUP = {"count_all": "count", "colour_of_shape": "attribute", "object_at": "attribute", "chart_tallest": "chart",
         "chart_value": "chart", "exists_color": "exists", "position_of_shape": "position",
         **{k: "off_world" for k in replies.REPLIES}}

# (kind, frame), written after the ninth run trained and before any model answered them
PROBE = [("describe", f) for f in (
    "Could you walk me through what's drawn here?", "what's going on in this one",
    "Please describe everything you notice.", "give me a quick summary of the picture")] + [
    ("count", f) for f in ("How many {shapes} can you spot?", "number of {shapes}?",
                           "tell me how many {shapes} are in it")] + [
    ("count_all", "How many things are drawn?")] + [
    ("exists", f) for f in ("Is there any {color} {shape} here?", "any {color} {shape} in it?",
                            "Would I find {a} {color} {shape} in this image?")] + [
    ("colour_of_shape", "Which colour does the {shape} have?"), ("colour_of_shape", "the {shape} is what color?"),
    ("object_at", "What sits in the {pos}?"), ("object_at", "Identify the thing at the {pos}."),
    ("position", "In which spot is the {color} {shape}?"), ("position", "Where can I find the {color} {shape}?"),
    ("ocr", "What does the writing say?"), ("ocr", "read it out loud please"),
    ("chart_tallest", "Which bar reaches highest?"), ("chart_value", "What number does bar {label} show?"),
    ("greeting", "good night!"), ("greeting", "yo what's good"), ("greeting", "Hi Dimple, nice day isn't it?"),
    ("thanks", "appreciate it!"), ("thanks", "thanks a bunch"), ("thanks", "perfect, thanks"),
    ("self", "how were you trained?"), ("self", "introduce yourself"),
    ("offworld", "What's the weather like tomorrow?"), ("offworld", "Can you recommend a good movie?"),
    ("offworld", "What's 17 times 3?"), ("offworld", "Why is the sky blue?"), ("offworld", "Tell me a joke.")]


def read_phrasings(path: str) -> list[tuple[str, str]]:
    """(kind, frame) pairs from a JSON file in the module docstring's format."""
    with open(path) as f:
        spec = json.load(f)
    pairs = [(kind, text) for kind, text in spec.pop("off_world", [])]
    for kind, frames in spec.items():
        if kind not in ANSWERS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(ANSWERS)}")
        pairs.extend((kind, f) for f in frames)
    return pairs


def _scene(kind: str, rng: random.Random) -> W.Scene:
    if kind == "text":
        return W.random_text_scene(rng)
    if kind == "chart":
        return W.random_chart_scene(rng)
    return W.random_objects_scene(rng, n_objects=rng.randint(1, 6))


def cases(probe):
    """(group, image, question, expected) for every (kind, frame), the same every time."""
    out = []
    for k, (kind, frame) in enumerate(probe):
        scene_kind, answer = ANSWERS[kind]
        rng = random.Random(W.split_seeds("eval", 1, start=SEED_START + k)[0])
        made = 0
        while made < PER_FRAME:
            scene = _scene(scene_kind, rng)
            got = answer(scene, rng)
            if got is not None:
                slots, expected = got
                out.append((GROUP.get(kind, kind), W.render(scene), language.fill(frame, **slots), expected))
                made += 1
    return out


def score_model(assistant, probe_cases):
    """({group: [right, asked]}, wrong answers, outside texts passed with another kind's reply)."""
    tally, wrong, other_kind = defaultdict(lambda: [0, 0]), [], 0
    for group, image, question, expected in probe_cases:
        output = assistant.answer_text(assistant.generate(image, question, assistant.default_config))
        ok = score.same_meaning(output, expected)
        if group == "off_world" and not ok and any(score.same_meaning(output, r) for r in HONEST):
            ok, other_kind = True, other_kind + 1
        for key in (group, "all"):
            tally[key][0] += ok
            tally[key][1] += 1
        if not ok:
            wrong.append(f"  {question!r}: {output!r} (want {expected!r})")
    return tally, wrong, other_kind


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", default=["tiny"])
    p.add_argument("--phrasings", help="a JSON file of (kind, frame)s instead of PROBE")
    p.add_argument("--quiet", action="store_true", help="scores only, no questions or answers")
    args = p.parse_args(argv)
    import torch

    from dimple.assistant import Assistant

    torch.set_num_threads(2)
    probe_cases = cases(read_phrasings(args.phrasings) if args.phrasings else PROBE)
    for name in args.models:
        tally, wrong, other_kind = score_model(Assistant.load(name), probe_cases)
        print(name, " ".join(f"{k} {v[0] / v[1]:.3f} ({v[0]}/{v[1]})" for k, v in tally.items()),
              f"(outside texts passed with another kind's reply: {other_kind})")
        if not args.quiet:
            print("\n".join(wrong))


if __name__ == "__main__":
    main()
