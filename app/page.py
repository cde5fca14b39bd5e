"""The page: `build_demo(assistant) -> gr.Blocks`, its components and how events are wired.

Owns what is where on screen and which handler runs on which event, in what
chain (validate -> stream live -> show results); each builder returns its
section (app/sections.py), and the section's events are wired beside it; a
question's inputs reach the handlers as one named form (app/form.py). It
holds no logic of its own: handlers.py decides, render.py/plots.py draw,
api.py serves the API; its look and scripts are app/static/'s. Per-user
data lives only in a gr.State(Session); nothing here is shared between users
except the read-only assistant. It knows nothing of tensors or decoding.
"""

from __future__ import annotations

import json
import os

import gradio as gr

from . import api, static
from . import welcome
from .branch import layout as branch_tab
from .lessons import layout as lessons_layout, share as lessons_share
from .canvas import client as canvas_client, colours, panels, plots, render
from .teaching import layout as teaching_layout
from .teaching.layout import InspectorSection
from .race import layout as race_tab
from . import pace
from .canvas import tradeoff
from .form import COMPARE_DEFAULTS, Form
from .chat.handlers import NO_PRESET, Studio
from .protocol import StudioAssistant
from .sections import (CompareSection, DecodingSection, FilesSection, HeaderSection, LiveSection, Page,
                       QuestionSection, ResultsSection, TemplateSection)
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


QUIET = dict(api_visibility="private", concurrency_limit=None, show_progress="hidden")
DRAWING = dict(api_visibility="private", concurrency_id="plots", concurrency_limit=2, show_progress="hidden")
LIVE = dict(show_progress="minimal", api_visibility="private")


def _header() -> HeaderSection:
    with gr.Row(elem_classes="dm-title"):
        gr.Markdown("# Dimple Studio\nWatch a discrete-diffusion multimodal LLM answer: every position of the "
                    "answer starts masked, and each step commits the ones the model is confident about.")
        lessons_open = lessons_layout.open_button()  # the Lessons panel (app/lessons/), one click away
    model_line = gr.Markdown("**Model:** loading\u2026", elem_id="dm-model")
    about = gr.HTML("", elem_id="dm-about")  # app/welcome.py folds it to one line
    return HeaderSection(lessons_open=lessons_open, model_line=model_line, about=about)


def _question() -> QuestionSection:
    """The image, the examples, the question box and its buttons."""
    examples = _examples()
    # a visitor meets a picture at once: Dimple-Tiny only answers about one, and "hello" deserves an answer
    first = examples[0][0] if examples else None
    image = gr.Image(value=first, label="Image", type="filepath", height=250, sources=["upload", "clipboard"],
                     elem_id="dm-image")
    gallery = gr.Gallery([path for path, _ in examples], label="Examples (click one: image and question)",
                         columns=8, rows=1, height=96, allow_preview=False, object_fit="contain",
                         visible=bool(examples), elem_id="dm-examples")
    scene_btn = gr.Button("New random scene", size="sm", elem_id="dm-scene")
    scene_seed = gr.Number(value=1, visible=False, precision=0)
    # one line that grows: Enter sends, Shift+Enter starts a new line (Gradio submits on Enter when lines=1)
    prompt = gr.Textbox(label="Question", placeholder="Ask about the picture (Enter sends, Shift+Enter: new line)",
                        lines=1, max_lines=6, elem_id="dm-prompt", autofocus=True)
    suggest = gr.Dataset(components=[gr.Textbox(visible=False)], samples=[], label="Try one (click to fill the box)",
                         elem_id="dm-suggest", samples_per_page=12, visible=False)
    with gr.Row():
        send = gr.Button("Send", variant="primary", elem_id="dm-send")
        stop = gr.Button("Stop", variant="stop", elem_id="dm-stop")
    with gr.Row():
        regen = gr.Button("\u21bb Regenerate", size="sm", elem_id="dm-regen")
        clear = gr.Button("Clear", size="sm", elem_id="dm-clear")
        share_btn = gr.Button("\U0001F517 Copy link", size="sm", elem_id="dm-share")  # app/lessons/share.py
    return QuestionSection(examples=examples, image=image, gallery=gallery, scene_btn=scene_btn,
                           scene_seed=scene_seed, prompt=prompt, suggest=suggest, send=send, stop=stop, regen=regen,
                           clear=clear, share_btn=share_btn)


