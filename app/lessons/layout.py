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

from dataclasses import dataclass

import gradio as gr

from .. import static
from ..canvas import render
from .handlers import Lessons, place_query
from .content import LESSONS


def open_button() -> gr.Button:
    """The header's entry: one click from the first screen."""
    return gr.Button(f"\U0001F393 Lessons ({len(LESSONS)})", size="sm", variant="secondary", elem_id="dm-lessons-open")


@dataclass(frozen=True)
class LessonsSection:
    """The Lessons panel's components (its opener is the header's: `open_button`)."""

    panel: gr.Column  # the whole panel, hidden until a lesson opens
    title: gr.Markdown  # "Lesson N of M: title"
    message: gr.Markdown  # what to do now, or what went wrong
    image: gr.Image  # the lesson's example picture
    text: gr.Markdown  # the lesson's sentences
    predict: gr.Radio  # the visitor's prediction before the run
    previous: gr.Button
    run: gr.Button  # Run & reveal
    next: gr.Button
    close: gr.Button
    reveal: gr.HTML  # the run's canvas and whether the prediction held
    place: gr.State  # {lesson, step, guess}: where the visitor is
    query: gr.Textbox  # hidden: the place as "?lesson=N&..." for the address bar (lesson_place.js)


def build() -> LessonsSection:
    """The panel, hidden at first (call where it should appear: under the header)."""
    with gr.Column(visible=False, elem_id="dm-lessons") as panel:
        title = gr.Markdown("", elem_id="dm-lesson-title")
        message = gr.Markdown("", elem_id="dm-lesson-msg")
        with gr.Row(equal_height=False):
            image = gr.Image(label="The lesson's picture", type="filepath", height=180, interactive=False,
                             scale=1, min_width=160, elem_id="dm-lesson-image", buttons=[])
            with gr.Column(scale=3, min_width=260):
                text = gr.Markdown("", elem_id="dm-lesson-text")
                predict = gr.Radio([], label="Predict", elem_id="dm-lesson-predict")
        with gr.Row():
            previous = gr.Button("\u2190 Previous", size="sm", elem_id="dm-lesson-prev")
            run = gr.Button("Run & reveal", variant="primary", elem_id="dm-lesson-run")
            next_ = gr.Button("Next \u2192", size="sm", elem_id="dm-lesson-next")
            close = gr.Button("Close lessons", size="sm", elem_id="dm-lessons-close")
        reveal = gr.HTML("", css_template=render.CANVAS_CSS + static.text("lessons.css"), js_on_load=None,
                         elem_id="dm-lesson-reveal")
        place = gr.State({})
        query = gr.Textbox(visible=False)
    return LessonsSection(panel=panel, title=title, message=message, image=image, text=text, predict=predict,
                          previous=previous, run=run, next=next_, close=close, reveal=reveal, place=place, query=query)


def wire(assistant, ui: LessonsSection, opener: gr.Button, loaded) -> Lessons:
    """The panel's events; `opener` is the header's Lessons button, `loaded` the page's load chain (a `?lesson=N`
    link opens its lesson)."""
    lessons = Lessons(assistant)
    shown = [ui.panel, ui.title, ui.image, ui.text, ui.predict, ui.reveal, ui.message, ui.place]
    quiet = dict(api_visibility="private", queue=False)

    def to_address(event):
        event.then(place_query, [ui.place], [ui.query], **quiet).then(
            None, [ui.query], None, js=static.text("lesson_place.js"))

    to_address(opener.click(lambda: lessons.open(1), None, shown, **quiet))
    to_address(ui.next.click(lessons.next, [ui.place], shown, **quiet))
    to_address(ui.previous.click(lessons.previous, [ui.place], shown, **quiet))
    to_address(ui.close.click(lambda: (gr.update(visible=False), {}), None, [ui.panel, ui.place], **quiet))
    ran = ui.run.click(lessons.run, [ui.place, ui.predict], [ui.reveal, ui.place], api_visibility="private",
                       concurrency_id="model", show_progress="minimal")
    to_address(ran)
    opened = loaded.then(lessons.from_url, None, shown, **quiet)
    to_address(opened.then(lessons.resume, [ui.place], [ui.reveal, ui.place],
                           api_visibility="private", concurrency_id="model", show_progress="minimal"))
    return lessons
