"""A stand-in for `dimple.Assistant` and hand-made Trajectory records, for UI tests.

Owns nothing of the real model: it fabricates decoding runs with the same
record (`dimple.trajectory.Trajectory`) and meets the same interface the app
calls (`app.protocol.StudioAssistant`: `stream`, `generate_batch`,
`canvas_for`, `random_scene`, `decode`, `explore`, `ground` and the model facts), so the rendering,
export and layout code can be tested fast and without weights. The real model
is tested against the same app elsewhere.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from dimple.config import DecodeConfig
from dimple.explore import DEFAULT_THRESHOLDS, Exploration, ExploreRow, check_thresholds
from dimple.grounding import Grounding, check_groundable
from dimple.trajectory import Step, Trajectory

WORDS = ["<mask>", "<|endoftext|>", "<pad>", "The", " red", " circle", " is", " left", " of", " the", " blue",
         " square", ".", "Answer", ":", " Because", " 3", " yes", " no", "\n", " green", " triangle", "{", "}",
         '"', "color", "shape", " two", "1", "2"]
MASK, END, PAD = 0, 1, 2
VOCAB = {w: i for i, w in enumerate(WORDS)}
ANSWER = ["The", " red", " circle", " is", " left", " of", " the", " blue", " square", "."]


class FakeTemplateError(ValueError):
    pass


@dataclass
class Preview:
    pieces: list = field(default_factory=list)
    length: int = 0
    warnings: list = field(default_factory=list)


def make_trajectory(length: int = 16, template: list | None = None, seed: int = 0, threshold: float = 0.9,
                    steps: int = 16, alg: str = "maskgit_plus") -> Trajectory:
    """A plausible decode: the answer, an end token, padding; fixed tokens where `template` says."""
    rng = random.Random(seed)
    canvas = list(template) if template is not None else [MASK] * length
    length = len(canvas)
    fixed = [t != MASK for t in canvas]
    target = [VOCAB[w] for w in ANSWER] + [END] + [PAD] * length
    final = [canvas[i] if fixed[i] else target[i] for i in range(length)]
    masked = [i for i in range(length) if not fixed[i]]
    traj = Trajectory(prompt_ids=[5, 6, 7], canvas=canvas, fixed=fixed, mask_token_id=MASK,
                      end_token_ids=[END, PAD], token_text={i: w for i, w in enumerate(WORDS)},
                      config=DecodeConfig(max_new_tokens=length, steps=steps, alg=alg,
                                          alg_p_threshold=threshold).to_dict())
    i = 0
    while masked:
        scores = {p: rng.uniform(0.3, 1.0) for p in masked}
        chosen = [p for p in masked if scores[p] >= threshold] if threshold > 0 else []
        fallback = not chosen
        if fallback:
            chosen = sorted(masked, key=lambda p: -scores[p])[: max(1, len(masked) // 4)]
        if i == steps - 1:
            chosen, fallback = list(masked), True
        chosen.sort()
        # the ghosts: a still-unsure position may guess " green" first; the top-3 is (answer, " green", " blue")
        guess = {p: final[p] if p in chosen or scores[p] > 0.5 else VOCAB[" green"] for p in masked}
        top = {p: [final[p], VOCAB[" green"], VOCAB[" blue"]] for p in masked}
        top_p = {p: [round(scores[p], 4), round((1 - scores[p]) / 2, 4), round((1 - scores[p]) / 4, 4)] for p in masked}
        traj.steps.append(Step(index=i, positions=chosen, tokens=[final[p] for p in chosen],
                               confidences=[scores[p] for p in chosen], fallback=fallback,
                               masked_confidence=[scores[p] for p in masked],
                               alternatives=[[(final[p], scores[p]), (VOCAB[" green"], (1 - scores[p]) / 2)]
                                             for p in chosen], seconds=0.01,
                               ghost_tokens=[guess[p] for p in masked], ghost_top=[top[p] for p in masked],
                               ghost_top_p=[top_p[p] for p in masked]))
        masked = [p for p in masked if p not in chosen]
        i += 1
    traj.prefill_seconds = 0.012
    traj.total_seconds = 0.01 * len(traj.steps) + 0.002
    return traj


class FakeAssistant:
    name = "fake"
    device = "cpu"
    about = "A **fake** model for tests: it always talks about a red circle left of a blue square."
    presets = {"Exact length (6 tokens)": "<mask:6><eos>", "Colour": "Color: <mask:2>.<eos>"}
    suggestions = ("Describe the image.", "Where is the red circle?")
    draws_scenes = True
    max_new_tokens_limit = 64

    def __init__(self, step_seconds: float = 0.02, fail_on: str | None = None):
        self.step_seconds = step_seconds
        self.fail_on = fail_on  # a prompt containing this fails mid-decode (a fault inside one generation)
        self.default_config = DecodeConfig(max_new_tokens=16, steps=16)

    @classmethod
    def load(cls, name="fake", device="cpu"):
        return cls()

    def parse_template(self, template: str) -> list[int]:
        out = []
        pos = 0
        for m in re.finditer(r"<mask(?::(\d+))?>|<eos>|([^<]+)|(<)", template):
            if m.group(0) == "<eos>":
                out.append(END)
            elif m.group(0).startswith("<mask"):
                out.extend([MASK] * int(m.group(1) or 1))
            elif m.group(3):
                raise FakeTemplateError(f"unknown tag at character {m.start()}")
            else:
                for word in re.findall(r"\s?\S+|\s", m.group(2)):
                    if word not in VOCAB:
                        raise FakeTemplateError(f"unknown word {word!r} at character {m.start() + pos}")
                    out.append(VOCAB[word])
        if len(out) > self.max_new_tokens_limit:
            raise FakeTemplateError(f"template is {len(out)} tokens, over the limit of {self.max_new_tokens_limit}")
        return out

    def canvas_for(self, template: str, limit: int | None = None) -> Preview:
        limit = limit or self.max_new_tokens_limit
        ids = self.parse_template(template)
        return Preview(pieces=[("", False) if t == MASK else (WORDS[t], True) for t in ids], length=len(ids),
                       warnings=[f"the template exceeds the limit of {limit}"] if len(ids) > limit else [])

    def stream(self, image, prompt, cfg=None, history=(), template=None, should_stop=None):
        if not prompt or not prompt.strip():
            raise ValueError("prompt is empty")
        cfg = (cfg or self.default_config).validate()
        canvas = self.parse_template(template) if template else None
        full = make_trajectory(cfg.max_new_tokens, canvas, seed=cfg.seed or 0, threshold=cfg.alg_p_threshold,
                               steps=cfg.steps, alg=cfg.alg)
        traj = Trajectory(prompt_ids=full.prompt_ids, canvas=full.canvas, fixed=full.fixed,
                          mask_token_id=MASK, end_token_ids=full.end_token_ids, config=cfg.to_dict(),
                          token_text=full.token_text)
        start = time.perf_counter()
        yield traj
        for step in full.steps:
            if should_stop is not None and should_stop():
                traj.stopped = True
                break
            time.sleep(self.step_seconds * (3 if step.index == 0 and cfg.prefill else 1))
            if self.fail_on and self.fail_on in prompt and step.index == 1:
                raise RuntimeError("injected fault")
            step.seconds = self.step_seconds
            traj.steps.append(step)
            if step.index == 0:
                traj.prefill_seconds = time.perf_counter() - start
            traj.total_seconds = time.perf_counter() - start
            yield traj

    def generate_batch(self, items, cfg=None, template=None):
        trajs = []
        for image, prompt in items:
            for traj in self.stream(image, prompt, cfg or self.default_config, template=template):
                pass
            trajs.append(traj)
        return trajs

    def explore(self, image, prompt, cfg=None, thresholds=DEFAULT_THRESHOLDS, history=(), template=None):
        """The fake decode at every threshold (each its own run), with dimple.explore's marks."""
        cfg = (cfg or self.default_config).validate()
        values = check_thresholds(thresholds)
        canvas = self.parse_template(template) if template else None
        runs = [make_trajectory(cfg.max_new_tokens, canvas, seed=cfg.seed or 0, threshold=t, steps=cfg.steps)
                for t in [0.0, *values]]
        reference = ExploreRow(0.0, runs[0])
        rows = [ExploreRow(t, traj) for t, traj in zip(values, runs[1:])]
        previous = reference.answer_ids
        for row in rows:
            row.changed, row.differs = row.answer_ids != previous, row.answer_ids != reference.answer_ids
            previous = row.answer_ids
        return Exploration(rows, reference, 0.01 * len(runs))

    def ground(self, image, traj, position):
        """A grid that peaks on the cell of the position's number (mod 9), after the real checks."""
        step = check_groundable(traj, position)
        if image is None:
            raise ValueError("grounding needs the image the run was asked about; none was given")
        grid = [[0.05] * 3 for _ in range(3)]
        grid[(position % 9) // 3][position % 3] = 0.6
        return Grounding(position, step, traj.response_ids[position], grid, [grid], image_share=0.3)
    def branch(self, image, prompt, cfg, canvas, fixed=None, start_step=0, start_masked=None, history=(),
               should_stop=None):
        """A fabricated decode from `canvas`: masked positions get the fake answer, a few per step."""
        cfg = (cfg or self.default_config).validate()
        canvas = list(canvas)
        given = [t != MASK for t in canvas]
        traj = Trajectory(prompt_ids=[5, 6, 7], canvas=canvas, mask_token_id=MASK, end_token_ids=[END, PAD],
                          fixed=[i in (fixed if fixed is not None else [i for i, g in enumerate(given) if g])
                                 for i in range(len(canvas))],
                          config=cfg.to_dict(), token_text=dict(enumerate(WORDS)), start_step=start_step,
                          start_masked=start_masked or max(1, canvas.count(MASK)))
        yield traj
        target = [VOCAB[w] for w in ANSWER] + [END] + [PAD] * len(canvas)
        masked = [i for i, t in enumerate(canvas) if t == MASK]
        while masked:
            if should_stop is not None and should_stop():
                traj.stopped = True
                return
            chosen, masked = masked[:3], masked[3:]
            traj.steps.append(Step(index=len(traj.steps), positions=chosen, tokens=[target[p] for p in chosen],
                                   confidences=[0.9] * len(chosen), fallback=False,
                                   alternatives=[[(target[p], 0.9), (VOCAB[" green"], 0.05)] for p in chosen]))
            yield traj

    def propose(self, image, prompt, cfg, canvas, fixed=None, start_step=0, start_masked=None, history=()):
        from dimple.stepping import Proposal

        masked = [i for i, t in enumerate(canvas) if t == MASK]
        target = [VOCAB[w] for w in ANSWER] + [END] + [PAD] * len(canvas)
        cands = [[(target[p], 0.9), (VOCAB[" green"], 0.05)] for p in masked]
        return Proposal(iteration=start_step, prompt_ids=[5, 6, 7], masked=masked, candidates=cands,
                        tokens=[target[p] for p in masked], confidences=[0.9] * len(masked),
                        default=masked[:2], fallback=False)

    def token_ids(self, text):
        words = re.findall(r"\s?\S+", text)
        if not words or any(w not in VOCAB for w in words):
            raise ValueError(f"unknown word {text!r}")
        return [VOCAB[w] for w in words]

    def token_texts(self, ids):
        return {i: WORDS[i] for i in ids}

    def decode(self, ids):
        return "".join(WORDS[i] for i in ids if i not in (MASK, END, PAD))

    def random_scene(self, seed):
        rng = random.Random(seed)
        img = Image.new("RGB", (96, 96), "white")
        d = ImageDraw.Draw(img)
        for _ in range(2):
            x, y = rng.randint(5, 60), rng.randint(5, 60)
            d.ellipse([x, y, x + 25, y + 25], fill=rng.choice(["red", "blue", "green"]))
        return img, "How many shapes are there?"