def _wire_question(studio: Studio, q: QuestionSection) -> None:
    """Examples, random scenes and the suggestions (asking and a new image are _wire_asking's)."""
    picked = q.gallery.select(_pick_example(q.examples), None, [q.image, q.prompt], api_visibility="private",
                              queue=False)
    drawn = q.scene_btn.click(studio.random_scene, [q.scene_seed], [q.image, q.prompt, q.scene_seed],
                              api_visibility="private", concurrency_limit=None)
    for filled in (picked, drawn):  # the offered question is selected: Enter sends it, typing replaces it
        filled.then(None, [q.prompt], None, js=static.text("select_question.js"), queue=False)
    q.suggest.click(lambda sample: sample[0], [q.suggest], [q.prompt], api_visibility="private", queue=False,
                    js=static.text("focus_question.js"))


BLOCK_CHOICES = ["off (whole canvas)", "4", "8", "16", "32"]  # any other whole number may be typed


def _decoding() -> DecodingSection:
    """The ten decoding controls, starting at DecodeConfig's defaults (the model's come on load)."""
    d = DecodeConfig()
    with gr.Accordion("Decoding", open=True):
        threshold = gr.Slider(0, 1, value=d.alg_p_threshold, step=0.01, label="Confidence threshold",
                              info="commit every masked position above this; 0 = off (schedule only)",
                              elem_id="dm-threshold")
        with gr.Row():
            prefill = gr.Checkbox(value=d.prefill, label="Prefilling (reuse the prompt's cache)")
            alg = gr.Dropdown(list(ALGORITHMS), value=d.alg, label="Algorithm")
        with gr.Row():
            steps = gr.Slider(1, 256, value=d.steps, step=1, label="Steps (most iterations)", elem_id="dm-steps")
            max_new = gr.Slider(1, 256, value=d.max_new_tokens, step=1, label="Max new tokens (canvas)",
                                elem_id="dm-max-new")
        block_length = gr.Dropdown(BLOCK_CHOICES, value=BLOCK_CHOICES[0], allow_custom_value=True,
                                   label="Block length (semi-autoregressive)", elem_id="dm-block-length",
                                   info="off: the whole canvas at once (the paper); B: blocks of B positions, "
                                        "left to right")
        with gr.Accordion("Sampling", open=False):
            with gr.Row():
                temperature = gr.Slider(0, 2, value=d.temperature, step=0.05, label="Temperature (0 = greedy)")
                alg_temp = gr.Slider(0, 2, value=d.alg_temp, step=0.05, label="alg_temp (random fallback order)")
            with gr.Row():
                top_p = gr.Slider(0.05, 1, value=1.0, step=0.01, label="top-p (1 = off)")
                top_k = gr.Number(value=0, precision=0, label="top-k (0 = off)", minimum=0)
                seed = gr.Number(value=0, precision=0, label="Seed", minimum=0)
    return DecodingSection(threshold=threshold, prefill=prefill, alg=alg, steps=steps, max_new=max_new,
                           block_length=block_length, temperature=temperature, alg_temp=alg_temp, top_p=top_p,
                           top_k=top_k, seed=seed)


def _structure_prior(studio: Studio) -> TemplateSection:
    with gr.Accordion("Structure prior (template)", open=False):
        gr.Markdown("Plain text is fixed; `<mask>` is one slot, `<mask:N>` is N slots, `<eos>` ends "
                    "the answer. The answer length is the template's length.")
        preset = gr.Dropdown([NO_PRESET], value=NO_PRESET, label="Preset", elem_id="dm-preset")
        template = gr.Textbox(label="Template", lines=2, placeholder="Color: <mask:2>. Shape: <mask:3>.<eos>",
                              elem_id="dm-template")
        error = _html("", elem_id="dm-template-error")
        preview = _html(render.empty_canvas("No template: the model fills a canvas of max new tokens freely."),
                        elem_id="dm-template-preview")
    preset.change(studio.preset, [preset], [template], api_visibility="private", queue=False)
    template.change(studio.preview, [template], [preview, error], api_visibility="private",
                    show_progress="hidden", trigger_mode="always_last", concurrency_limit=None)
    return TemplateSection(preset=preset, template=template, error=error, preview=preview)


