"""The Race tab: its components and events (one click decodes the question twice, side by side, live).

Owns what the tab shows (a short explanation, Race and Stop, the two live
canvases with their counters, the verdict) and the event that runs
race/run.py inside the session's run controller (app/runs.py via
app.request.running: the page's Stop, or this tab's, stops both sides). The
question, image, template and settings are the page's form; the playback
speed paces it. It knows nothing of decoding.
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from ..canvas import client as canvas_client, render
from ..form import Form, controls
from ..request import checked, question, running
from ..session import Session
from . import run


def build(ui: SimpleNamespace) -> None:
    """The tab's body (call inside a gr.Tab)."""
    gr.Markdown("One click decodes the question twice, at the same time: **confident decoding** with the current "
                "settings, and **one token per step** in the autoregressive order (leftmost mask first). Each side "
                "counts its own forward passes and time. The playback speed slows both down for a class.")
    with gr.Row():
        ui.race_go = gr.Button("Race", variant="primary", elem_id="dm-race")
        ui.race_stop = gr.Button("Stop", variant="stop", elem_id="dm-race-stop")
    ui.race_verdict = gr.Markdown("", elem_id="dm-race-verdict")
    with gr.Row():
        with gr.Column():
            ui.race_a = canvas_client.component(render.empty_canvas("Confident decoding runs here."),
                                                elem_id="dm-race-a")
            ui.race_stats_a = gr.HTML("", css_template=render.CANVAS_CSS, elem_id="dm-race-stats-a")
        with gr.Column():
            ui.race_b = canvas_client.component(render.empty_canvas("One token per step runs here."),
                                                elem_id="dm-race-b")
            ui.race_stats_b = gr.HTML("", css_template=render.CANVAS_CSS, elem_id="dm-race-stats-b")


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


def wire(assistant, ui: SimpleNamespace, form: Form) -> None:
    outputs = [ui.race_a, ui.race_b, ui.race_stats_a, ui.race_stats_b, ui.race_verdict]
    ui.race_go.click(form.stream(handler(assistant)), form.inputs, outputs, concurrency_id="model",
                     show_progress="minimal", api_visibility="private")
    ui.race_stop.click(lambda s: s.runs.stop() if isinstance(s, Session) else None, [ui.session], None,
                       queue=False, api_visibility="private")
