"""Where the Lessons panel sits and which event runs which lesson handler; the address bar follows the lesson.

Owns the panel (hidden until the header's "Lessons" button or a `?lesson=N`
link opens it): the heading "Lesson N of M: title", the example picture, the
sentences, the prediction (a radio), Run & reveal, Previous / Next / Close,
and the reveal. After every move the browser writes the place into the
address (`?lesson=N&step=S&guess=K`, history.replaceState), so a reload or a
shared link lands on the same lesson and step; the page title says "Lesson N"
too (app/static/lesson_place.js; the panel's look is app/static/lessons.css).
No logic of its own (handlers.py, logic.py decide).
"""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from .. import static
from ..canvas import render
from .handlers import Lessons, place_query
from .content import LESSONS


def open_button() -> gr.Button:
    """The header's entry: one click from the first screen."""
    return gr.Button(f"\U0001F393 Lessons ({len(LESSONS)})", size="sm", variant="secondary", elem_id="dm-lessons-open")


def build(ui: SimpleNamespace) -> None:
    """The panel, hidden at first (call where it should appear: under the header)."""
    with gr.Column(visible=False, elem_id="dm-lessons") as ui.lessons_panel:
        ui.lesson_title = gr.Markdown("", elem_id="dm-lesson-title")
        ui.lesson_msg = gr.Markdown("", elem_id="dm-lesson-msg")
        with gr.Row(equal_height=False):
            ui.lesson_image = gr.Image(label="The lesson's picture", type="filepath", height=180, interactive=False,
                                       scale=1, min_width=160, elem_id="dm-lesson-image", buttons=[])
            with gr.Column(scale=3, min_width=260):
                ui.lesson_text = gr.Markdown("", elem_id="dm-lesson-text")
                ui.lesson_predict = gr.Radio([], label="Predict", elem_id="dm-lesson-predict")
        with gr.Row():
            ui.lesson_prev = gr.Button("\u2190 Previous", size="sm", elem_id="dm-lesson-prev")
            ui.lesson_run = gr.Button("Run & reveal", variant="primary", elem_id="dm-lesson-run")
            ui.lesson_next = gr.Button("Next \u2192", size="sm", elem_id="dm-lesson-next")
            ui.lesson_close = gr.Button("Close lessons", size="sm", elem_id="dm-lessons-close")
        ui.lesson_reveal = gr.HTML("", css_template=render.CANVAS_CSS + static.text("lessons.css"), js_on_load=None,
                                   elem_id="dm-lesson-reveal")
        ui.lesson_place = gr.State({})
        ui.lesson_query = gr.Textbox(visible=False)


def wire(assistant, ui: SimpleNamespace, loaded) -> Lessons:
    """The panel's events; `loaded` is the page's load chain (a `?lesson=N` link opens its lesson)."""
    lessons = Lessons(assistant)
    shown = [ui.lessons_panel, ui.lesson_title, ui.lesson_image, ui.lesson_text, ui.lesson_predict,
             ui.lesson_reveal, ui.lesson_msg, ui.lesson_place]
    quiet = dict(api_visibility="private", queue=False)

    def to_address(event):
        event.then(place_query, [ui.lesson_place], [ui.lesson_query], **quiet).then(
            None, [ui.lesson_query], None, js=static.text("lesson_place.js"))

    to_address(ui.lessons_open.click(lambda: lessons.open(1), None, shown, **quiet))
    to_address(ui.lesson_next.click(lessons.next, [ui.lesson_place], shown, **quiet))
    to_address(ui.lesson_prev.click(lessons.previous, [ui.lesson_place], shown, **quiet))
    to_address(ui.lesson_close.click(lambda: (gr.update(visible=False), {}), None,
                                     [ui.lessons_panel, ui.lesson_place], **quiet))
    ran = ui.lesson_run.click(lessons.run, [ui.lesson_place, ui.lesson_predict], [ui.lesson_reveal, ui.lesson_place],
                              api_visibility="private", concurrency_id="model", show_progress="minimal")
    to_address(ran)
    opened = loaded.then(lessons.from_url, None, shown, **quiet)
    to_address(opened.then(lessons.resume, [ui.lesson_place], [ui.lesson_reveal, ui.lesson_place],
                           api_visibility="private", concurrency_id="model", show_progress="minimal"))
    return lessons
