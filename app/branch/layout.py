"""The Branch tab, its components (a BranchSection) and their wiring (app/page.py calls `build`, then `wire`).

Owns what is where in the tab: the run and replay-step pickers, the editor
canvas (clicks arrive as a custom `pick` event carrying the position), the
candidate list and word box with their buttons, Resume, the live branch
canvas, the branch menu with its replay slider, the side-by-side comparison,
and the manual-stepping panel. Handlers are app/branching.py's and
app/manual.py's; it holds no logic of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from . import view as branch_view
from .. import static
from ..canvas import render
from .handlers import Brancher
from .manual import ManualStepper

QUIET = dict(api_visibility="private", concurrency_limit=None, show_progress="hidden")
MODEL = dict(api_visibility="private", concurrency_id="model", show_progress="minimal")


def _html(value: str, elem_id: str, clickable: bool = False) -> gr.HTML:
    """A canvas of the tab; a `clickable` one sends the custom event `pick` with the clicked position."""
    return gr.HTML(value, css_template=render.CANVAS_CSS + static.text("branch.css"),
                   js_on_load=static.text("branch_pick.js") if clickable else None, elem_id=elem_id)


@dataclass(frozen=True)
class BranchSection:
    """The Branch tab's components."""

    tab: gr.Tab  # opening it refreshes the pickers
    source: gr.Dropdown  # the run to branch from (the original or a branch)
    step: gr.Slider  # its replay step to branch from
    open: gr.Button  # Edit this step
    editor: gr.HTML  # the canvas being edited; a click sends `pick`
    candidates: gr.Radio  # the selected position's recorded top-k
    set_candidate: gr.Button
    word: gr.Textbox  # or a typed word
    set_word: gr.Button
    remask: gr.Button
    lock: gr.Button
    remask_rest: gr.Button  # re-mask all but the edited and locked positions
    resume: gr.Button  # decode the rest with the current settings
    manual_start: gr.Button  # Step by hand
    message: gr.Markdown  # what happened, or why not
    live: gr.HTML  # the branch decoding, live
    view: gr.Dropdown  # the branch to show
    replay: gr.Slider  # its replay step
    compare: gr.HTML  # the branch beside the run it was taken from
    manual: gr.HTML  # the manual decode's canvas; a click sends `pick`
    manual_candidates: gr.Radio  # candidates for the picked position
    accept: gr.Button  # the engine's choice
    commit: gr.Button  # the person's picks
    manual_message: gr.Markdown


def _intro() -> None:
    gr.Markdown("Change the course of a decode: pick a run and a replay step, edit the canvas (click a position, "
                "then set it to a candidate or a typed word, re-mask it or lock it), then **Resume from here** "
                "to decode the rest with the current settings, or **Step by hand**.")


