"""The page: `build_demo(assistant) -> gr.Blocks`, its components and how events are wired.

Owns what is where on screen and which handler runs on which event, in what
chain (validate -> stream live -> show results). It holds no logic of its own:
handlers.py decides, render.py/plots.py draw, api.py serves the API. Per-user
data lives only in a gr.State(Session); nothing here is shared between users
except the read-only assistant. It knows nothing of tensors or decoding.
"""

from __future__ import annotations

import json
import os
from typing import Any

import gradio as gr

from app import api, plots, render
from app.handlers import PRESETS, Studio
from app.session import Session, close_session
from dimple.config import ALGORITHMS, DecodeConfig
from dimple.loading import ASSETS

EXAMPLES_DIR = str(ASSETS / "examples")  # the repository's assets/, or the installed package data

PAGE_CSS = """
.dm-title h1 { margin-bottom: 0 !important; }
.dm-title p { margin-top: 2px !important; color: #5a6070; }
.dm-about { font-size: 13px; color: #4b5160; background: #f3f1ff; border-left: 3px solid #7c6cf0;
  padding: 4px 12px; border-radius: 6px; }
#dm-canvas { min-height: 150px; }
#dm-send { min-width: 90px; }
footer { opacity: .6; }
"""


MAX_UPLOAD = "20mb"


def launch_options() -> dict:
    """Theme, CSS and upload limit for `demo.launch(**launch_options())` (Gradio 6 takes them at launch)."""
    theme = gr.themes.Soft(primary_hue="indigo", secondary_hue="violet", neutral_hue="slate")
    return {"theme": theme, "css": PAGE_CSS, "max_file_size": MAX_UPLOAD, "footer_links": ["api", "gradio"]}


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


