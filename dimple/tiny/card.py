"""Dimple-Tiny's card: what it knows, questions to suggest, its presets, a fresh scene; and its card file.

Owns what the studio learns about Tiny: a paragraph of what it handles,
clickable suggestions that it answers well, the structure-prior presets it
was trained to fill, and new scenes with a question each (`random_scene`, which
the card names as its scene generator). It writes all of this into the card
file beside the weights (`write_card`, `python -m dimple.tiny.card FOLDER`), which
the library reads (`dimple.card`) without importing Tiny. It knows nothing of the
UI or of decoding.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Optional

from PIL import Image

from ..card import CARD_FILE, ModelCard
from . import dialogue, presets, world
from .settings import TINY

SUGGESTIONS = (
    "Describe this picture.",
    "How many circles are there?",
    "Is there a red star?",
    "What colour is the square?",
    "Where is the blue circle?",
    "What is at the center?",
    "What does it say?",
    "Which bar is the tallest?",
    "List the objects as JSON.",
    "hello",
)


EVAL_FILE = "eval.json"  # the evaluation that ships beside the weights (`python -m dimple.cli eval --json`)
# What the card names a visitor-evaluation class, for its weakest-classes line.
CLASS_WORDS = {"phrasing_describe": "descriptions", "phrasing_count": "counts", "phrasing_exists": "yes/no questions",
               "phrasing_attribute": "colours, shapes and sizes", "phrasing_position": "positions",
               "phrasing_ocr": "reading", "phrasing_chart": "charts", "phrasing_structured": "JSON",
               "busy": "busy pictures", "second_turn": "second turns", "follow_up": "follow-ups",
               "off_world": "questions outside its world", "nonworld_image": "pictures not from its world",
               "count_in_it": "'how many things are in it'", "anything_color": "'is there anything red?'",
               "comparison": "biggest and smallest", "where_shape": "'where is the triangle?'",
               "template_visitor_json": "a visitor's own JSON template",
               "template_heldout_shape": "list and prefix templates it was not taught"}


def in_words(share: float) -> str:
    """0.83 -> "about 5 in 6": the nearest fraction with a denominator of 2 to 10."""
    n, d = min(((round(share * d), d) for d in range(2, 11)), key=lambda nd: (abs(nd[0] / nd[1] - share), nd[1]))
    if n == d:
        return "all" if share >= 0.995 else "nearly all"
    return f"about {n} in {d}"


def figures(ev: dict) -> str:
    """The card's measured sentences, made from the evaluation JSON (so they cannot go stale)."""
    visitor = ev["visitor"]
    classes = sorted(visitor["per_class"].items(), key=lambda kv: kv[1])
    weakest = ", ".join(f"{CLASS_WORDS.get(k, k.replace('_', ' '))} {v:.0%}" for k, v in classes[:3])
    text = (f"Measured on questions worded in ways it was never taught: {in_words(visitor['accuracy'])} right "
            f"({visitor['accuracy']:.0%} of {visitor['n']}); weakest: {weakest}. ")
    probe = ev.get("probe")
    if probe:
        text += (f"On a sealed probe of phrasings written by someone who never saw its training data: "
                 f"{in_words(probe['pooled'])} ({probe['pooled']:.0%} of {probe['n']}). ")
    return text + (f"It fills about {ev['tokens_per_forward']:.1f} tokens per forward pass "
                   f"({visitor['nfe_mean']:.1f} passes per answer at threshold {visitor['threshold']}).")


def read_eval(folder: Optional[Path]) -> Optional[dict]:
    path = Path(folder) / EVAL_FILE if folder else None
    return json.loads(path.read_text()) if path and path.exists() else None


def about(ev: Optional[dict] = None) -> str:
    """Markdown: what Dimple-Tiny knows and how to talk to it; `ev`: the shipped evaluation's figures."""
    return (
        f"Dimple-Tiny knows a small drawn world: {world.IMAGE_SIZE}x{world.IMAGE_SIZE} pictures with "
        f"1-{world.MAX_OBJECTS} objects ({', '.join(world.SHAPES)}; {', '.join(world.COLOR_NAMES)}; big or small) "
        f"on a 3x3 grid, short words ({', '.join(world.WORDS)}) and bar charts of three bars. "
        "Ask in your own words: describe the picture, count, check whether something is there, ask for a colour, "
        "shape, size or position, read the words or the chart, or list the objects as JSON. "
        "It was also taught follow-ups (\"And the squares?\", \"Where is it?\"), to say so when a "
        "picture is not from its world, and to answer greetings; it knows nothing else. It needs a picture to "
        "answer. It is a very small model: with words it has not seen it is often wrong. "
        + (figures(ev) + " " if ev else "")
        + "The presets under Structure prior are formats it was trained to fill; their slots may be longer than "
        "the answer (elastic slots)."
    )


def preset_templates() -> dict[str, str]:
    return {name: p.template for name, p in presets.PRESETS.items()}


def random_scene(seed: int) -> tuple[Image.Image, str]:
    """A fresh scene from the eval split and a question about it, in one of the phrasings Tiny knows."""
    rng = random.Random(world.split_seeds("eval", 1, start=int(seed) % 1_000_000)[0])
    make = rng.choice((world.random_objects_scene, world.random_objects_scene, world.random_text_scene,
                       world.random_chart_scene))
    scene = make(rng)
    return world.render(scene), dialogue.ask_any(scene, rng, "train", styled=False).question


def card_canvas(folder: Optional[Path]) -> Optional[int]:
    """The canvas the card already in `folder` gives (set at export from the run's training canvas), if any."""
    path = Path(folder) / CARD_FILE if folder else None
    if not path or not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("defaults", {}).get("max_new_tokens")


def card_fields(folder: Optional[Path] = None, canvas: Optional[int] = None) -> dict:
    """The ModelCard fields of Dimple-Tiny; `folder`: its weights' folder, whose evaluation the card quotes;
    `canvas`: the response canvas it was trained on (default: the folder's card's, else TinySettings')."""
    canvas = canvas or card_canvas(folder)
    return dict(name="Dimple-Tiny", about=about(read_eval(folder)), defaults=TINY.decode_defaults(canvas),
                max_new_tokens_limit=TINY.max_new_tokens_limit, square_images=True, needs_image=True,
                suggestions=SUGGESTIONS, presets=preset_templates(), scenes="dimple.tiny.card:random_scene")  # a name, not __name__: the module may run as __main__


def write_card(folder: Path, canvas: Optional[int] = None) -> Path:
    """Write Tiny's card file into its weights' folder; run it again whenever the folder's eval.json changes
    (the card quotes it). `canvas`: the training canvas (default: keep the card's)."""
    path = Path(folder) / CARD_FILE
    fields = card_fields(folder, canvas)
    path.write_text(json.dumps({"kind": "tiny", **ModelCard(**fields).to_json()}, indent=1) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    for arg in sys.argv[1:] or [str(Path(__file__).resolve().parents[2] / "assets" / "dimple-tiny")]:
        print(write_card(Path(arg)))
