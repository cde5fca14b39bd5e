"""The teaching tools in the web API: `explore`, `inspect`, `ground`, and `generate`'s `grounding` keyword.

Owns the endpoints a script reaches with gradio_client for teaching, their
keywords and JSON, and turning bad input into a gr.Error that names it:
  * `explore` (image, prompt, thresholds, and generate's decoding keywords):
    dimple.explore's sweep as JSON, answers as text;
  * `inspect` (trajectory_json, position, step): the token inspector's record
    of a run's position (dimple.ghosts.inspect), no model needed;
  * `ground` (image, trajectory_json, position): where the model looked when
    it committed that position (dimple.grounding), per layer too;
  * `groundings`: what `generate` adds under "grounding" when asked for
    ("answer": every answer position the model committed, or "0,3,5").
It knows the assistant's `explore` / `ground`, app.inputs' checks and the
Trajectory; the endpoints are stateless.
"""

from __future__ import annotations

import logging
import time

import gradio as gr

from .explorer import parse_thresholds
from ..inputs import check_prompt, load_image, make_config
from dimple.ghosts import commit_of, inspect
from dimple.settings import DEFAULTS
from dimple.trajectory import Trajectory

log = logging.getLogger("dimple.studio")


def _error(exc: Exception, where: str):
    return gr.Error(f"{where}: {exc}", duration=8, print_exception=False)


def _trajectory(trajectory_json) -> Trajectory:
    if isinstance(trajectory_json, dict):
        return Trajectory.from_dict(trajectory_json)
    return Trajectory.from_json(str(trajectory_json or ""))


def _integer(name: str, value, allow_none: bool = False):
    if allow_none and value in (None, ""):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if x != int(x):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(x)


def grounding_positions(spec, traj: Trajectory) -> list[int]:
    """"answer" -> the answer's positions the model committed; "0,3" -> those; ValueError naming a bad one."""
    text = str(spec).strip().lower()
    if text == "answer":
        return [p for p in range(traj.answer_end) if commit_of(traj, p)[1] in ("threshold", "fallback", "last step")]
    positions = [_integer("grounding position", part) for part in text.split(",") if part.strip()]
    for p in positions:
        if not 0 <= p < traj.length:
            raise ValueError(f"grounding position {p} is outside the canvas of {traj.length} positions")
    return positions


def groundings(assistant, image, spec, traj: Trajectory) -> list[dict]:
    """`generate`'s "grounding" list (per position: the grid, without the per-layer grids)."""
    img = load_image(image)
    if img is None:
        raise ValueError("grounding needs an image; this request has none")
    out = []
    for p in grounding_positions(spec, traj):
        record = assistant.ground(img, traj, p).to_dict()
        record.pop("layers", None)
        out.append(record)
    return out


class TeachingApi:
    def __init__(self, assistant) -> None:
        self.assistant = assistant

    def explore(self, image, prompt, thresholds="", alg_p_threshold=DEFAULTS.alg_p_threshold,
                prefill=DEFAULTS.prefill, max_new_tokens=DEFAULTS.max_new_tokens, steps=DEFAULTS.steps, alg=DEFAULTS.alg,
                temperature=DEFAULTS.temperature, template="", seed=DEFAULTS.seed):
        """Decode the question at every threshold (comma list; empty: 0.05 ... 0.99) in one batch, and with the
        threshold off; returns rows of threshold, forward passes, answer text and where the answer changes.
        (`alg_p_threshold` is ignored: the sweep sets it.)"""
        try:
            limit = int(self.assistant.max_new_tokens_limit)
            values = parse_thresholds(thresholds)
            cfg = make_config(alg_p_threshold=DEFAULTS.alg_p_threshold, prefill=prefill,
                              max_new_tokens=max_new_tokens, steps=steps, alg=alg, temperature=temperature, seed=seed,
                              max_new_tokens_limit=limit)
            template = template if isinstance(template, str) and template.strip() else None
            t0 = time.perf_counter()
            result = self.assistant.explore(load_image(image), check_prompt(prompt), cfg, values, template=template)
            out = result.to_dict(text=self.assistant.decode)
            out["latency_s"] = round(time.perf_counter() - t0, 4)
            return out
        except ValueError as exc:
            raise _error(exc, "explore") from None

    def inspect(self, trajectory_json, position, step=None):
        """The token inspector for one position of a run (its "trajectory" JSON): top-k candidates at `step`
        (1..nfe; empty: the step that committed it), its guesses step by step, the committing step and rule."""
        try:
            traj = _trajectory(trajectory_json)
            return inspect(traj, _integer("position", position), _integer("step", step, allow_none=True))
        except ValueError as exc:
            raise _error(exc, "inspect") from None

    def ground(self, image, trajectory_json, position):
        """Where the model looked (attention to the image tokens) when it committed `position` of the run."""
        try:
            traj = _trajectory(trajectory_json)
            pos = _integer("position", position)
            img = load_image(image)
            if img is None:
                raise ValueError("grounding needs the image the run was asked about; none was given")
            return self.assistant.ground(img, traj, pos).to_dict()
        except ValueError as exc:
            raise _error(exc, "ground") from None


def register(assistant, image, prompt, thr, prefill, max_new, steps, alg, temperature, template, seed,
             traj_json, out) -> TeachingApi:
    """Wire the endpoints to api.register's hidden components (call inside its hidden column)."""
    api = TeachingApi(assistant)
    thresholds = gr.Textbox(label="thresholds", value="")
    position = gr.Number(label="position", value=0, precision=0)
    step = gr.Number(label="step", value=None, precision=0)
    gr.Button("explore").click(api.explore, [image, prompt, thresholds, thr, prefill, max_new, steps, alg,
                                             temperature, template, seed], out, api_name="explore",
                               concurrency_id="model")
    gr.Button("inspect").click(api.inspect, [traj_json, position, step], out, api_name="inspect",
                               concurrency_limit=None)
    gr.Button("ground").click(api.ground, [image, traj_json, position], out, api_name="ground",
                              concurrency_id="grounding", concurrency_limit=2)
    return api
