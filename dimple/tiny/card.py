"""Dimple-Tiny's card for the app: what it knows, questions to suggest, its presets, a fresh scene.

Owns the one place the app (through `dimple.assistant.card_for`) learns about
Tiny: a paragraph of what it handles, clickable suggestions that it answers
well, the structure-prior presets it was trained to fill, and new scenes
with a question each. It knows nothing of the UI or of decoding.
"""

from __future__ import annotations

import random

from PIL import Image

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


def about() -> str:
    """Markdown: what Dimple-Tiny knows and how to talk to it."""
    return (
        f"Dimple-Tiny knows a small drawn world: {world.IMAGE_SIZE}x{world.IMAGE_SIZE} pictures with "
        f"1-{world.MAX_OBJECTS} objects ({', '.join(world.SHAPES)}; {', '.join(world.COLOR_NAMES)}; big or small) "
        f"on a 3x3 grid, short words ({', '.join(world.WORDS)}) and bar charts of three bars. "
        "Ask in your own words: describe the picture, count, check whether something is there, ask for a colour, "
        "shape, size or position, read the words or the chart, or list the objects as JSON. "
        "It was also taught follow-ups (\"And the squares?\", \"Where is it?\"), to say so when a picture is not "
        "from its world, and to answer greetings; it knows nothing else. It needs a picture to answer, and it "
        "takes for granted that what you ask about is in it (ask for the colour of a square that is not there and "
        "it guesses one). It is a very small model: with words it "
        "has not seen it is often wrong: about 5 in 6 of questions worded in new ways are right (nearly every "
        "reading; about 4 in 5 counts and colours, 3 in 4 descriptions, positions and chart questions; "
        "yes/no are its weakest, about 6 in 10; see the README). The presets "
        "under Structure prior are formats it was trained to fill; their slots may be longer than the answer "
        "(elastic slots)."
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


def card_fields() -> dict:
    """The ModelCard fields of Dimple-Tiny."""
    return dict(name="Dimple-Tiny", about=about(), defaults=TINY.decode_defaults(),
                max_new_tokens_limit=TINY.max_new_tokens_limit, square_images=True, needs_image=True,
                suggestions=SUGGESTIONS, presets=preset_templates())
