"""The page: `build_demo(assistant) -> gr.Blocks`, its components and how events are wired.

Owns what is where on screen and which handler runs on which event, in what
chain (validate -> stream live -> show results); a question's inputs reach
the handlers as one named form (app/form.py). It holds no logic of its own:
handlers.py decides, render.py/plots.py draw, api.py serves the API. Per-user
data lives only in a gr.State(Session); nothing here is shared between users
except the read-only assistant. It knows nothing of tensors or decoding.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import gradio as gr

from . import api, static
from . import welcome
from .branch import layout as branch_tab
from .lessons import layout as lessons_layout, share as lessons_share
from .canvas import client as canvas_client, colours, panels, plots, render
from .teaching import layout as teaching_layout
from .race import layout as race_tab
from . import pace
from .canvas import tradeoff
from .form import COMPARE_DEFAULTS, Form
from .chat.handlers import NO_PRESET, Studio
from .protocol import StudioAssistant
from .session import Session, close_session
from dimple.config import ALGORITHMS, DecodeConfig
from dimple.loading import ASSETS

EXAMPLES_DIR = str(ASSETS / "examples")  # the repository's assets/, or the installed package data


MAX_UPLOAD = "20mb"


# the page's own stylesheets (app/static/): around the components, the first screen, the Lessons panel
PAGE_STYLES = ("page.css", "welcome.css", "lessons.css")


def launch_options() -> dict:
    """Theme, CSS and upload limit for `demo.launch(**launch_options())` (Gradio 6 takes them at launch). The
    colour table comes first, on :root, so every stylesheet of the page can say var(--dm-<name>)."""
    theme = gr.themes.Soft(primary_hue="indigo", secondary_hue="violet", neutral_hue="slate")
    css = ":root { " + colours.declarations() + "}\n" + static.joined(*PAGE_STYLES)
    return {"theme": theme, "css": css, "max_file_size": MAX_UPLOAD, "footer_links": ["api", "gradio"]}


def _examples() -> list[list[str]]:
    index = os.path.join(EXAMPLES_DIR, "index.json")
    rows = []
    try:
        with open(index, encoding="utf-8") as fh:
            for item in json.load(fh):
                path = os.path.join(EXAMPLES_DIR, os.path.basename(str(item["file"])))
                if os.path.isfile(path):
                    rows.append([path, str(item.get("question", ""))])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return rows


def _pick_example(examples):
    def pick(evt: gr.SelectData):
        path, question = examples[evt.index]
        return path, question

    return pick


def _html(value: str = "", **kw) -> gr.HTML:
    return gr.HTML(value, css_template=render.CANVAS_CSS, js_on_load=None, **kw)


def _header(ui: SimpleNamespace) -> None:
    with gr.Row(elem_classes="dm-title"):
        gr.Markdown("# Dimple Studio\nWatch a discrete-diffusion multimodal LLM answer: every position of the "
                    "answer starts masked, and each step commits the ones the model is confident about.")
        ui.lessons_open = lessons_layout.open_button()  # the Lessons panel (app/lessons/), one click away
    ui.model_line = gr.Markdown("**Model:** loading\u2026", elem_id="dm-model")
    ui.about = gr.HTML("", elem_id="dm-about")  # app/welcome.py folds it to one line


def _question(ui: SimpleNamespace) -> None:
    """The image, the examples, the question box and its buttons."""
    ui.examples = _examples()
    # a visitor meets a picture at once: Dimple-Tiny only answers about one, and "hello" deserves an answer
    first = ui.examples[0][0] if ui.examples else None
    ui.image = gr.Image(value=first, label="Image", type="filepath", height=250, sources=["upload", "clipboard"],
                        elem_id="dm-image")
    ui.gallery = gr.Gallery([path for path, _ in ui.examples], label="Examples (click one: image and question)",
                            columns=8, rows=1, height=96, allow_preview=False, object_fit="contain",
                            visible=bool(ui.examples), elem_id="dm-examples")
    ui.scene_btn = gr.Button("New random scene", size="sm", elem_id="dm-scene")
    ui.scene_seed = gr.Number(value=1, visible=False, precision=0)
    # one line that grows: Enter sends, Shift+Enter starts a new line (Gradio submits on Enter when lines=1)
    ui.prompt = gr.Textbox(label="Question", placeholder="Ask about the picture (Enter sends, Shift+Enter: new line)",
                           lines=1, max_lines=6, elem_id="dm-prompt", autofocus=True)
    ui.suggest = gr.Dataset(components=[gr.Textbox(visible=False)], samples=[], label="Try one (click to fill the box)",
                            elem_id="dm-suggest", samples_per_page=12, visible=False)
    with gr.Row():
        ui.send = gr.Button("Send", variant="primary", elem_id="dm-send")
        ui.stop = gr.Button("Stop", variant="stop", elem_id="dm-stop")
    with gr.Row():
        ui.regen = gr.Button("\u21bb Regenerate", size="sm", elem_id="dm-regen")
        ui.clear = gr.Button("Clear", size="sm", elem_id="dm-clear")
        ui.share_btn = gr.Button("\U0001F517 Copy link", size="sm", elem_id="dm-share")  # app/lessons/share.py


BLOCK_CHOICES = ["off (whole canvas)", "4", "8", "16", "32"]  # any other whole number may be typed


def _decoding(ui: SimpleNamespace) -> None:
    """The ten decoding controls, starting at DecodeConfig's defaults (the model's come on load)."""
    d = DecodeConfig()
    with gr.Accordion("Decoding", open=True):
        ui.threshold = gr.Slider(0, 1, value=d.alg_p_threshold, step=0.01, label="Confidence threshold",
                                 info="commit every masked position above this; 0 = off (schedule only)",
                                 elem_id="dm-threshold")
        with gr.Row():
            ui.prefill = gr.Checkbox(value=d.prefill, label="Prefilling (reuse the prompt's cache)")
            ui.alg = gr.Dropdown(list(ALGORITHMS), value=d.alg, label="Algorithm")
        with gr.Row():
            ui.steps = gr.Slider(1, 256, value=d.steps, step=1, label="Steps (most iterations)", elem_id="dm-steps")
            ui.max_new = gr.Slider(1, 256, value=d.max_new_tokens, step=1, label="Max new tokens (canvas)",
                                   elem_id="dm-max-new")
        ui.block_length = gr.Dropdown(BLOCK_CHOICES, value=BLOCK_CHOICES[0], allow_custom_value=True,
                                      label="Block length (semi-autoregressive)", elem_id="dm-block-length",
                                      info="off: the whole canvas at once (the paper); B: blocks of B positions, "
                                           "left to right")
        with gr.Accordion("Sampling", open=False):
            with gr.Row():
                ui.temperature = gr.Slider(0, 2, value=d.temperature, step=0.05, label="Temperature (0 = greedy)")
                ui.alg_temp = gr.Slider(0, 2, value=d.alg_temp, step=0.05, label="alg_temp (random fallback order)")
            with gr.Row():
                ui.top_p = gr.Slider(0.05, 1, value=1.0, step=0.01, label="top-p (1 = off)")
                ui.top_k = gr.Number(value=0, precision=0, label="top-k (0 = off)", minimum=0)
                ui.seed = gr.Number(value=0, precision=0, label="Seed", minimum=0)


def _structure_prior(ui: SimpleNamespace) -> None:
    with gr.Accordion("Structure prior (template)", open=False):
        gr.Markdown("Plain text is fixed; `<mask>` is one slot, `<mask:N>` is N slots, `<eos>` ends "
                    "the answer. The answer length is the template's length.")
        ui.preset = gr.Dropdown([NO_PRESET], value=NO_PRESET, label="Preset", elem_id="dm-preset")
        ui.template = gr.Textbox(label="Template", lines=2, placeholder="Color: <mask:2>. Shape: <mask:3>.<eos>",
                                 elem_id="dm-template")
        ui.template_error = _html("", elem_id="dm-template-error")
        ui.template_preview = _html(render.empty_canvas("No template: the model fills a canvas of max "
                                                        "new tokens freely."), elem_id="dm-template-preview")


def _live(ui: SimpleNamespace) -> None:
    """The right column: the live canvas, the replay slider, status, stats and the conversation."""
    ui.canvas = teaching_layout.canvas(render.empty_canvas(), elem_id="dm-canvas", replay_id="dm-replay")
    teaching_layout.panel(ui)
    with gr.Row():
        ui.replay = gr.Slider(0, 1, value=0, step=1, label="Replay: step", interactive=True,
                              elem_id="dm-replay", scale=5)
        with gr.Column(scale=1, min_width=110):
            ui.play = gr.Button("\u25b6 Play", size="sm", elem_id="dm-play")
            ui.pause = gr.Button("Pause", size="sm", elem_id="dm-pause")
        ui.speed = gr.Dropdown(list(pace.SPEEDS), value=pace.AUTO, label="Playback speed", min_width=110, scale=1,
                               elem_id="dm-speed", info="Play and the live view; auto: as fast as computed")
    ui.status = gr.Markdown("", elem_id="dm-status")
    ui.stats = _html(panels.render_stats(None), elem_id="dm-stats")
    ui.chat = gr.Chatbot(label="Conversation", height=240, elem_id="dm-chat", buttons=["copy"])


def _compare_tab(ui: SimpleNamespace) -> None:
    gr.Markdown("Same image, question, template and seed under two settings (the other controls come "
                "from the left panel).")
    with gr.Row():
        with gr.Column():
            ui.a_thr = gr.Slider(0, 1, value=COMPARE_DEFAULTS["a_threshold"], step=0.01, label="A: threshold")
            ui.a_prefill = gr.Checkbox(value=COMPARE_DEFAULTS["a_prefill"], label="A: prefilling")
        with gr.Column():
            ui.b_thr = gr.Slider(0, 1, value=COMPARE_DEFAULTS["b_threshold"], step=0.01, label="B: threshold")
            ui.b_prefill = gr.Checkbox(value=COMPARE_DEFAULTS["b_prefill"], label="B: prefilling")
    with gr.Row():
        ui.preset_thr = gr.Button("threshold 0.9 vs off", size="sm")
        ui.preset_pre = gr.Button("prefilling on vs off", size="sm")
        ui.run_cmp = gr.Button("Run comparison", variant="primary", elem_id="dm-compare")
    ui.verdict = gr.Markdown("", elem_id="dm-verdict")
    with gr.Row():
        with gr.Column():
            ui.cmp_a = canvas_client.component(render.empty_canvas("A appears here."), elem_id="dm-cmp-a")
            ui.cmp_stats_a = _html("", elem_id="dm-cmp-stats-a")
        with gr.Column():
            ui.cmp_b = canvas_client.component(render.empty_canvas("B appears here."), elem_id="dm-cmp-b")
            ui.cmp_stats_b = _html("", elem_id="dm-cmp-stats-b")
    ui.cmp_plot = gr.Plot(plots.empty_figure("Run a comparison to see this plot."), format="png")


def _tabs(ui: SimpleNamespace) -> None:
    with gr.Tabs():
        with gr.Tab("Answer by step"):
            ui.answer = _html(render.render_answer(None), elem_id="dm-answer")
        with gr.Tab("Plots"):
            with gr.Row():
                ui.plot_steps = gr.Plot(plots.empty_figure(), label="Tokens per step", format="png")
                ui.plot_cum = gr.Plot(plots.empty_figure(), label="Committed vs forward passes", format="png")
            ui.plot_heat = gr.Plot(plots.empty_figure(), label="Confidence heatmap", format="png")
            found = tradeoff.sweeps()  # the bench's threshold sweeps (app/canvas/tradeoff.py)
            ui.sweep = gr.Dropdown(list(found), value=next(iter(found), None), label="Bench sweep",
                                   elem_id="dm-sweep")
            ui.plot_tradeoff = gr.Plot(tradeoff.figure(found[ui.sweep.value]) if found else
                                       tradeoff.figure(tradeoff.BENCH_DIR / "bench.json"),
                                       label="Accuracy against tokens per forward pass", format="png",
                                       elem_id="dm-tradeoff")
        with gr.Tab("Compare"):
            _compare_tab(ui)
        with gr.Tab("Race", elem_id="dm-race-tab"):  # app/race/
            race_tab.build(ui)
        teaching_layout.explorer_tab(ui)
        with gr.Tab("Branch", elem_id="dm-branch-tab") as ui.branch_tab:  # app/branch_tab.py
            ui.branch = branch_tab.build()
        with gr.Tab("Export / import"):
            with gr.Row():
                ui.json_btn = gr.Button("Trajectory as JSON", elem_id="dm-export-json")
                ui.gif_btn = gr.Button("Denoising as GIF", elem_id="dm-export-gif")
            with gr.Row():
                ui.json_file = gr.File(label="JSON", interactive=False, elem_id="dm-json-file")
                ui.gif_file = gr.File(label="GIF", interactive=False, elem_id="dm-gif-file")
            gr.Markdown("Load a JSON export to replay it here (no model needed).")
            ui.upload = gr.File(label="Import a trajectory (.json)", file_types=[".json"], elem_id="dm-import")


def _form(ui: SimpleNamespace) -> Form:
    return Form(image=ui.image, prompt=ui.prompt, template=ui.template, session=ui.session,
                a_threshold=ui.a_thr, a_prefill=ui.a_prefill, b_threshold=ui.b_thr, b_prefill=ui.b_prefill,
                alg_p_threshold=ui.threshold, prefill=ui.prefill, steps=ui.steps, max_new_tokens=ui.max_new,
                alg=ui.alg, temperature=ui.temperature, top_p=ui.top_p, top_k=ui.top_k, alg_temp=ui.alg_temp,
                seed=ui.seed, block_length=ui.block_length, speed=ui.speed)


QUIET = dict(api_visibility="private", concurrency_limit=None, show_progress="hidden")
DRAWING = dict(api_visibility="private", concurrency_id="plots", concurrency_limit=2, show_progress="hidden")
LIVE = dict(show_progress="minimal", api_visibility="private")


def _then_results(after, studio: Studio, ui: SimpleNamespace) -> None:
    """`after` (an event's .then or .success): the numbers and files of the run, then its plots."""
    (after(studio.results, [ui.session], [ui.stats, ui.answer, ui.replay, ui.json_file, ui.gif_file], **QUIET)
     .then(studio.plots, [ui.session], [ui.plot_steps, ui.plot_cum, ui.plot_heat], **DRAWING))


def _wire_asking(studio: Studio, ui: SimpleNamespace, form: Form) -> None:
    ask_outputs = [ui.canvas, ui.chat, ui.status, ui.prompt, ui.stats, ui.answer]
    for trigger in (ui.send.click, ui.prompt.submit, ui.regen.click):
        trigger(studio.sent, [ui.session], None, queue=False, api_visibility="private", show_progress="hidden")
    for trigger in (ui.send.click, ui.prompt.submit):
        asked = trigger(form.stream(studio.ask), form.inputs, ask_outputs, concurrency_id="model", **LIVE)
        _then_results(asked.then, studio, ui)
    asked = ui.regen.click(form.stream(studio.regenerate), form.inputs, ask_outputs, concurrency_id="model", **LIVE)
    _then_results(asked.then, studio, ui)
    ui.stop.click(studio.stop, [ui.session], None, queue=False, api_visibility="private")
    cleared = ui.clear.click(studio.clear, [ui.session], [ui.chat, ui.canvas, ui.status, ui.session],
                             api_visibility="private", queue=False)
    _then_results(cleared.then, studio, ui)


def _wire_inputs(studio: Studio, ui: SimpleNamespace) -> None:
    """Replay, examples, random scenes, a new image, and the template editor."""
    ui.replay.input(studio.replay_frame, [ui.replay, ui.session], [ui.canvas], api_visibility="private",
                    queue=False, show_progress="hidden", trigger_mode="always_last")  # unqueued: a scrub is one request
    ui.play.click(studio.play, [ui.session, ui.speed], [ui.replay, ui.canvas], api_visibility="private",
                  concurrency_limit=None, show_progress="hidden")
    ui.pause.click(studio.pause, [ui.session], None, queue=False, api_visibility="private")
    picked = ui.gallery.select(_pick_example(ui.examples), None, [ui.image, ui.prompt], api_visibility="private",
                               queue=False)
    drawn = ui.scene_btn.click(studio.random_scene, [ui.scene_seed], [ui.image, ui.prompt, ui.scene_seed],
                               api_visibility="private", concurrency_limit=None)
    for filled in (picked, drawn):  # the offered question is selected: Enter sends it, typing replaces it
        filled.then(None, js=static.text("select_question.js"))
    ui.image.change(studio.image_changed, [ui.session], [ui.chat, ui.session], api_visibility="private", queue=False)
    ui.preset.change(studio.preset, [ui.preset], [ui.template], api_visibility="private", queue=False)
    ui.suggest.click(lambda sample: sample[0], [ui.suggest], [ui.prompt], api_visibility="private", queue=False,
                     js=static.text("focus_question.js"))
    ui.template.change(studio.preview, [ui.template], [ui.template_preview, ui.template_error],
                       api_visibility="private", show_progress="hidden", trigger_mode="always_last",
                       concurrency_limit=None)


def _wire_compare_and_files(studio: Studio, ui: SimpleNamespace, form: Form) -> None:
    ab = [ui.a_thr, ui.a_prefill, ui.b_thr, ui.b_prefill]
    ui.preset_thr.click(lambda: (0.9, True, 0.0, True), None, ab, queue=False, api_visibility="private")
    ui.preset_pre.click(lambda: (0.9, True, 0.9, False), None, ab, queue=False, api_visibility="private")
    pair = [ui.cmp_a, ui.cmp_b, ui.cmp_stats_a, ui.cmp_stats_b, ui.verdict, ui.cmp_plot]  # compare.run_pair's
    ui.run_cmp.click(form.stream(studio.compare), form.inputs, pair, concurrency_id="model", **LIVE)
    ui.json_btn.click(studio.export_json, [ui.session], [ui.json_file], api_visibility="private",
                      concurrency_limit=4, concurrency_id="files")
    ui.gif_btn.click(studio.export_gif, [ui.session], [ui.gif_file], api_visibility="private",
                     concurrency_limit=4, concurrency_id="files")
    imported = ui.upload.upload(studio.import_json, [ui.upload, ui.session], [ui.canvas, ui.status, ui.session],
                                **QUIET)
    _then_results(imported.success, studio, ui)


def build_demo(assistant: StudioAssistant, *, title: str = "Dimple Studio", analytics: bool = False) -> gr.Blocks:
    """The whole UI for one assistant (a loaded one or app.lazy.LazyAssistant); Gradio's analytics only when
    `analytics` (the launcher's --analytics)."""
    studio = Studio(assistant)
    ui = SimpleNamespace()
    with gr.Blocks(title=title, fill_width=False, delete_cache=(1800, 3600), analytics_enabled=analytics) as demo:
        # a value, not the class: Gradio deep-copies it per visitor (Session.__deepcopy__ makes a fresh one), where
        # a callable default would also be served as an input-less `Session` API endpoint
        ui.session = gr.State(Session(), delete_callback=close_session, time_to_live=6 * 3600)
        _header(ui)
        lessons_layout.build(ui)
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=320, elem_id="dm-left"):  # left: the question and the knobs
                _question(ui)
                _decoding(ui)
                _structure_prior(ui)
            with gr.Column(scale=6, min_width=420):  # right: what happens
                _live(ui)
        _tabs(ui)
        api.register(assistant)

        form = _form(ui)
        _wire_asking(studio, ui, form)
        _wire_inputs(studio, ui)
        _wire_compare_and_files(studio, ui, form)
        teaching_layout.wire(assistant, ui, form)
        race_tab.wire(assistant, ui, form)
        ui.sweep.change(lambda label: tradeoff.figure(tradeoff.sweeps().get(label, "")), [ui.sweep],
                        [ui.plot_tradeoff], api_visibility="private", concurrency_id="plots")
        branch_tab.wire(assistant, ui.branch, ui.branch_tab, ui.session, ui.replay, form)
        loaded = demo.load(welcome.folded(studio.header), None, [ui.model_line, ui.about], api_visibility="private").then(
            studio.card_choices, None, [ui.preset, ui.suggest], api_visibility="private").then(
            studio.defaults, None, [ui.threshold, ui.prefill, ui.steps, ui.max_new, ui.alg, ui.temperature],
            api_visibility="private")
        lessons_layout.wire(assistant, ui, loaded)  # ?lesson=N, after the defaults
        lessons_share.wire(ui, loaded, ui.status)  # ?threshold=..&q=.., after the defaults
        for sent in (ui.send.click, ui.prompt.submit):
            sent(None, js=static.text("show_canvas.js"))
    return demo
