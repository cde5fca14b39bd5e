"""What each part of the page owns: one frozen dataclass per section, composed into `Page`.

Owns the names by which the page's builders, its wiring and the feature
packages reach a component: each field is one Gradio component (or a value
the section was built from), with what it is for. A misspelt name fails when
the page is built (a dataclass has only its fields), and a reader sees here
what is on the page without reading the layout. The sections of a feature
package (lessons, race, teaching, branch) are that package's and are only
composed here. It builds nothing and wires nothing (app/page.py does).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from .branch.layout import BranchSection
from .lessons.layout import LessonsSection
from .race.layout import RaceSection
from .teaching.layout import ExplorerSection, InspectorSection


@dataclass(frozen=True)
class HeaderSection:
    """The title row and the model's line."""

    lessons_open: gr.Button  # opens the Lessons panel (app/lessons/)
    model_line: gr.Markdown  # which model, on which device
    about: gr.HTML  # its "what it knows" card, folded to one line (app/welcome.py)


@dataclass(frozen=True)
class QuestionSection:
    """The image, the examples, the question box and its buttons."""

    examples: list  # [image path, question] per example picture (the gallery's order)
    image: gr.Image  # the picture asked about
    gallery: gr.Gallery  # the examples: a click fills the image and the question
    scene_btn: gr.Button  # a new random scene of Tiny's world
    scene_seed: gr.Number  # hidden: the next random scene's seed
    prompt: gr.Textbox  # the question
    suggest: gr.Dataset  # questions the model's card suggests
    send: gr.Button
    stop: gr.Button  # stops any run of the session
    regen: gr.Button  # the last question again
    clear: gr.Button  # forgets the conversation
    share_btn: gr.Button  # copies a link with the controls (app/lessons/share.py)


@dataclass(frozen=True)
class DecodingSection:
    """The decoding controls (DecodeConfig's fields; the model's defaults arrive on load)."""

    threshold: gr.Slider  # alg_p_threshold
    prefill: gr.Checkbox
    alg: gr.Dropdown
    steps: gr.Slider
    max_new: gr.Slider  # max_new_tokens: the canvas
    block_length: gr.Dropdown  # "off (whole canvas)" or a number
    temperature: gr.Slider
    alg_temp: gr.Slider
    top_p: gr.Slider  # 1 = off
    top_k: gr.Number  # 0 = off
    seed: gr.Number


@dataclass(frozen=True)
class TemplateSection:
    """The structure prior: a template of fixed text and mask slots."""

    preset: gr.Dropdown  # the model card's templates
    template: gr.Textbox
    error: gr.HTML  # why the template does not read
    preview: gr.HTML  # the canvas the template makes


@dataclass(frozen=True)
class LiveSection:
    """The right column: the live canvas, replay and playback, status, stats and the conversation."""

    canvas: gr.HTML  # the response canvas (app/canvas/client.py); a click on a slot inspects it
    replay: gr.Slider  # the step shown
    play: gr.Button
    pause: gr.Button
    speed: gr.Dropdown  # playback and live pace
    status: gr.Markdown  # what the run is doing
    stats: gr.HTML  # the run's counters
    chat: gr.Chatbot  # the conversation


@dataclass(frozen=True)
class ResultsSection:
    """The finished run's tabs: the answer by step, its plots, the bench's trade-off."""

    answer: gr.HTML  # the answer coloured by the step that committed each token
    plot_steps: gr.Plot  # tokens per step
    plot_cum: gr.Plot  # committed against forward passes
    plot_heat: gr.Plot  # confidence per position and step
    sweep: gr.Dropdown  # which bench sweep the trade-off plot shows
    plot_tradeoff: gr.Plot  # accuracy against tokens per forward pass


@dataclass(frozen=True)
class CompareSection:
    """The Compare tab: the question under settings A and B."""

    a_thr: gr.Slider
    a_prefill: gr.Checkbox
    b_thr: gr.Slider
    b_prefill: gr.Checkbox
    preset_thr: gr.Button  # threshold 0.9 against off
    preset_pre: gr.Button  # prefilling on against off
    run: gr.Button
    verdict: gr.Markdown
    canvas_a: gr.HTML
    canvas_b: gr.HTML
    stats_a: gr.HTML
    stats_b: gr.HTML
    plot: gr.Plot  # both runs' committed against forward passes


@dataclass(frozen=True)
class FilesSection:
    """The Export / import tab."""

    json_btn: gr.Button
    gif_btn: gr.Button
    json_file: gr.File  # the trajectory as JSON
    gif_file: gr.File  # the denoising as a GIF
    upload: gr.File  # a JSON export to replay


@dataclass(frozen=True)
class Page:
    """Every section of the page, top to bottom, and the visitor's session."""

    session: gr.State  # the visitor's Session (app/session.py)
    header: HeaderSection
    lessons: LessonsSection
    question: QuestionSection
    decoding: DecodingSection
    template: TemplateSection
    live: LiveSection
    inspector: InspectorSection  # under the live canvas
    results: ResultsSection
    compare: CompareSection
    race: RaceSection
    explorer: ExplorerSection
    branch: BranchSection
    files: FilesSection