def _live() -> tuple[LiveSection, InspectorSection]:
    """The right column: the live canvas, the inspector under it, the replay slider, status, stats and the
    conversation. Returns (live, the inspector's section)."""
    canvas = teaching_layout.canvas(render.empty_canvas(), elem_id="dm-canvas", replay_id="dm-replay")
    inspector = teaching_layout.panel()
    with gr.Row():
        replay = gr.Slider(0, 1, value=0, step=1, label="Replay: step", interactive=True,
                           elem_id="dm-replay", scale=5)
        with gr.Column(scale=1, min_width=110):
            play = gr.Button("\u25b6 Play", size="sm", elem_id="dm-play")
            pause = gr.Button("Pause", size="sm", elem_id="dm-pause")
        speed = gr.Dropdown(list(pace.SPEEDS), value=pace.AUTO, label="Playback speed", min_width=110, scale=1,
                            elem_id="dm-speed", info="Play and the live view; auto: as fast as computed")
    status = gr.Markdown("", elem_id="dm-status")
    stats = _html(panels.render_stats(None), elem_id="dm-stats")
    chat = gr.Chatbot(label="Conversation", height=240, elem_id="dm-chat", buttons=["copy"])
    live = LiveSection(canvas=canvas, replay=replay, play=play, pause=pause, speed=speed, status=status, stats=stats,
                       chat=chat)
    return live, inspector


def _wire_replay(studio: Studio, live: LiveSection, session: gr.State) -> None:
    live.replay.input(studio.replay_frame, [live.replay, session], [live.canvas], api_visibility="private",
                      queue=False, show_progress="hidden", trigger_mode="always_last")  # unqueued: a scrub is one request
    live.play.click(studio.play, [session, live.speed], [live.replay, live.canvas], api_visibility="private",
                    concurrency_limit=None, show_progress="hidden")
    live.pause.click(studio.pause, [session], None, queue=False, api_visibility="private")


def _compare_tab() -> CompareSection:
    gr.Markdown("Same image, question, template and seed under two settings (the other controls come "
                "from the left panel).")
    with gr.Row():
        with gr.Column():
            a_thr = gr.Slider(0, 1, value=COMPARE_DEFAULTS["a_threshold"], step=0.01, label="A: threshold")
            a_prefill = gr.Checkbox(value=COMPARE_DEFAULTS["a_prefill"], label="A: prefilling")
        with gr.Column():
            b_thr = gr.Slider(0, 1, value=COMPARE_DEFAULTS["b_threshold"], step=0.01, label="B: threshold")
            b_prefill = gr.Checkbox(value=COMPARE_DEFAULTS["b_prefill"], label="B: prefilling")
    with gr.Row():
        preset_thr = gr.Button("threshold 0.9 vs off", size="sm")
        preset_pre = gr.Button("prefilling on vs off", size="sm")
        run = gr.Button("Run comparison", variant="primary", elem_id="dm-compare")
    verdict = gr.Markdown("", elem_id="dm-verdict")
    with gr.Row():
        with gr.Column():
            canvas_a = canvas_client.component(render.empty_canvas("A appears here."), elem_id="dm-cmp-a")
            stats_a = _html("", elem_id="dm-cmp-stats-a")
        with gr.Column():
            canvas_b = canvas_client.component(render.empty_canvas("B appears here."), elem_id="dm-cmp-b")
            stats_b = _html("", elem_id="dm-cmp-stats-b")
    plot = gr.Plot(plots.empty_figure("Run a comparison to see this plot."), format="png")
    ab = [a_thr, a_prefill, b_thr, b_prefill]
    preset_thr.click(lambda: (0.9, True, 0.0, True), None, ab, queue=False, api_visibility="private")
    preset_pre.click(lambda: (0.9, True, 0.9, False), None, ab, queue=False, api_visibility="private")
    return CompareSection(a_thr=a_thr, a_prefill=a_prefill, b_thr=b_thr, b_prefill=b_prefill, preset_thr=preset_thr,
                          preset_pre=preset_pre, run=run, verdict=verdict, canvas_a=canvas_a, canvas_b=canvas_b,
                          stats_a=stats_a, stats_b=stats_b, plot=plot)


