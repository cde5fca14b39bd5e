"""What a wrong description gets wrong: each named object checked against the scene.

    python scripts/describe_errors.py MODEL [N]     # N held-out describe questions (default 40), 96 slots, 0.9

Decodes the same N held-out "describe" samples as `describe_orders.py` and `describe_lengths.py` (the
evaluation split) with the model card's settings on a 96-slot canvas, reads each answer as a multiset of
(position, size, colour, shape) items (`score.description_items`) and tallies, over all answers:

- **objects / right**: objects in the scenes, and items named exactly as one of them;
- **mixed**: items whose (size, colour, shape) is no object of the scene: attributes of two objects bound into
  one (the pink triangle's place with the black star's colour and shape), or invented;
- **misplaced**: items whose position holds no object;
- **twice**: items at a position the answer already named;
- **missed**: objects of the scene the answer does not name exactly;
- **count off**: answers naming more or fewer items than the scene has objects;
- **unread**: answers that do not parse as a description.

If "mixed" dominates while the count is right, the model knows how many objects there are and where they are but
binds their attributes wrongly when it decodes in parallel (docs/tiny3.md).
"""

from __future__ import annotations

import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CANVAS = 96  # Tiny 3's training canvas
TALLIES = ("answers", "objects", "right", "mixed", "misplaced", "twice", "missed", "count off", "unread")


def tally(answer: str, expected: str) -> Counter:
    """The counts above for one answer against its scene's canonical description."""
    from dimple.tiny import score

    want = score.description_items(expected)
    got = score.description_items(answer)
    out = Counter({"answers": 1, "objects": sum(want.values())})
    if got is None:
        out["unread"] += 1
        out["missed"] += sum(want.values())
        return out
    places = Counter(item[0] for item in got.elements())
    out["right"] += sum((got & want).values())
    out["missed"] += sum((want - got).values())
    out["mixed"] += sum((Counter(i[1:] for i in got.elements()) - Counter(i[1:] for i in want.elements())).values())
    occupied = {item[0] for item in want}
    out["misplaced"] += sum(n for place, n in places.items() if place not in occupied)
    out["twice"] += sum(n - 1 for n in places.values() if n > 1)
    out["count off"] += sum(got.values()) != sum(want.values())
    return out


def main(argv=None) -> int:
    from describe_orders import held_out_describes

    assistant, samples = held_out_describes(sys.argv[1:] if argv is None else argv)
    cfg = assistant.default_config.with_(max_new_tokens=CANVAS, steps=CANVAS)
    total = Counter()
    for sample in samples:
        total += tally(assistant.answer_text(assistant.generate(sample.image, sample.question, cfg)), sample.answer)
    print(", ".join(f"{name} {total[name]}" for name in TALLIES))
    print(f"items right {total['right']}/{total['objects']} ({total['right'] / max(1, total['objects']):.3f})")
    return 0


if __name__ == "__main__":  # run as a script, its own folder is on the path (describe_orders)
    raise SystemExit(main())
