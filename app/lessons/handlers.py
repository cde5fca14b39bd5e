"""The lessons' handlers: open a lesson, run its example and reveal, move to the next one.

Owns what happens in the Lessons panel: `open` shows a lesson (its picture,
question, sentences and prediction) without running anything; `run` decodes
its runs through the assistant, reads their facts (app/lessons/logic.py) and
builds the reveal; `from_url` opens the lesson a `?lesson=N&step=S` link
names (a bad number gives a message, never an error). `run_lesson` is the
model-facing piece the tests call. HTML of the reveal is made here from the
canvas renderer; wiring is app/lessons/layout.py's.
"""

from __future__ import annotations

import html
import logging
import os
from dataclasses import replace
from typing import Optional

import gradio as gr

from ..canvas import render
from ..inputs import load_image
from .content import LESSONS, Lesson
from .logic import PREDICT, REVEALED, Reveal, Run, lesson_heading, parse_place, reveal, run_from
from dimple.branching import resume_point
from dimple.loading import ASSETS

log = logging.getLogger("dimple.studio")
EXAMPLES_DIR = ASSETS / "examples"


def image_path(lesson: Lesson) -> str:
    return str(EXAMPLES_DIR / lesson.image)


def run_lesson(assistant, lesson: Lesson) -> list[tuple[Run, object]]:
    """Decode a lesson's runs on `assistant` (the model's defaults, each run's settings over them) ->
    [(Run, Trajectory)], the baseline first. The template, if any, applies to the second run; with
    `branch_after`, the second run is a branch of the first."""
    image = load_image(image_path(lesson))
    limit = int(assistant.max_new_tokens_limit)
    out = []
    for i, (label, settings) in enumerate(lesson.runs):
        base = assistant.default_config
        cfg = replace(base, **{"max_new_tokens": min(base.max_new_tokens, limit), **settings})
        if "steps" not in settings:
            cfg = replace(cfg, steps=cfg.max_new_tokens)
        if i == 1 and lesson.branch_after:
            traj = branch_of(assistant, image, lesson, cfg.validate(), out[0][1])
        else:
            template = lesson.template if (i == 1 and lesson.template) else None
            traj = assistant.generate(image, lesson.question, cfg.validate(), template=template)
        out.append((run_from(label, traj, assistant.answer_text(traj)), traj))
    return out


def branch_of(assistant, image, lesson: Lesson, cfg, parent):
    """The finished branch of `parent` from its canvas after `lesson.branch_after` passes (after its last if it
    took fewer), decoded with `cfg` (the studio's Branch button does the same: dimple.branching)."""
    point = resume_point(parent, min(lesson.branch_after, parent.nfe))
    traj = None
    for traj in assistant.branch(image, lesson.question, cfg, **point):
        pass
    return traj


def _settings_line(lesson: Lesson) -> str:
    parts = []
    for label, settings in lesson.runs:
        shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or "the model's defaults"
        parts.append(f"**{label}**: {shown}")
    if lesson.template:
        parts.append(f"template `{lesson.template}`")
    if lesson.branch_after:
        parts.append(f"the second run starts from the first run's canvas after pass {lesson.branch_after}")
    return "Runs: " + "; ".join(parts)


def reveal_html(lesson: Lesson, runs: list[tuple[Run, object]], result: Reveal) -> str:
    mark = "dm-right" if result.guessed == result.right else "dm-wrong"
    rows = "".join(f"<tr><td>{html.escape(r.label)}</td><td class='dm-nfe'>{r.nfe}</td><td>{r.tokens}</td>"
                   f"<td>{r.tpf:g}</td><td>{html.escape(r.text)}</td></tr>" for r, _ in runs)
    canvases = "".join(render.render_canvas(traj, title=html.escape(r.label)) for r, traj in runs)
    return (f"<div class='dm-lesson-reveal'><p class='{mark}'><b>{html.escape(result.verdict)}</b> The answer: "
            f"<b class='dm-lesson-answer'>{html.escape(lesson.choices[result.right])}</b>.</p>"
            f"<p class='dm-lesson-why'>{html.escape(result.why)}</p>"
            "<table class='dm-lesson-table'><tr><th>run</th><th>forward passes</th><th>answer tokens</th>"
            f"<th>tokens per pass</th><th>answer</th></tr>{rows}</table>{canvases}</div>")


def view(number: int) -> tuple:
    """Lesson `number` (1-based) before its run -> (heading, image, text, prediction radio, reveal html)."""
    lesson = LESSONS[number - 1]
    text = (f"**Question:** \u201c{lesson.question}\u201d\n\n{lesson.explain}\n\n{_settings_line(lesson)}")
    radio = gr.update(choices=list(lesson.choices), value=None, label=f"Predict: {lesson.predict}")
    return f"## {lesson_heading(number)}", image_path(lesson), text, radio, ""


class Lessons:
    def __init__(self, assistant) -> None:
        self.assistant = assistant

    def open(self, number: int):
        """-> (panel, heading, image, text, radio, reveal, message, place)."""
        number = max(1, min(int(number or 1), len(LESSONS)))
        return (gr.update(visible=True), *view(number), "", {"lesson": number, "step": PREDICT, "guess": None})

    def next(self, place: Optional[dict]):
        number = (place or {}).get("lesson") or 0
        return self.open(number % len(LESSONS) + 1)

    def previous(self, place: Optional[dict]):
        number = (place or {}).get("lesson") or 1
        return self.open((number - 2) % len(LESSONS) + 1)

    def from_url(self, request: gr.Request):
        """On page load: the lesson a `?lesson=N&step=S&guess=K` link names, or nothing (or a message)."""
        params = dict(getattr(request, "query_params", {}) or {})
        number, step, message = parse_place(params.get("lesson"), params.get("step"))
        if message:
            return (gr.update(visible=True), *view(1), message, {"lesson": 1, "step": PREDICT, "guess": None})
        if number is None:
            return tuple(gr.skip() for _ in range(8))
        out = list(self.open(number))
        guess = str(params.get("guess", ""))
        choices = LESSONS[number - 1].choices
        guessed = int(guess) if guess.isdigit() and int(guess) < len(choices) else None
        if guessed is not None:
            out[4] = gr.update(choices=list(choices), value=choices[guessed],
                               label=f"Predict: {LESSONS[number - 1].predict}")
        out[7] = {"lesson": number, "step": step, "guess": guessed}
        return tuple(out)

    def resume(self, place: Optional[dict]):
        """After a reload at the reveal step: run again and reveal (the step survives a reload)."""
        if not place or place.get("step") != REVEALED:
            return gr.skip(), gr.skip()
        return self._reveal(place["lesson"], place.get("guess"))

    def run(self, place: Optional[dict], choice: Optional[str]):
        """Run & reveal -> (reveal html, place)."""
        number = (place or {}).get("lesson") or 1
        choices = LESSONS[number - 1].choices
        return self._reveal(number, choices.index(choice) if choice in choices else None)

    def _reveal(self, number: int, guessed: Optional[int]):
        lesson = LESSONS[number - 1]
        try:
            runs = run_lesson(self.assistant, lesson)
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        result = reveal(lesson, [r for r, _ in runs], guessed)
        return reveal_html(lesson, runs, result), {"lesson": number, "step": REVEALED, "guess": guessed}


def place_query(place: Optional[dict]) -> str:
    """The query string that brings a visitor back to `place` (the browser writes it into the address bar)."""
    if not place or not place.get("lesson"):
        return ""
    q = f"?lesson={place['lesson']}&step={place.get('step') or PREDICT}"
    return q + (f"&guess={place['guess']}" if place.get("guess") is not None else "")
