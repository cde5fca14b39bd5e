"""A fresh probe: questions made up once, after the ninth run trained, that no data recipe was ever tuned on.

    python tests/fresh_probe.py [MODEL ...]     # default: tiny

The visitor evaluation's held-out texts have been read, run after run, to decide what training gets next (its
phrasings never enter training, but their neighbours may). This probe is the check that guards against that:
34 phrasings written in one sitting before any model answered them, each asked about 6 scenes from the eval
seed split (204 cases), scored by meaning through the Assistant, with every model given side by side.
It prints accuracy overall and per group, and the wrong answers. A text from outside the world passes with any of
the four honest replies (each says what the model can talk about, which is what a visitor needs); the count of
those that got another reply than their own kind's is printed too.

Nothing here feeds training; a phrasing added to training from this file would make it worthless.
"""

from __future__ import annotations

import random
import sys
from collections import defaultdict

sys.path.insert(0, ".")

from dimple.tiny import replies, score  # noqa: E402
from dimple.tiny import world as W  # noqa: E402

SEED_START = 900_000  # eval-split seeds past the visitor evaluation's
PER_FRAME = 6
HONEST = tuple(replies.REPLIES.values())


def _unique(scene):
    return [o for o in scene.objects if sum(p.color == o.color and p.shape == o.shape for p in scene.objects) == 1]


def _only_shape(scene):
    return [o for o in scene.objects if sum(p.shape == o.shape for p in scene.objects) == 1]


# group -> [(frame, scene kind, (scene, rng) -> slots and expected answer, or None to draw another scene)]
PROBE = {
    "describe": [(f, "objects", lambda s, r: ({}, W.describe_answer(s.objects))) for f in (
        "Could you walk me through what's drawn here?", "what's going on in this one",
        "Please describe everything you notice.", "give me a quick summary of the picture")],
    "count": [(f, "objects", lambda s, r: (lambda sh: ({"shapes": sh + "s"}, str(sum(
        o.shape == sh for o in s.objects))))(r.choice(W.SHAPES))) for f in (
        "How many {shapes} can you spot?", "number of {shapes}?", "tell me how many {shapes} are in it")] + [
        ("How many things are drawn?", "objects", lambda s, r: ({}, str(len(s.objects))))],
    "exists": [(f, "objects", lambda s, r: (lambda t: ({"color": t[0], "shape": t[1], "a": "an" if t[0][0] in "aeiou"
                else "a"}, "yes" if t[2] else "no"))(W.exists_target(s.objects, r))) for f in (
        "Is there any {color} {shape} here?", "any {color} {shape} in it?",
        "Would I find {a} {color} {shape} in this image?")],
    "attribute": [(f, "objects", lambda s, r: (lambda os: ({"shape": os[0].shape}, os[0].color) if os else None)(
        r.sample(_only_shape(s), len(_only_shape(s))))) for f in (
        "Which colour does the {shape} have?", "the {shape} is what color?")] + [
        (f, "objects", lambda s, r: (lambda o: ({"pos": o.position}, o.name(size=True)))(r.choice(s.objects)))
        for f in ("What sits in the {pos}?", "Identify the thing at the {pos}.")],
    "position": [(f, "objects", lambda s, r: (lambda os: ({"color": os[0].color, "shape": os[0].shape},
                  os[0].position) if os else None)(r.sample(_unique(s), len(_unique(s))))) for f in (
        "In which spot is the {color} {shape}?", "Where can I find the {color} {shape}?")],
    "ocr": [(f, "text", lambda s, r: ({}, " ".join(w for _, w, _ in s.words))) for f in (
        "What does the writing say?", "read it out loud please")],
    "chart": [("Which bar reaches highest?", "chart", lambda s, r: ({}, max(s.bars, key=lambda b: b[1])[0])),
              ("What number does bar {label} show?", "chart", lambda s, r: (lambda b: ({"label": b[0]}, str(b[1])))(
                  r.choice(s.bars)))],
    "off_world": [(f, "objects", lambda s, r, k=k: ({}, replies.REPLIES[k])) for k, f in (
        ("greeting", "good night!"), ("greeting", "yo what's good"), ("greeting", "Hi Dimple, nice day isn't it?"),
        ("thanks", "appreciate it!"), ("thanks", "thanks a bunch"), ("thanks", "perfect, thanks"),
        ("self", "how were you trained?"), ("self", "introduce yourself"),
        ("offworld", "What's the weather like tomorrow?"), ("offworld", "Can you recommend a good movie?"),
        ("offworld", "What's 17 times 3?"), ("offworld", "Why is the sky blue?"), ("offworld", "Tell me a joke."))],
}


def cases():
    """(group, frame, image, question, expected), the same every time."""
    out, k = [], 0
    for group, entries in PROBE.items():
        for frame, kind, answer in entries:
            rng = random.Random(W.split_seeds("eval", 1, start=SEED_START + k)[0])
            k += 1
            made = 0
            while made < PER_FRAME:
                scene = {"objects": lambda: W.random_objects_scene(rng, n_objects=rng.randint(1, 6)),
                         "text": lambda: W.random_text_scene(rng), "chart": lambda: W.random_chart_scene(rng)}[kind]()
                got = answer(scene, rng)
                if got is None:
                    continue
                slots, expected = got
                out.append((group, frame, W.render(scene), frame.format(**slots), expected))
                made += 1
    return out


def main(models) -> None:
    import torch

    from dimple.assistant import Assistant

    torch.set_num_threads(2)
    probe = cases()
    for name in models:
        a = Assistant.load(name)
        tally, wrong, other_kind = defaultdict(lambda: [0, 0]), [], 0
        for group, frame, image, question, expected in probe:
            output = a.answer_text(a.generate(image, question, a.default_config))
            ok = score.same_meaning(output, expected)
            if group == "off_world" and not ok and any(score.same_meaning(output, r) for r in HONEST):
                ok, other_kind = True, other_kind + 1
            for key in (group, "all"):
                tally[key][0] += ok
                tally[key][1] += 1
            if not ok:
                wrong.append(f"  {question!r}: {output!r} (want {expected!r})")
        print(name, " ".join(f"{k} {v[0] / v[1]:.3f} ({v[0]}/{v[1]})" for k, v in tally.items()),
              f"(off-world passes with another kind's reply: {other_kind})")
        print("\n".join(wrong))


if __name__ == "__main__":
    main(sys.argv[1:] or ["tiny"])
