"""Where the teaching tools sit on the page and which event runs which of their handlers.

Owns two pieces app/page.py places, as sections: the panel under the live
canvas (InspectorSection: the token inspector beside the grounding heatmap
and its caption), the "Threshold explorer" tab (ExplorerSection: a
thresholds box, the button, the table), and their wiring: a click on a
canvas slot (the canvas's gr.HTML triggers it with the slot's position and
the frame's step, app/static/slot_click.js via app/canvas/client.py) shows
the inspector, then the grounding; the explorer's button reads the question
form plus the thresholds. No logic of its own (handlers.py decides).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ..canvas import client as canvas_client, render
from .explorer import DEFAULT_TEXT, empty_explorer
from .inspector import empty_inspector
from .handlers import Teaching


def canvas(value: str, **kw) -> gr.HTML:
    """The live canvas (app/canvas_client.py): its slots report clicks (position, step) to the inspector."""
    return canvas_client.component(value, **kw)


@dataclass(frozen=True)
class InspectorSection:
    """Under the live canvas: what a click on a slot shows."""

    inspector: gr.HTML  # the clicked token: its step, confidence and alternatives
    grounding: gr.Image  # where the model looked for it
    grounding_note: gr.Markdown  # the heatmap's caption, or why there is none


@dataclass(frozen=True)
class ExplorerSection:
    """The "Threshold explorer" tab."""

    thresholds: gr.Textbox  # the thresholds to decode at
    button: gr.Button
    table: gr.HTML  # forward passes and answer per threshold


def panel() -> InspectorSection:
    """Under the canvas: the token inspector and the grounding heatmap."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=260):
            inspector = gr.HTML(empty_inspector(), css_template=render.CANVAS_CSS, js_on_load=None,
                                elem_id="dm-inspector")
        with gr.Column(scale=2, min_width=200):
            grounding = gr.Image(label="Grounding: where it looked", type="pil", interactive=False, height=260,
                                 elem_id="dm-grounding", buttons=[])
            grounding_note = gr.Markdown("", elem_id="dm-grounding-note")
    return InspectorSection(inspector=inspector, grounding=grounding, grounding_note=grounding_note)


def explorer_tab() -> ExplorerSection:
    with gr.Tab("Threshold explorer"):
        gr.Markdown("The current question (image, template, decoding controls) decoded at every threshold at once: "
                    "forward passes and answer at each, and where the answer changes.")
        with gr.Row():
            thresholds = gr.Textbox(DEFAULT_TEXT, label="Thresholds", scale=4, elem_id="dm-explore-thresholds")
            button = gr.Button("Explore thresholds", variant="primary", scale=1, elem_id="dm-explore")
        table = gr.HTML(empty_explorer(), css_template=render.CANVAS_CSS, js_on_load=None, elem_id="dm-explore-out")
    return ExplorerSection(thresholds=thresholds, button=button, table=table)


def wire(assistant, inspector: InspectorSection, explorer: ExplorerSection, canvas: gr.HTML, image: gr.Image,
         session: gr.State, form) -> Teaching:
    """A click on `canvas` (the live canvas) inspects the slot, then grounds it on `image`; the explorer's button
    decodes the question form at its thresholds."""
    teaching = Teaching(assistant)
    (canvas.click(teaching.inspect, [session], [inspector.inspector, session], api_visibility="private",
                  concurrency_limit=None, show_progress="hidden", trigger_mode="always_last")
     .then(teaching.ground, [image, session], [inspector.grounding, inspector.grounding_note],
           api_visibility="private", concurrency_id="grounding", concurrency_limit=2, show_progress="minimal"))

    def explore(values: dict):
        thresholds = values.pop(explorer.thresholds)
        yield from teaching.explore(form.named(values), thresholds)

    explorer.button.click(explore, form.inputs | {explorer.thresholds}, [explorer.table], api_visibility="private",
                          concurrency_id="model", show_progress="minimal")
    return teaching
