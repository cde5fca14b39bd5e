"""Why descriptions go wrong: what the model knows with the answer given, and how the canvas length moves it.

    python scripts/describe_lengths.py MODEL [N]     # N held-out describe questions (default 40)

Three measurements on the same N held-out "describe" samples (the evaluation split):

1. **Teacher-forced fills.** The right answer (its canonical form) sits in the canvas with one word masked, for
   every colour, shape, position and size word in turn, plus every colour word at once. One forward pass; the
   argmax must be the masked word or a synonym the answer forms use. High here means the model binds each
   object's colour and shape to its cell when the rest of the answer is given.
2. **Where the answer ends.** The right answer's first k items, the rest of the canvas masked: is the next token
   the comma while objects are left, and the end once all are named? (`end_accuracy`)
3. **Canvas lengths.** The same questions decoded at 0.9 on canvases of the answer's canonical length plus 4 and
   plus 10 (an oracle that leaks the length), on fixed canvases of 32 and 48, and on the training canvas. If the
   oracle canvas is right much more often than the fixed one, the model does not know where its answer ends
   when the canvas is longer than the answer: it fills the spare room (a cell named twice, a mixed form).

Scored by meaning (`dimple.tiny.score.same_meaning`). docs/tiny3.md reports them for each run.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dimple.tiny import forms  # noqa: E402 (after the path insert)

CANVAS = 96  # Tiny 3's training canvas
WORD_KINDS = {  # the words a teacher-forced fill masks, by kind
    "colour": {"red", "orange", "yellow", "green", "blue", "purple", "pink", "black"},
    "shape": {"circle", "square", "triangle", "star"},
    "position": {"top", "middle", "bottom", "left", "right", "center"},
    "size": {"big", "small"},
}

# a synonym is as right as the canonical word ("large" for "big", "upper" for "top"): forms.py draws either
SYNONYM = {w: canonical for table in (forms.SIZE_WORDS, forms.ROW_WORDS) for canonical, ws in table.items() for w in ws}


def fill_accuracy(assistant, samples) -> dict[str, tuple[int, int]]:
    """{word kind: (right, asked)}: each word of a kind masked alone, and "colour, all at once" per answer."""
    import torch

    tally = {kind: [0, 0] for kind in (*WORD_KINDS, "colour, all at once")}
    for s in samples:
        inputs = assistant.encode(s.image, s.question)
        answer = assistant.token_ids(s.answer) + [assistant.eos_token_id]
        words = [assistant.decode([i]).strip(" ,.:") for i in answer]
        start = inputs["input_ids"].shape[1]
        groups = [(kind, [i]) for kind, vocab in WORD_KINDS.items() for i, w in enumerate(words) if w in vocab]
        groups.append(("colour, all at once", [i for i, w in enumerate(words) if w in WORD_KINDS["colour"]]))
        for kind, masked in groups:
            ids = torch.cat([inputs["input_ids"], torch.tensor([answer])], 1)
            ids[0, [start + i for i in masked]] = assistant.mask_token_id
            with torch.no_grad():
                logits = assistant.model(input_ids=ids, pixel_values=inputs["pixel_values"],
                                         image_grid_thw=inputs["image_grid_thw"]).logits
            # output k predicts token k + 1 (the shift Dimple inherits from its autoregressive start)
            got = [assistant.decode([int(logits[0, start + i - 1].argmax())]).strip() for i in masked]
            tally[kind][0] += [SYNONYM.get(w, w) for w in got] == [words[i] for i in masked]
            tally[kind][1] += 1
    return {kind: tuple(v) for kind, v in tally.items()}


def end_accuracy(assistant, samples, canvas: int = CANVAS) -> dict[str, tuple[int, int]]:
    """{"more" | "end": (right, asked)}: the right answer's first k items (its canonical form, reading order)
    with the rest of a `canvas`-slot canvas masked; the token after item k must be the comma when objects
    are left ("more") and the end when none is ("end"). The model must know which objects it has named."""
    import torch

    comma = assistant.token_ids(",")[0]
    tally = {"more": [0, 0], "end": [0, 0]}
    for s in samples:
        inputs = assistant.encode(s.image, s.question)
        start, items = inputs["input_ids"].shape[1], s.answer.split(", ")
        for k in range(1, len(items) + 1):
            said = assistant.token_ids(", ".join(items[:k]))
            canvas_ids = said + [assistant.mask_token_id] * (canvas - len(said))
            ids = torch.cat([inputs["input_ids"], torch.tensor([canvas_ids])], 1)
            with torch.no_grad():
                logits = assistant.model(input_ids=ids, pixel_values=inputs["pixel_values"],
                                         image_grid_thw=inputs["image_grid_thw"]).logits
            kind = "end" if k == len(items) else "more"
            want = assistant.eos_token_id if kind == "end" else comma
            tally[kind][0] += int(logits[0, start + len(said) - 1].argmax()) == want
            tally[kind][1] += 1
    return {kind: tuple(v) for kind, v in tally.items()}


def canvas_accuracy(assistant, samples, canvas) -> tuple[float, float]:
    """(share right, passes per answer) at 0.9; `canvas` is a length, or "+k": the canonical answer's length + k."""
    from dimple.tiny import score

    right = passes = 0
    for s in samples:
        length = (len(assistant.token_ids(s.answer)) + int(canvas[1:])) if isinstance(canvas, str) else canvas
        cfg = assistant.default_config.with_(max_new_tokens=length, steps=length, alg_p_threshold=0.9)
        traj = assistant.generate(s.image, s.question, cfg)
        right += score.same_meaning(assistant.answer_text(traj), s.answer)
        passes += traj.nfe
    return right / len(samples), passes / len(samples)


def main(argv=None) -> int:
    from describe_orders import held_out_describes  # the same 40 questions as describe_orders.py

    assistant, samples = held_out_describes(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    for kind, (right, asked) in fill_accuracy(assistant, samples).items():
        print(f"teacher-forced {kind}: {right}/{asked} ({right / max(asked, 1):.3f})", flush=True)
    for kind, (right, asked) in end_accuracy(assistant, samples).items():
        print(f"after the right items, {kind}: {right}/{asked} ({right / max(asked, 1):.3f})", flush=True)
    for canvas in ("+4", "+10", 32, 48, CANVAS):
        name = f"canonical length {canvas}" if isinstance(canvas, str) else f"canvas {canvas}"
        right, passes = canvas_accuracy(assistant, samples, canvas)
        print(f"{name}: right {right:.3f}, {passes:.1f} passes per answer", flush=True)
    print(f"{time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