def build_demo(assistant: Any, *, title: str = "Dimple Studio") -> gr.Blocks:
    """The whole UI for one assistant (a loaded one or app.lazy.LazyAssistant)."""
    studio = Studio(assistant)
    d = DecodeConfig()
    with gr.Blocks(title=title, fill_width=False, delete_cache=(1800, 3600)) as demo:
        session = gr.State(Session, delete_callback=close_session, time_to_live=6 * 3600)
        with gr.Row(elem_classes="dm-title"):
            gr.Markdown("# Dimple Studio\nWatch a discrete-diffusion multimodal LLM answer: every position of the "
                        "answer starts masked, and each step commits the ones the model is confident about.")
        model_line = gr.Markdown("**Model:** loading\u2026", elem_id="dm-model")
        about = gr.Markdown("", elem_id="dm-about", elem_classes="dm-about")

        with gr.Row(equal_height=False):
            # ----- left: the question and the knobs -----
            with gr.Column(scale=4, min_width=320):
                image = gr.Image(label="Image", type="filepath", height=250, sources=["upload", "clipboard"],
                                 elem_id="dm-image")
                examples = _examples()
                gallery = gr.Gallery([path for path, _ in examples], label="Examples (click one: image and question)",
                                     columns=8, rows=1, height=96, allow_preview=False, object_fit="contain",
                                     visible=bool(examples), elem_id="dm-examples")
                scene_btn = gr.Button("New random scene", size="sm", elem_id="dm-scene")
                scene_seed = gr.Number(value=1, visible=False, precision=0)
                prompt = gr.Textbox(label="Question", placeholder="e.g. Describe the image.", lines=2,
                                    max_lines=6, elem_id="dm-prompt")
                with gr.Row():
                    send = gr.Button("Send", variant="primary", elem_id="dm-send")
                    stop = gr.Button("Stop", variant="stop", elem_id="dm-stop")
                with gr.Row():
                    regen = gr.Button("\u21bb Regenerate", size="sm", elem_id="dm-regen")
                    clear = gr.Button("Clear", size="sm", elem_id="dm-clear")
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
                    with gr.Accordion("Sampling", open=False):
                        with gr.Row():
                            temperature = gr.Slider(0, 2, value=d.temperature, step=0.05, label="Temperature (0 = greedy)")
                            alg_temp = gr.Slider(0, 2, value=d.alg_temp, step=0.05, label="alg_temp (random fallback order)")
                        with gr.Row():
                            top_p = gr.Slider(0.05, 1, value=1.0, step=0.01, label="top-p (1 = off)")
                            top_k = gr.Number(value=0, precision=0, label="top-k (0 = off)", minimum=0)
                            seed = gr.Number(value=0, precision=0, label="Seed", minimum=0)

                with gr.Accordion("Structure prior (template)", open=False):
                    gr.Markdown("Plain text is fixed; `<mask>` is one slot, `<mask:N>` is N slots, `<eos>` ends "
                                "the answer. The answer length is the template's length.")
                    preset = gr.Dropdown(list(PRESETS), value="(none)", label="Preset")
                    template = gr.Textbox(label="Template", lines=2, placeholder="Color: <mask:2>. Shape: <mask:3>.<eos>",
                                          elem_id="dm-template")
                    template_error = _html("", elem_id="dm-template-error")
                    template_preview = _html(render.empty_canvas("No template: the model fills a canvas of max "
                                                                 "new tokens freely."), elem_id="dm-template-preview")

            # ----- right: what happens -----
            with gr.Column(scale=6, min_width=420):
                canvas = _html(render.empty_canvas(), elem_id="dm-canvas")
                with gr.Row():
                    replay = gr.Slider(0, 1, value=0, step=1, label="Replay: step", interactive=True,
                                       elem_id="dm-replay", scale=5)
                    with gr.Column(scale=1, min_width=110):
                        play = gr.Button("\u25b6 Play", size="sm", elem_id="dm-play")
                        pause = gr.Button("Pause", size="sm", elem_id="dm-pause")
                status = gr.Markdown("", elem_id="dm-status")
                stats = _html(render.render_stats(None), elem_id="dm-stats")
                chat = gr.Chatbot(label="Conversation", height=240, elem_id="dm-chat", buttons=["copy"])

        with gr.Tabs():
            with gr.Tab("Answer by step"):
                answer = _html(render.render_answer(None), elem_id="dm-answer")
            with gr.Tab("Plots"):
                with gr.Row():
                    plot_steps = gr.Plot(plots.empty_figure(), label="Tokens per step", format="png")
                    plot_cum = gr.Plot(plots.empty_figure(), label="Committed vs forward passes", format="png")
                plot_heat = gr.Plot(plots.empty_figure(), label="Confidence heatmap", format="png")
            with gr.Tab("Compare"):
                gr.Markdown("Same image, question, template and seed under two settings (the other controls come "
                            "from the left panel).")
                with gr.Row():
                    with gr.Column():
                        a_thr = gr.Slider(0, 1, value=0.9, step=0.01, label="A: threshold")
                        a_prefill = gr.Checkbox(value=True, label="A: prefilling")
                    with gr.Column():
                        b_thr = gr.Slider(0, 1, value=0.0, step=0.01, label="B: threshold")
                        b_prefill = gr.Checkbox(value=True, label="B: prefilling")
                with gr.Row():
                    preset_thr = gr.Button("threshold 0.9 vs off", size="sm")
                    preset_pre = gr.Button("prefilling on vs off", size="sm")
                    run_cmp = gr.Button("Run comparison", variant="primary", elem_id="dm-compare")
                verdict = gr.Markdown("", elem_id="dm-verdict")
                with gr.Row():
                    cmp_a = _html(render.empty_canvas("A appears here."), elem_id="dm-cmp-a")
                    cmp_b = _html(render.empty_canvas("B appears here."), elem_id="dm-cmp-b")
                cmp_plot = gr.Plot(plots.empty_figure("Run a comparison to see this plot."), format="png")
            with gr.Tab("Export / import"):
                with gr.Row():
                    json_btn = gr.Button("Trajectory as JSON", elem_id="dm-export-json")
                    gif_btn = gr.Button("Denoising as GIF", elem_id="dm-export-gif")
                with gr.Row():
                    json_file = gr.File(label="JSON", interactive=False, elem_id="dm-json-file")
                    gif_file = gr.File(label="GIF", interactive=False, elem_id="dm-gif-file")
                gr.Markdown("Load a JSON export to replay it here (no model needed).")
                upload = gr.File(label="Import a trajectory (.json)", file_types=[".json"], elem_id="dm-import")

        api.register(assistant)

        # ----- wiring -----
        controls = [threshold, prefill, steps, max_new, alg, temperature, top_p, top_k, alg_temp, seed]
        result_outputs = [stats, answer, replay, json_file, gif_file]
        plot_outputs = [plot_steps, plot_cum, plot_heat]
        quiet = dict(api_visibility="private", concurrency_limit=None, show_progress="hidden")
        drawing = dict(api_visibility="private", concurrency_id="plots", concurrency_limit=2, show_progress="hidden")
        live = dict(show_progress="minimal", api_visibility="private")

        ask_outputs = [canvas, chat, status, prompt, stats, answer]
        for trigger in (send.click, prompt.submit, regen.click):
            trigger(studio.sent, [session], None, queue=False, api_visibility="private", show_progress="hidden")
        for trigger in (send.click, prompt.submit):
            (trigger(studio.ask, [image, prompt, template, *controls, session], ask_outputs,
                     concurrency_id="model", **live)
             .then(studio.results, [session], result_outputs, **quiet)
             .then(studio.plots, [session], plot_outputs, **drawing))
        (regen.click(studio.regenerate, [image, template, *controls, session], ask_outputs,
                     concurrency_id="model", **live)
         .then(studio.results, [session], result_outputs, **quiet)
         .then(studio.plots, [session], plot_outputs, **drawing))
        stop.click(studio.stop, [session], None, queue=False, api_visibility="private")
        (clear.click(studio.clear, [session], [chat, canvas, status, session], api_visibility="private", queue=False)
         .then(studio.results, [session], result_outputs, **quiet)
         .then(studio.plots, [session], plot_outputs, **drawing))

        replay.input(studio.replay_frame, [replay, session], [canvas], api_visibility="private",
                     concurrency_limit=None, show_progress="hidden", trigger_mode="always_last")
        play_evt = play.click(studio.play, [session], [replay, canvas], api_visibility="private",
                              concurrency_limit=None, show_progress="hidden")
        pause.click(None, cancels=[play_evt])

        gallery.select(_pick_example(examples), None, [image, prompt], api_visibility="private", queue=False)
        scene_btn.click(studio.random_scene, [scene_seed], [image, prompt, scene_seed], api_visibility="private",
                        concurrency_limit=None)
        image.change(studio.image_changed, [session], [chat, session], api_visibility="private", queue=False)

        preset.change(studio.preset, [preset], [template], api_visibility="private", queue=False)
        template.change(studio.preview, [template], [template_preview, template_error], api_visibility="private",
                        show_progress="hidden", trigger_mode="always_last", concurrency_limit=None)

        preset_thr.click(lambda: (0.9, True, 0.0, True), None, [a_thr, a_prefill, b_thr, b_prefill], queue=False,
                         api_visibility="private")
        preset_pre.click(lambda: (0.9, True, 0.9, False), None, [a_thr, a_prefill, b_thr, b_prefill], queue=False,
                         api_visibility="private")
        run_cmp.click(studio.compare, [image, prompt, template, *controls, a_thr, a_prefill, b_thr, b_prefill, session],
                      [cmp_a, cmp_b, verdict, cmp_plot], concurrency_id="model", **live)

        json_btn.click(studio.export_json, [session], [json_file], api_visibility="private", concurrency_limit=4,
                       concurrency_id="files")
        gif_btn.click(studio.export_gif, [session], [gif_file], api_visibility="private", concurrency_limit=4,
                      concurrency_id="files")
        (upload.upload(studio.import_json, [upload, session], [canvas, status, session], **quiet)
         .success(studio.results, [session], result_outputs, **quiet)
         .then(studio.plots, [session], plot_outputs, **drawing))

        demo.load(studio.header, None, [model_line, about], api_visibility="private").then(
            studio.defaults, None, [threshold, prefill, steps, max_new, alg, temperature], api_visibility="private")
    return demo
