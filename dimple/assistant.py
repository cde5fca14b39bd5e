"""Assistant: one loaded model with its tokenizer, image processor and chat conventions.

Owns turning a user's image, question, history and optional structure
template into model inputs, running the engine, and giving the growing
Trajectory token texts so that a UI or an export can show it without a
tokenizer; for teaching, a threshold sweep of a question (`explore`) and the
grounding of a committed token in its image (`ground`). It also carries what a user should know about the model (name,
device, what it was trained on, sensible defaults), read from the model's card
(`dimple.card`), and draws a scene only through the generator that card names.
It knows no model's world, draws nothing itself and imports no UI library; the
model is loaded only by `Assistant.load`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator, Optional, Sequence

import torch
from PIL import Image

from .card import ModelCard, load_hook, read_card
from .config import DecodeConfig
from .engine import Request, generate_batch
from .explore import DEFAULT_THRESHOLDS, Exploration, explore
from .grounding import Grounding, check_groundable, grounding_map
from .engine import stream as engine_stream
from .loading import describe_device, load_image_processor, load_model, load_tokenizer, resolve_checkpoint
from .processing import MAX_PROMPT_CHARS, DimpleImageProcessor, center_square, encode_prompt
from .stepping import Proposal
from .stepping import propose as engine_propose
from .structure import StructuredCanvas, build_canvas
from .trajectory import Trajectory


CALIBRATION_QUESTIONS = ("Describe the image.",)  # asked of every calibration image beside its own question


def calibration_pairs(folder) -> list[tuple[Image.Image, str]]:
    """(image, question) pairs of an examples folder (its index.json of {"file", "question"} items, as
    `dimple.tiny.world.save_examples` writes it): each image with its own question and CALIBRATION_QUESTIONS."""
    import json
    from pathlib import Path

    folder = Path(folder)
    items = json.loads((folder / "index.json").read_text())
    pairs = []
    for item in items:
        image = Image.open(folder / item["file"]).convert("RGB")
        pairs += [(image, q) for q in dict.fromkeys((item["question"], *CALIBRATION_QUESTIONS))]
    return pairs


class Assistant:
    """A loaded model the studio talks to (it meets `app.protocol.StudioAssistant`)."""

    def __init__(self, model, tokenizer, image_processor: DimpleImageProcessor, card: ModelCard):
        self.model = model
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.card = card
        self.mask_token_id = int(model.config.mask_token_id)
        ids = [tokenizer.convert_tokens_to_ids(t) for t in card.end_tokens]
        unk = tokenizer.unk_token_id
        self.end_token_ids = sorted({int(i) for i in ids if i is not None and i != unk})
        if not self.end_token_ids:
            raise ValueError(f"the tokenizer knows none of the end tokens {card.end_tokens}")
        self.eos_token_id = self.end_token_ids[0] if ids[0] in (None, unk) else int(ids[0])

    @classmethod
    def load(cls, name: str = "tiny", device: str = "cpu", dtype=None, quantize=None,
             calibration: Sequence[tuple[Image.Image, str]] = (), int4_codes=None) -> "Assistant":
        """quantize: None, "int8" (weight-only), "w8a8" (int8 activations too) or "int4" (weight-only, CPU);
        see dimple.quantize. calibration (int4 only): (image, question) pairs decoded, one at a time with the
        card's defaults, while each layer's inputs are gathered; the int4 codes are then chosen by GPTQ against
        them (`dimple.int4_gptq`). Without it, int4 rounds each weight on its own. int4_codes (int4 only): a
        file of codes chosen and saved before (`python -m dimple.int4_codes`), read instead of chosen."""
        folder = resolve_checkpoint(name)
        tokenizer, image_processor, card = load_tokenizer(folder), load_image_processor(folder), read_card(folder, name)

        def calibrate(model) -> None:
            assistant = cls(model, tokenizer, image_processor, card)
            # prefilling off: each block is replayed on its recorded inputs, which a KV cache would not repeat
            cfg = dataclasses.replace(assistant.default_config, prefill=False, response_cache=0)
            for pair in calibration:  # one at a time: a batch's padding rows would enter the statistics
                assistant.generate_batch([pair], cfg)

        model = load_model(str(folder), device=device, dtype=dtype, quantize=quantize,
                           calibrate=calibrate if calibration else None, int4_codes=int4_codes)
        return cls(model, tokenizer, image_processor, card)

    # ----- facts for the UI ------------------------------------------------
    @property
    def name(self) -> str:
        return self.card.name

    @property
    def device(self) -> str:
        return describe_device(self.model)

    @property
    def about(self) -> str:
        return self.card.about

    @property
    def presets(self) -> dict[str, str]:
        """Structure-prior templates by name that suit this model (the UI's preset menu)."""
        return dict(self.card.presets)

    @property
    def suggestions(self) -> tuple[str, ...]:
        return tuple(self.card.suggestions)

    @property
    def draws_scenes(self) -> bool:
        """Whether `random_scene` can draw: the card names a scene generator (Tiny's world; the 7B has none)."""
        return self.card.scenes is not None

    @property
    def max_new_tokens_limit(self) -> int:
        return self.card.max_new_tokens_limit

    @property
    def default_config(self) -> DecodeConfig:
        return DecodeConfig(**self.card.defaults)

    # ----- text ----------------------------------------------------------------
    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True).strip()

    def canvas_for(self, template: str, limit: Optional[int] = None) -> StructuredCanvas:
        """The canvas a template makes: `.pieces` (text, fixed), `.length`, `.warnings`; raises TemplateError."""
        return build_canvas(template, self.tokenizer, self.mask_token_id, self.eos_token_id,
                            limit or self.max_new_tokens_limit)

    # ----- decoding ------------------------------------------------------------
    def encode(self, image: Optional[Image.Image], prompt: str, history: Sequence[tuple[str, str]] = ()) -> dict:
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("the prompt is empty; ask a question about the image")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise ValueError(f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
        if image is None and self.card.needs_image:
            raise ValueError(f"{self.name} only answers questions about an image: pick an example, press "
                             "New random scene or upload a picture, then ask again")
        if image is not None and self.card.square_images:
            image = center_square(image)
        inputs = encode_prompt(self.tokenizer, self.image_processor, prompt.strip(), image, history, self.card.system)
        return {k: v.to(self.model.device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}

    def stream(
        self,
        image: Optional[Image.Image],
        prompt: str,
        cfg: Optional[DecodeConfig] = None,
        history: Sequence[tuple[str, str]] = (),
        template: Optional[str] = None,
        should_stop: Optional[Callable[[], bool]] = None,
    ) -> Iterator[Trajectory]:
        """Yield the growing Trajectory: first the empty canvas, then after every iteration."""
        yield from self._with_token_text(self._decode(image, prompt, cfg, history, template, should_stop))

    def _with_token_text(self, trajs: Iterator[Trajectory]) -> Iterator[Trajectory]:
        """Each growing Trajectory with the texts of its new tokens looked up (one lookup per token per run)."""
        known: dict[int, str] = {}
        for traj in trajs:
            self._fill_token_text(traj, known)
            yield traj

    def _decode(self, image, prompt, cfg=None, history=(), template=None, should_stop=None) -> Iterator[Trajectory]:
        cfg = (cfg or self.default_config).validate()
        inputs, canvas, fixed = self._prepare(image, prompt, cfg, history, template)
        yield from engine_stream(
            self.model, inputs["input_ids"], cfg, inputs["attention_mask"], inputs.get("pixel_values"),
            inputs.get("image_grid_thw"), canvas=canvas, fixed=fixed, end_token_ids=self.end_token_ids,
            should_stop=should_stop,
        )

    def branch(self, image: Optional[Image.Image], prompt: str, cfg: Optional[DecodeConfig], canvas: Sequence[int],
               fixed: Optional[Sequence[int]] = None, start_step: int = 0, start_masked: Optional[int] = None,
               history: Sequence[tuple[str, str]] = (), should_stop: Optional[Callable[[], bool]] = None,
               ) -> Iterator[Trajectory]:
        """Yield the growing Trajectory of a decode from `canvas` (docs/DESIGN.md, Branching): first the
        canvas as given, then after every iteration. ValueError names a bad canvas or setting."""
        cfg = (cfg or self.default_config).validate()
        inputs = self._inputs(image, prompt, history, len(canvas))
        yield from self._with_token_text(engine_stream(
            self.model, inputs["input_ids"], cfg, inputs["attention_mask"], inputs.get("pixel_values"),
            inputs.get("image_grid_thw"), canvas=list(canvas), fixed=fixed, start_step=start_step,
            start_masked=start_masked, end_token_ids=self.end_token_ids, should_stop=should_stop,
        ))

    def propose(self, image: Optional[Image.Image], prompt: str, cfg: Optional[DecodeConfig], canvas: Sequence[int],
                fixed: Optional[Sequence[int]] = None, start_step: int = 0, start_masked: Optional[int] = None,
                history: Sequence[tuple[str, str]] = ()) -> Proposal:
        """One iteration from `canvas`, not committed: candidates and the engine's choice (manual stepping)."""
        cfg = (cfg or self.default_config).validate()
        inputs = self._inputs(image, prompt, history, len(canvas))
        return engine_propose(self.model, inputs["input_ids"], cfg, list(canvas), fixed, start_step, start_masked,
                              inputs["attention_mask"], inputs.get("pixel_values"), inputs.get("image_grid_thw"))

    def token_ids(self, text: str) -> list[int]:
        """The tokens of a typed word, as the tokenizer splits it (a leading space is part of the word)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the word is empty")
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_texts(self, ids: Sequence[int]) -> dict[int, str]:
        return {int(t): self.tokenizer.decode([int(t)]) for t in ids}

    def generate_batch(self, items: Sequence[tuple[Optional[Image.Image], str]], cfg: Optional[DecodeConfig] = None,
                       template: Optional[str] = None) -> list[Trajectory]:
        """Answer several (image, prompt) pairs in one batch: one forward per iteration for all."""
        cfg = (cfg or self.default_config).validate()
        requests = []
        for image, prompt in items:
            inputs, canvas, fixed = self._prepare(image, prompt, cfg, (), template)
            requests.append(Request(inputs["input_ids"], inputs["attention_mask"], inputs.get("pixel_values"),
                                    inputs.get("image_grid_thw"), canvas, fixed))
        trajs = generate_batch(self.model, requests, cfg, end_token_ids=self.end_token_ids)
        for traj in trajs:
            self._fill_token_text(traj, {})
        return trajs

    def _prepare(self, image, prompt, cfg: DecodeConfig, history, template):
        """(model inputs, template canvas or None, fixed positions or None), with the model's limits checked."""
        if cfg.max_new_tokens > self.max_new_tokens_limit:
            raise ValueError(f"max_new_tokens must be at most {self.max_new_tokens_limit} for {self.name}, got {cfg.max_new_tokens}")
        canvas = fixed = None
        if template and template.strip():
            structured = self.canvas_for(template)
            canvas, fixed = structured.ids, [i for i, f in enumerate(structured.fixed) if f]
        inputs = self._inputs(image, prompt, history, len(canvas) if canvas is not None else cfg.max_new_tokens)
        return inputs, canvas, fixed

    def _inputs(self, image, prompt, history, length: int) -> dict:
        """Model inputs for a question, with the answer's `length` checked against the model's limits."""
        if length > self.max_new_tokens_limit:
            raise ValueError(f"the canvas has {length} positions; {self.name} answers in at most "
                             f"{self.max_new_tokens_limit}")
        inputs = self.encode(image, prompt, history)
        context = int(getattr(self.model.config, "max_position_embeddings", 10**9))
        if inputs["input_ids"].shape[1] + length > context:
            raise ValueError(f"prompt ({inputs['input_ids'].shape[1]} tokens) plus answer ({length}) exceed "
                             f"the model's context of {context} tokens; shorten the prompt or the history")
        return inputs

    def generate(self, *args, **kwargs) -> Trajectory:
        """Decode to the end (the arguments of `stream`); token texts are looked up once, not after every
        iteration as `stream` does for the UI."""
        traj = None
        for traj in self._decode(*args, **kwargs):
            pass
        self._fill_token_text(traj, {})
        return traj

    def _fill_token_text(self, traj: Trajectory, known: dict[int, str]) -> None:
        new = {traj.mask_token_id, traj.pad_token_id, *traj.canvas}
        for step in traj.steps[-1:] if known else traj.steps:
            new.update(step.tokens)
            new.update(t for alts in step.alternatives for t, _ in alts)
            new.update(step.ghost_tokens)
            new.update(t for top in step.ghost_top for t in top)
        new.discard(-1)
        for tok in new - known.keys():
            known[tok] = self.tokenizer.decode([tok])
        traj.token_text = known

    # ----- teaching: threshold sweep and grounding -------------------------------
    def explore(self, image: Optional[Image.Image], prompt: str, cfg: Optional[DecodeConfig] = None,
                thresholds: Sequence[float] = DEFAULT_THRESHOLDS, history: Sequence[tuple[str, str]] = (),
                template: Optional[str] = None) -> Exploration:
        """The question decoded at every threshold (one batch) and with the threshold off (see dimple.explore)."""
        cfg = (cfg or self.default_config).validate()
        inputs, canvas, fixed = self._prepare(image, prompt, cfg, history, template)
        request = Request(inputs["input_ids"], inputs["attention_mask"], inputs.get("pixel_values"),
                          inputs.get("image_grid_thw"), canvas, fixed)
        result = explore(self.model, request, cfg, thresholds, end_token_ids=self.end_token_ids)
        for row in [result.reference, *result.rows]:
            self._fill_token_text(row.trajectory, {})
        return result

    def ground(self, image: Optional[Image.Image], traj: Trajectory, position: int) -> Grounding:
        """Where in `image` (the run's picture) the model looked when it committed `position` of `traj`."""
        check_groundable(traj, position)
        if image is None:
            raise ValueError("grounding needs the image the run was asked about; none was given")
        w, h = image.size
        box = [0, 0, w, h]
        if self.card.square_images:
            s = min(w, h)
            box = [(w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s]  # as center_square crops
            image = center_square(image)
        pixels = self.image_processor([image])
        g = grounding_map(self.model, traj, position, pixels["pixel_values"].to(self.model.device),
                          pixels["image_grid_thw"].to(self.model.device))
        g.box = box
        return g

    def answer_text(self, traj: Trajectory) -> str:
        return self.decode(traj.answer_ids)

    # ----- scenes the model knows ----------------------------------------------
    def random_scene(self, seed: int) -> tuple[Image.Image, str]:
        """A fresh scene and a question it can answer, from the generator the model's card names."""
        if not self.card.scenes:
            raise ValueError(f"{self.name} has no scene generator; pick an example or upload a picture")
        return load_hook(self.card.scenes)(seed)