def _results_tabs() -> ResultsSection:
    """The "Answer by step" and "Plots" tabs (call inside the page's gr.Tabs)."""
    with gr.Tab("Answer by step"):
        answer = _html(render.render_answer(None), elem_id="dm-answer")
    with gr.Tab("Plots"):
        with gr.Row():
            plot_steps = gr.Plot(plots.empty_figure(), label="Tokens per step", format="png")
            plot_cum = gr.Plot(plots.empty_figure(), label="Committed vs forward passes", format="png")
        plot_heat = gr.Plot(plots.empty_figure(), label="Confidence heatmap", format="png")
        found = tradeoff.sweeps()  # the bench's threshold sweeps (app/canvas/tradeoff.py)
        sweep = gr.Dropdown(list(found), value=next(iter(found), None), label="Bench sweep", elem_id="dm-sweep")
        plot_tradeoff = gr.Plot(tradeoff.figure(found[sweep.value]) if found else
                                tradeoff.figure(tradeoff.BENCH_DIR / "bench.json"),
                                label="Accuracy against tokens per forward pass", format="png",
                                elem_id="dm-tradeoff")
    sweep.change(lambda label: tradeoff.figure(tradeoff.sweeps().get(label, "")), [sweep], [plot_tradeoff],
                 api_visibility="private", concurrency_id="plots")
    return ResultsSection(answer=answer, plot_steps=plot_steps, plot_cum=plot_cum, plot_heat=plot_heat, sweep=sweep,
                          plot_tradeoff=plot_tradeoff)


def _files_tab() -> FilesSection:
    with gr.Tab("Export / import"):
        with gr.Row():
            json_btn = gr.Button("Trajectory as JSON", elem_id="dm-export-json")
            gif_btn = gr.Button("Denoising as GIF", elem_id="dm-export-gif")
        with gr.Row():
            json_file = gr.File(label="JSON", interactive=False, elem_id="dm-json-file")
            gif_file = gr.File(label="GIF", interactive=False, elem_id="dm-gif-file")
        gr.Markdown("Load a JSON export to replay it here (no model needed).")
        upload = gr.File(label="Import a trajectory (.json)", file_types=[".json"], elem_id="dm-import")
    return FilesSection(json_btn=json_btn, gif_btn=gif_btn, json_file=json_file, gif_file=gif_file, upload=upload)


def _form(page: Page) -> Form:
    d, c = page.decoding, page.compare
    return Form(image=page.question.image, prompt=page.question.prompt, template=page.template.template,
                session=page.session, a_threshold=c.a_thr, a_prefill=c.a_prefill, b_threshold=c.b_thr,
                b_prefill=c.b_prefill, alg_p_threshold=d.threshold, prefill=d.prefill, steps=d.steps,
                max_new_tokens=d.max_new, alg=d.alg, temperature=d.temperature, top_p=d.top_p, top_k=d.top_k,
                alg_temp=d.alg_temp, seed=d.seed, block_length=d.block_length, speed=page.live.speed)


def _then_results(after, studio: Studio, page: Page) -> None:
    """`after` (an event's .then or .success): the numbers and files of the run, then its plots."""
    r, files = page.results, page.files
    (after(studio.results, [page.session], [page.live.stats, r.answer, page.live.replay, files.json_file,
                                            files.gif_file], **QUIET)
     .then(studio.plots, [page.session], [r.plot_steps, r.plot_cum, r.plot_heat], **DRAWING))


def _wire_asking(studio: Studio, page: Page, form: Form) -> None:
    """Send, Enter, Regenerate, Stop and Clear."""
    q, live, session = page.question, page.live, page.session
    ask_outputs = [live.canvas, live.chat, live.status, q.prompt, live.stats, page.results.answer]
    for trigger in (q.send.click, q.prompt.submit, q.regen.click):
        trigger(studio.sent, [session], None, queue=False, api_visibility="private", show_progress="hidden")
    for trigger in (q.send.click, q.prompt.submit):
        asked = trigger(form.stream(studio.ask), form.inputs, ask_outputs, concurrency_id="model", **LIVE)
        _then_results(asked.then, studio, page)
    asked = q.regen.click(form.stream(studio.regenerate), form.inputs, ask_outputs, concurrency_id="model", **LIVE)
    _then_results(asked.then, studio, page)
    q.stop.click(studio.stop, [session], None, queue=False, api_visibility="private")
    cleared = q.clear.click(studio.clear, [session], [live.chat, live.canvas, live.status, session],
                            api_visibility="private", queue=False)
    _then_results(cleared.then, studio, page)
    q.image.change(studio.image_changed, [session], [live.chat, session], api_visibility="private", queue=False)


