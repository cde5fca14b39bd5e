"""A model's card: what a person should know about a checkpoint, read from the file beside its weights.

Owns `ModelCard` (name, what the model knows, its chat system turn and end
tokens, decoding defaults, limits, suggestions, structure-prior presets, and
the name of its scene generator), the card file's format (`dimple_studio.json`
in the checkpoint folder), the card of a general model for a folder without
one (the released Dimple-7B ships none), and the one way a card names code:
`scenes`, a "module:function" inside this distribution (`load_hook`).

A model's own product writes its card (Dimple-Tiny's: `python -m dimple.tiny.card
FOLDER`); this module only reads it, so the inference library knows no model's
world. It does not know tensors, tokenizers or the UI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from importlib import import_module
from pathlib import Path
from typing import Callable, Optional

CARD_FILE = "dimple_studio.json"

# Structure priors and suggestions for a general model (a model's own card names its own).
GENERAL_PRESETS = {
    "Exact length (6 tokens)": "<mask:6><eos>",
    "Answer: ... Because: ...": "Answer: <mask:4>. Because: <mask:8>.<eos>",
    "JSON skeleton": '{"<mask:3>": "<mask:4>"}<eos>',
    "Numbered list": "1. <mask:3>\n2. <mask:3>\n3. <mask:3><eos>",
}
GENERAL_SUGGESTIONS = ("Describe this image.", "What is unusual about this picture?", "How many people are there?",
                       "What colour is the largest object?")
GENERAL_ABOUT = ("Dimple-7B (Yu, Ma, Wang 2025): a discrete diffusion multimodal LLM fine-tuned from Dream-7B "
                 "with a Qwen2.5-VL vision tower. General images and questions.")


@dataclass
class ModelCard:
    name: str  # shown in the UI header
    about: str  # markdown: what the model knows
    system: Optional[str] = None  # system turn of the chat format (None: no system turn)
    end_tokens: tuple[str, ...] = ("<|im_end|>", "<|endoftext|>")  # tokens that end an answer
    defaults: dict = field(default_factory=dict)  # DecodeConfig overrides suited to the model
    max_new_tokens_limit: int = 256
    square_images: bool = False  # crop uploads to their centred square (a model trained on square pictures only)
    needs_image: bool = False  # refuse a question without a picture (a model that never saw one asked without)
    suggestions: tuple[str, ...] = ()  # questions the UI offers with one click
    presets: dict = field(default_factory=dict)  # structure-prior templates by name, for the UI's preset menu
    scenes: Optional[str] = None  # "module:function(seed) -> (image, question)" drawing a scene the model knows

    def to_json(self) -> dict:
        """The card file's content (what `read_card` reads back to an equal card)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**data, "end_tokens": list(self.end_tokens), "suggestions": list(self.suggestions)}


def general_card(name: str) -> ModelCard:
    """The card of a checkpoint that ships none: the released Dimple-7B's, or a folder named after itself."""
    return ModelCard(
        name="Dimple-7B" if "7b" in name.lower() else Path(name).name, about=GENERAL_ABOUT,
        system="You are a helpful assistant.", defaults=dict(max_new_tokens=64, steps=64, alg_p_threshold=0.95),
        max_new_tokens_limit=1024, suggestions=GENERAL_SUGGESTIONS, presets=dict(GENERAL_PRESETS),
    )


def read_card(folder: Path, name: str) -> ModelCard:
    """The card in `folder`'s card file: a whole card (it has a "name"), or the general card with the file's
    "name", "system", "max_new_tokens_limit" and "defaults" over it; the general card when there is no file."""
    path = Path(folder) / CARD_FILE
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if "about" in data:
        known = {f.name for f in fields(ModelCard)}
        card = ModelCard(**{k: v for k, v in data.items() if k in known})
        card.end_tokens, card.suggestions = tuple(card.end_tokens), tuple(card.suggestions)
        return card
    if "kind" in data:  # an older card file named only its model's kind; its product writes the whole card now
        raise ValueError(f"{path} names kind {data['kind']!r} but holds no card; write it with that model's tool "
                         f"(Dimple-Tiny: python -m dimple.tiny.card {folder})")
    card = general_card(name)
    for key in ("name", "system", "max_new_tokens_limit"):
        if key in data:
            setattr(card, key, data[key])
    card.defaults.update(data.get("defaults", {}))
    return card


def load_hook(spec: str) -> Callable:
    """The function a card names as "module:function". Only modules of this distribution (`dimple.`) are
    looked up: a card file comes with downloaded weights and must not choose what code runs."""
    module, sep, attr = spec.partition(":")
    if not sep or not attr or not module.startswith("dimple."):
        raise ValueError(f"a card names code as 'dimple.<module>:<function>', got {spec!r}")
    hook = getattr(import_module(module), attr, None)
    if not callable(hook):
        raise ValueError(f"{spec!r} names no function")
    return hook
