"""Why "which one is the biggest?" goes wrong: the phrasing, or the size filter itself.

    python scripts/comparison_probe.py MODEL [N]     # N evaluation-split scenes with two sizes (default 30)

Every scene with objects of both sizes is asked for its biggest or smallest objects in each comparison frame,
training and held-out (`language.FRAMES["comparison"]`), decoded with the model card's settings on a 96-slot
canvas. Three tallies per frame:
- **right**: the answer names exactly the objects of the asked size (`score.same_meaning`);
- **right size**: the answer's size words are all of the asked size (it may still name the wrong objects);
- **fewer objects than asked**: the answer lists fewer objects than the scene has of that size.
If the training frames score no better than the held-out ones, the phrasing is not the fault; if "right size"
is low too, the model does not filter by size at all. A last line asks the same scenes "How many {size} things
are there?" (the size filter with a one-word answer, `count_size` in training): wrong counts there mean the
filter itself is missing, not the long answer's binding. docs/tiny3.md reports it for each run since the
seventh.
"""

from __future__ import annotations

import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dimple.tiny import dialogue, forms, language, score, world  # noqa: E402 (after the path insert)

CANVAS = 96  # Tiny 3's training canvas


def right_size(answer: str, size: str) -> bool:
    """True when the answer says a size and every size word in it is `size` or its synonym."""
    words = set(re.findall(r"[a-z]+", answer.lower()))
    asked = set(forms.SIZE_WORDS[size])
    other = {w for s, ws in forms.SIZE_WORDS.items() if s != size for w in ws}
    return bool(words & asked) and not words & other


def questions(n: int):
    """(image, size asked, superlative, size word, expected answer) for the first `n` eval-split scenes with two
    sizes: the training data's own comparison turn (`dialogue.ask`), its superlative and size word drawn again
    to fill every frame (some frames ask by the superlative, some by the size itself)."""
    out = []
    for seed in world.split_seeds("eval", 4 * n):
        rng = random.Random(seed)
        scene = world.random_objects_scene(rng)
        turn = dialogue.ask(scene, "comparison", rng)
        if turn is None:  # every object has one size
            continue
        size = turn.facts["objs"][0].size
        out.append((world.render(scene), size, rng.choice(dialogue.MOST[size]), rng.choice(forms.SIZE_WORDS[size]),
                    turn.answer))
        if len(out) == n:
            break
    return out


def question(frame: str, most: str, word: str) -> str:
    return language.fill(frame, most=most, size=word)


def names_fewer(answer: str, expected: str) -> bool:
    """True when the answer reads as a list of objects naming fewer than the expected ones: the canvas filled
    with padding from its end before the model knew how many objects it would name (docs/tiny3.md)."""
    got = score.description_items(answer)
    return got is not None and sum(got.values()) < sum(score.description_items(expected).values())


def count_question(word: str) -> str:
    return f"How many {word} things are there?"


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    import torch

    from dimple.assistant import Assistant

    torch.set_num_threads(2)
    assistant = Assistant.load(argv[0])
    cfg = assistant.default_config.with_(max_new_tokens=CANVAS, steps=CANVAS)
    cases = questions(int(argv[1]) if len(argv) > 1 else 30)
    for split in ("train", "heldout"):
        for frame in language.FRAMES["comparison"][split]:
            ok = sized = fewer = 0
            for image, size, most, word, expected in cases:
                answer = assistant.answer_text(assistant.generate(image, question(frame, most, word), cfg))
                ok += score.same_meaning(answer, expected)
                sized += right_size(answer, size)
                fewer += names_fewer(answer, expected)
            print(f"{split:8s} {frame!r}: right {ok}/{len(cases)}, right size {sized}/{len(cases)}, "
                  f"fewer objects than asked {fewer}/{len(cases)}", flush=True)
    counted = 0
    for image, size, most, word, expected in cases:
        answer = assistant.answer_text(assistant.generate(image, count_question(word), cfg))
        counted += score.same_meaning(answer, str(sum(score.description_items(expected).values())))
    print(f"count    {count_question('{size}')!r}: right {counted}/{len(cases)}", flush=True)


if __name__ == "__main__":
    main()