def _wire_compare_and_files(studio: Studio, page: Page, form: Form) -> None:
    c, files = page.compare, page.files
    pair = [c.canvas_a, c.canvas_b, c.stats_a, c.stats_b, c.verdict, c.plot]  # compare.run_pair's
    c.run.click(form.stream(studio.compare), form.inputs, pair, concurrency_id="model", **LIVE)
    files.json_btn.click(studio.export_json, [page.session], [files.json_file], api_visibility="private",
                         concurrency_limit=4, concurrency_id="files")
    files.gif_btn.click(studio.export_gif, [page.session], [files.gif_file], api_visibility="private",
                        concurrency_limit=4, concurrency_id="files")
    imported = files.upload.upload(studio.import_json, [files.upload, page.session],
                                   [page.live.canvas, page.live.status, page.session], **QUIET)
    _then_results(imported.success, studio, page)


def layout(studio: Studio, session: gr.State) -> Page:
    """Every section in its place, top to bottom (call inside the gr.Blocks)."""
    header = _header()
    lessons = lessons_layout.build()
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=320, elem_id="dm-left"):  # left: the question and the knobs
            question = _question()
            decoding = _decoding()
            template = _structure_prior(studio)
        with gr.Column(scale=6, min_width=420):  # right: what happens
            live, inspector = _live()
    with gr.Tabs():
        results = _results_tabs()
        with gr.Tab("Compare"):
            compare = _compare_tab()
        with gr.Tab("Race", elem_id="dm-race-tab"):  # app/race/
            race = race_tab.build()
        explorer = teaching_layout.explorer_tab()
        branch = branch_tab.build()  # app/branch/
        files = _files_tab()
    return Page(session=session, header=header, lessons=lessons, question=question, decoding=decoding,
                template=template, live=live, inspector=inspector, results=results, compare=compare, race=race,
                explorer=explorer, branch=branch, files=files)


def _wire_load(studio: Studio, demo: gr.Blocks, page: Page):
    """What the page does on load: the model line and card, the presets and suggestions, the model's defaults.
    Returns the load chain (a link's lesson and controls come after it)."""
    d = page.decoding
    return demo.load(welcome.folded(studio.header), None, [page.header.model_line, page.header.about],
                     api_visibility="private").then(
        studio.card_choices, None, [page.template.preset, page.question.suggest, page.question.scene_btn],
        api_visibility="private").then(
        studio.defaults, None, [d.threshold, d.prefill, d.steps, d.max_new, d.alg, d.temperature],
        api_visibility="private")


def build_demo(assistant: StudioAssistant, *, title: str = "Dimple Studio", analytics: bool = False) -> gr.Blocks:
    """The whole UI for one assistant (a loaded one or app.lazy.LazyAssistant); Gradio's analytics only when
    `analytics` (the launcher's --analytics)."""
    studio = Studio(assistant)
    with gr.Blocks(title=title, fill_width=False, delete_cache=(1800, 3600), analytics_enabled=analytics) as demo:
        # a value, not the class: Gradio deep-copies it per visitor (Session.__deepcopy__ makes a fresh one), where
        # a callable default would also be served as an input-less `Session` API endpoint
        session = gr.State(Session(), delete_callback=close_session, time_to_live=6 * 3600)
        page = layout(studio, session)
        api.register(assistant)

        form = _form(page)
        _wire_asking(studio, page, form)
        _wire_question(studio, page.question)
        _wire_replay(studio, page.live, session)
        _wire_compare_and_files(studio, page, form)
        teaching_layout.wire(assistant, page.inspector, page.explorer, page.live.canvas, page.question.image, session,
                             form)
        race_tab.wire(assistant, page.race, session, form)
        branch_tab.wire(assistant, page.branch, session, page.live.replay, form)
        loaded = _wire_load(studio, demo, page)
        lessons_layout.wire(assistant, page.lessons, page.header.lessons_open, loaded)  # ?lesson=N, after the defaults
        lessons_share.wire(page, loaded, page.live.status)  # ?threshold=..&q=.., after the defaults
        for sent in (page.question.send.click, page.question.prompt.submit):
            sent(None, js=static.text("show_canvas.js"))
    return demo
