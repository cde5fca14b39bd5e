"""The Race tab: its components and events (one click decodes the question twice, side by side, live).

Owns what the tab shows (a short explanation, Race and Stop, the two live
canvases with their counters, the verdict) and the event that runs
race/run.py inside the session's run controller (app/runs.py via
app.request.running: the page's Stop, or this tab's, stops both sides). The
question, image, template and settings are the page's form; the playback
speed paces it. It knows nothing of decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ..canvas import client as canvas_client, render
from ..form import Form, controls
from ..request import checked, question, running
from ..session import Session
from . import run


@dataclass(frozen=True)
class RaceSection:
    """The Race tab's components."""

    go: gr.Button  # Race: decode the page's question both ways at once
    stop: gr.Button  # stops both sides (the page's Stop does too)
    verdict: gr.Markdown  # who finished first, in how many passes
    canvas_a: gr.HTML  # confident decoding, live
    canvas_b: gr.HTML  # one token per step, live
    stats_a: gr.HTML  # each side's counters
    stats_b: gr.HTML


def build() -> RaceSection:
    """The tab's body (call inside a gr.Tab)."""
    gr.Markdown("One click decodes the question twice, at the same time: **confident decoding** with the current "
                "settings, and **one token per step** in the autoregressive order (leftmost mask first). Each side "
                "counts its own forward passes and time. The playback speed slows both down for a class.")
    with gr.Row():
        go = gr.Button("Race", variant="primary", elem_id="dm-race")
        stop = gr.Button("Stop", variant="stop", elem_id="dm-race-stop")
    verdict = gr.Markdown("", elem_id="dm-race-verdict")
    with gr.Row():
        with gr.Column():
            canvas_a = canvas_client.component(render.empty_canvas("Confident decoding runs here."),
                                               elem_id="dm-race-a")
            stats_a = gr.HTML("", css_template=render.CANVAS_CSS, elem_id="dm-race-stats-a")
        with gr.Column():
            canvas_b = canvas_client.component(render.empty_canvas("One token per step runs here."),
                                               elem_id="dm-race-b")
            stats_b = gr.HTML("", css_template=render.CANVAS_CSS, elem_id="dm-race-stats-b")
    return RaceSection(go=go, stop=stop, verdict=verdict, canvas_a=canvas_a, canvas_b=canvas_b, stats_a=stats_a,
                       stats_b=stats_b)


def handler(assistant):
    """The event function: the form's question -> race/run.py's frames, inside the session's run."""
    def race(form: dict):
        session = form["session"] if isinstance(form["session"], Session) else Session()
        prompt = form["prompt"] if (form["prompt"] or "").strip() else session.question
        with running(session) as should_stop:
            req = question(assistant, form["image"], prompt, form["template"], controls(form))
            with checked():
                yield from run.race(assistant, req, should_stop, form.get("speed"))

    return race


def wire(assistant, ui: RaceSection, session: gr.State, form: Form) -> None:
    outputs = [ui.canvas_a, ui.canvas_b, ui.stats_a, ui.stats_b, ui.verdict]
    ui.go.click(form.stream(handler(assistant)), form.inputs, outputs, concurrency_id="model",
                show_progress="minimal", api_visibility="private")
    ui.stop.click(lambda s: s.runs.stop() if isinstance(s, Session) else None, [session], None,
                  queue=False, api_visibility="private")