def build() -> BranchSection:
    """The tab and its components (call inside the page's gr.Tabs)."""
    c = {}
    with gr.Tab("Branch", elem_id="dm-branch-tab") as c["tab"]:
        _intro()
        with gr.Row():
            c["source"] = gr.Dropdown(["original"], value="original", label="Run", elem_id="dm-branch-source",
                                      scale=3)
            c["step"] = gr.Slider(0, 1, value=0, step=1, label="Replay step to branch from",
                                  elem_id="dm-branch-step", scale=4)
            c["open"] = gr.Button("Edit this step", elem_id="dm-branch-open", scale=1)
        c["editor"] = _html(branch_view.editor_html(None), "dm-branch-editor", clickable=True)
        with gr.Row():
            c["candidates"] = gr.Radio([], label="Candidates (recorded top-k)", elem_id="dm-branch-candidates",
                                       scale=3)
            c["set_candidate"] = gr.Button("Set to candidate", size="sm", elem_id="dm-branch-set-candidate", scale=1)
        with gr.Row():
            c["word"] = gr.Textbox(label="Or type a word", placeholder="e.g. green", elem_id="dm-branch-word", scale=3)
            c["set_word"] = gr.Button("Set to word", size="sm", elem_id="dm-branch-set-word", scale=1)
        with gr.Row():
            c["remask"] = gr.Button("Re-mask", size="sm", elem_id="dm-branch-remask")
            c["lock"] = gr.Button("Lock / unlock", size="sm", elem_id="dm-branch-lock")
            c["remask_rest"] = gr.Button("Re-mask the rest (keep edited + locked)", size="sm",
                                         elem_id="dm-branch-remask-rest")
            c["resume"] = gr.Button("Resume from here", variant="primary", elem_id="dm-branch-resume")
            c["manual_start"] = gr.Button("Step by hand", elem_id="dm-manual-start")
        c["message"] = gr.Markdown("", elem_id="dm-branch-message")
        c["live"] = _html(render.empty_canvas("The branch decodes here."), "dm-branch-live")
        with gr.Row():
            c["view"] = gr.Dropdown([], label="Branches", elem_id="dm-branch-view", scale=3)
            c["replay"] = gr.Slider(0, 1, value=0, step=1, label="Branch replay: step", elem_id="dm-branch-replay",
                                    scale=4)
        c["compare"] = _html(branch_view.compare_html(None, -1, []), "dm-branch-compare")
        with gr.Accordion("Step by hand", open=True):
            c["manual"] = _html(branch_view.manual_html(None), "dm-manual", clickable=True)
            c["manual_candidates"] = gr.Radio([], label="Candidate for the picked position",
                                              elem_id="dm-manual-candidates")
            with gr.Row():
                c["accept"] = gr.Button("Accept the engine's choice", variant="primary", elem_id="dm-manual-accept")
                c["commit"] = gr.Button("Commit my picks", elem_id="dm-manual-commit")
            c["manual_message"] = gr.Markdown("", elem_id="dm-manual-message")
    return BranchSection(**c)


def wire(assistant, b: BranchSection, session, replay, form) -> None:
    """Events of the tab. `replay`: the main replay slider (the step the tab starts at); `form`: app.form's
    question form (image, prompt, settings)."""
    h, m = Brancher(assistant), ManualStepper(assistant)
    b.tab.select(h.refresh, [session, replay], [b.source, b.step, b.editor, b.view, b.message], **QUIET)
    b.source.input(h.source_changed, [session, b.source], [b.step], **QUIET)
    b.open.click(h.open, [session, b.source, b.step], [b.editor, b.candidates, b.message], **QUIET)
    b.editor.pick(h.pick, [session], [b.editor, b.candidates, b.message], **QUIET)
    edited = [b.editor, b.message]
    b.set_candidate.click(h.set_candidate, [session, b.candidates], edited, **QUIET)
    b.set_word.click(h.set_word, [session, b.word], edited, **QUIET)
    b.word.submit(h.set_word, [session, b.word], edited, **QUIET)
    b.remask.click(h.remask, [session], edited, **QUIET)
    b.lock.click(h.lock, [session], edited, **QUIET)
    b.remask_rest.click(h.remask_rest, [session], edited, **QUIET)
    b.resume.click(form.stream(h.resume), form.inputs, [b.live, b.compare, b.view, b.source, b.replay, b.message],
                   **MODEL)
    b.view.input(h.view, [session, b.view], [b.live, b.compare, b.replay], **QUIET)
    b.replay.input(h.replay, [session, b.view, b.replay], [b.live], trigger_mode="always_last", **QUIET)
    manual_out = [b.manual, b.manual_candidates, b.manual_message]
    b.manual_start.click(form.stream(_once(m.start)), form.inputs, manual_out, **MODEL)
    b.manual.pick(m.click, [session], manual_out, **QUIET)
    b.manual_candidates.input(m.choose, [session, b.manual_candidates], [b.manual, b.manual_message], **QUIET)
    b.accept.click(m.accept, [session], manual_out, **MODEL)
    b.commit.click(m.commit, [session], manual_out, **MODEL)


def _once(handler):
    """A handler returning one tuple, as the generator Form.stream expects."""
    def run(values: dict):
        yield handler(values)

    return run
