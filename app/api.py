"""The web API: `generate` and `branch` (docs/DESIGN.md contracts), plus `generate_batch`, `compare`,
`preview_template`, `export` (and, from app/teaching_api.py, `explore`, `inspect`, `ground` and generate's
`grounding` keyword).

Owns the endpoints a script reaches with `gradio_client`: their keyword
parameters, the JSON they return (for `generate`, exactly the CLI's
{"text", "response_ids", "nfe", "tokens_per_forward", "latency_s",
"trajectory"}) and turning bad input into a gr.Error with a clear message
(the server keeps serving). The endpoints are stateless: each call is its own
run (or, for `generate_batch`, a row of a batch the queue assembled), its
exported files go to a fresh private temporary folder.

It knows the assistant's methods, the Trajectory record and app.inputs'
checks; nothing of the UI's components beyond the hidden ones it wires here.
"""

from __future__ import annotations

import logging
import time

import gradio as gr

from .canvas import export
from .teaching import api as teaching_api
from .inputs import check_branch, check_prompt, load_image, make_config
from .protocol import StudioAssistant, answer_text
from dimple.settings import DEFAULTS
from dimple.streaming import step_message
from dimple.trajectory import Trajectory, generation_record

log = logging.getLogger("dimple.studio")
MAX_BATCH = 8  # generate_batch: most waiting requests Gradio's queue hands over at once
THRESHOLD_OFF = 0.0  # compare's side B by default: confident decoding off (the schedule alone), against A's default


class Api:
    def __init__(self, assistant: StudioAssistant) -> None:
        self.assistant = assistant
        self._folders: list[tuple[float, str]] = []  # (created, path): one fresh private folder per export call

    def _steps(self, image, prompt, template, start=None, **controls):
        """Decode (from `start`'s canvas, a branch, when given), yielding the growing Trajectory after every
        iteration (a point where a cancelled request stops; `stream_steps` sends it), then (trajectory, latency
        in seconds)."""
        try:
            limit = int(self.assistant.max_new_tokens_limit)
            prompt = check_prompt(prompt)
            img = load_image(image)
            cfg = make_config(**controls, max_new_tokens_limit=limit)
            template = template if isinstance(template, str) and template.strip() else None
            if start is not None:
                start = check_branch(start, cfg.max_new_tokens, template)
            t0 = time.perf_counter()
            traj = None
            decode = (self.assistant.branch(img, prompt, cfg, **start) if start is not None
                      else self.assistant.stream(img, prompt, cfg, template=template))
            for traj in decode:
                yield traj
            latency = time.perf_counter() - t0
        except ValueError as exc:
            raise gr.Error(str(exc), duration=8, print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - this caller gets a clear message; the server keeps serving
            log.exception("generation failed")
            raise gr.Error(f"generation failed ({type(exc).__name__}: {exc})", duration=8) from None
        yield traj, latency

    def _record(self, traj: Trajectory, latency: float) -> dict:
        return generation_record(traj, answer_text(self.assistant, traj), latency)

    def _run(self, image, prompt, template, **controls) -> tuple[Trajectory, dict]:
        out = None
        for out in self._steps(image, prompt, template, **controls):
            pass
        traj, latency = out
        return traj, self._record(traj, latency)

    @staticmethod
    def _progress(traj: Trajectory, stream_steps: bool):
        """What an iteration sends: its canvas (dimple.streaming.step_message) with `stream_steps`, else nothing
        (gr.skip(): the client sees only the final JSON)."""
        return step_message(traj) if stream_steps else gr.skip()

    def generate(self, image: str, prompt: str, alg_p_threshold: float = DEFAULTS.alg_p_threshold,
                 prefill: bool = DEFAULTS.prefill, max_new_tokens: int = DEFAULTS.max_new_tokens,
                 steps: int = DEFAULTS.steps, alg: str = DEFAULTS.alg, temperature: float = DEFAULTS.temperature,
                 template: str = "", seed: int = DEFAULTS.seed, grounding: str = "",
                 block_length: int | None = DEFAULTS.block_length, stream_steps: bool = False) -> dict:
        """Answer a question about an image with Dimple, a discrete diffusion vision-language model.

        Every answer position starts masked; each iteration commits the positions the model is
        confident about (parallel decoding). Returns the answer text, its token ids, the forward
        passes used and the whole decoding trajectory.

        Args:
            image: the picture to ask about (a file path or URL; PNG, JPEG or WebP).
            prompt: the question about the picture.
            alg_p_threshold: confidence threshold in [0, 1]; every masked position above it is committed at once (0 = off).
            prefill: reuse the prompt's key/value cache after the first iteration (faster, approximate).
            max_new_tokens: length of the answer canvas in tokens.
            steps: most decoding iterations allowed; the last one commits everything left.
            alg: confidence kind, one of maskgit_plus, topk_margin, entropy, origin, autoregressive.
            temperature: token sampling temperature (0 = greedy).
            template: optional structure prior such as "Color: <mask:2>.<eos>" (empty = none).
            seed: random seed for sampling.
            grounding: "answer" or comma-separated positions ("0,3"): add where in the image each looked (empty = none).
            block_length: semi-autoregressive blocks of this many positions, decoded left to right (empty = the whole canvas).
            stream_steps: also send each iteration's canvas {step, ids, texts, committed, block, masked} before the final JSON.

        Returns:
            JSON with text, response_ids, nfe, tokens_per_forward, latency_s and trajectory.
        """
        # A generator underneath: Gradio stops iterating it when the client cancels or disconnects, so an
        # abandoned request frees its slot (and the CPU) after the current iteration.
        for out in self._steps(image, prompt, template, alg_p_threshold=alg_p_threshold, prefill=prefill,
                               max_new_tokens=max_new_tokens, steps=steps, alg=alg, temperature=temperature,
                               seed=seed, block_length=block_length):
            if isinstance(out, Trajectory):
                yield self._progress(out, _flag(stream_steps))
                continue
            record = self._record(*out)
            if isinstance(grounding, str) and grounding.strip():
                try:
                    record["grounding"] = teaching_api.groundings(self.assistant, image, grounding, out[0])
                except ValueError as exc:
                    raise gr.Error(f"grounding: {exc}", duration=8, print_exception=False) from None
            yield record

    def branch(self, image, prompt, alg_p_threshold=DEFAULTS.alg_p_threshold, prefill=DEFAULTS.prefill,
               max_new_tokens=DEFAULTS.max_new_tokens, steps=DEFAULTS.steps, alg=DEFAULTS.alg,
               temperature=DEFAULTS.temperature, template="", seed=DEFAULTS.seed, canvas=None, fixed=None,
               start_step=0, start_masked=None, block_length=DEFAULTS.block_length, stream_steps=False):
        """Decode from a given canvas (docs/DESIGN.md, Branching): `generate`'s keywords (block_length and
        stream_steps too) plus `canvas` (token ids, the mask id where masked, max_new_tokens of them), `fixed`,
        `start_step`, `start_masked`; returns the JSON of `generate`."""
        start = {"canvas": canvas, "fixed": fixed, "start_step": start_step, "start_masked": start_masked}
        for out in self._steps(image, prompt, template, start=start, alg_p_threshold=alg_p_threshold,
                               prefill=prefill, max_new_tokens=max_new_tokens, steps=steps, alg=alg,
                               temperature=temperature, seed=seed, block_length=block_length):
            yield self._progress(out, _flag(stream_steps)) if isinstance(out, Trajectory) else self._record(*out)

    def generate_batch(self, image, prompt, alg_p_threshold, prefill, max_new_tokens, steps, alg, temperature,
                       template, seed):
        """Gradio's queue batches waiting `generate_batch` calls (up to 8): each argument is a list, one item per
        caller. Callers with the same settings share one batched decode (one forward per iteration for all);
        each gets the CLI's JSON, or {"error": message} for bad input (one bad request must not fail the others).
        """
        # same parameter names as `generate` (the API's keywords); each is a list, one item per caller
        out: list = [None] * len(prompt)
        groups: dict = {}
        rows = zip(image, prompt, alg_p_threshold, prefill, max_new_tokens, steps, alg, temperature, template, seed)
        for i, (img, text, thr, pre, n_new, n_steps, kind, temp, tmpl, sd) in enumerate(rows):
            try:
                limit = int(self.assistant.max_new_tokens_limit)
                cfg = make_config(alg_p_threshold=thr, prefill=pre, max_new_tokens=n_new, steps=n_steps, alg=kind,
                                  temperature=temp, seed=sd, max_new_tokens_limit=limit)
                item = (load_image(img), check_prompt(text))
                tmpl = tmpl if isinstance(tmpl, str) and tmpl.strip() else None
                if tmpl:
                    self.assistant.canvas_for(tmpl, limit)
            except ValueError as exc:
                out[i] = {"error": str(exc)}
                continue
            groups.setdefault((cfg, tmpl), []).append((i, item))
        for (cfg, template), members in groups.items():
            t0 = time.perf_counter()
            try:
                trajs = self.assistant.generate_batch([item for _, item in members], cfg, template=template)
            except Exception as exc:  # noqa: BLE001 - reported to this group's callers only
                log.exception("batched generation failed")
                for i, _ in members:
                    out[i] = {"error": f"generation failed ({type(exc).__name__}: {exc})"}
                continue
            latency = time.perf_counter() - t0  # the batch's wall clock: each caller waited this long
            for (i, _), traj in zip(members, trajs):
                out[i] = self._record(traj, latency)
        return [out]

    def compare(self, image, prompt, a_alg_p_threshold=DEFAULTS.alg_p_threshold, a_prefill=DEFAULTS.prefill,
                b_alg_p_threshold=THRESHOLD_OFF, b_prefill=DEFAULTS.prefill, max_new_tokens=DEFAULTS.max_new_tokens,
                steps=DEFAULTS.steps, alg=DEFAULTS.alg, template="", seed=DEFAULTS.seed):
        """Run the same question under settings A and B; returns both results, the speedup and whether answers differ."""
        common = dict(max_new_tokens=max_new_tokens, steps=steps, alg=alg, temperature=0.0, seed=seed)
        traj_a, a = self._run(image, prompt, template, alg_p_threshold=a_alg_p_threshold, prefill=a_prefill, **common)
        traj_b, b = self._run(image, prompt, template, alg_p_threshold=b_alg_p_threshold, prefill=b_prefill, **common)
        return {
            "a": a,
            "b": b,
            "speedup_b_over_a": (b["latency_s"] / a["latency_s"]) if a["latency_s"] > 0 else None,
            "nfe_ratio_b_over_a": b["nfe"] / a["nfe"] if a["nfe"] else None,
            "same_answer": traj_a.answer_ids == traj_b.answer_ids,
        }

    def preview_template(self, template):
        """Tokenise a structure-prior template: pieces (text, fixed), length, warnings; a parse error is a gr.Error."""
        try:
            limit = int(self.assistant.max_new_tokens_limit)
            p = self.assistant.canvas_for(template or "", limit)
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return {"pieces": [[t, bool(f)] for t, f in p.pieces], "length": p.length, "warnings": list(p.warnings),
                "limit": limit}

    def export(self, trajectory_json):
        """A trajectory (JSON text, as in `generate`'s "trajectory") -> (JSON file, animated GIF)."""
        try:
            if isinstance(trajectory_json, dict):
                traj = Trajectory.from_dict(trajectory_json)
            else:
                traj = Trajectory.from_json(str(trajectory_json or ""))
            folder = self._fresh_folder()
            return export.write_json(traj, folder), export.write_gif(traj, folder)
        except ValueError as exc:
            raise gr.Error(f"export: {exc}", print_exception=False) from None


    def _fresh_folder(self, max_age_s: float = 900.0) -> str:
        """A new private folder for one call; earlier calls' folders go once Gradio has long copied their files."""
        now = time.time()
        while self._folders and now - self._folders[0][0] > max_age_s:
            export.remove_session_dir(self._folders.pop(0)[1])
        folder = export.new_session_dir()
        self._folders.append((now, folder))
        return folder


def _named_fetch_errors(component: gr.File) -> gr.File:
    """A file input whose URL download fails (refused, unreachable, not found) says so as a gr.Error naming it.

    Gradio downloads an URL argument before the endpoint runs, through the component's
    `async_move_resource_to_block_cache`; its own exception would reach an MCP client as "the upstream
    Gradio app has raised an exception". This instance's method is wrapped, the class is left alone."""
    fetch = component.async_move_resource_to_block_cache

    async def fetch_or_refuse(url_or_file_path):
        try:
            return await fetch(url_or_file_path)
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to fetch is the caller's to hear about
            raise gr.Error(f"image: could not fetch {str(url_or_file_path)[:200]} ({exc}); send the picture "
                           "itself (a file or a base64 data URI) or a public http(s) URL", duration=8,
                           print_exception=False) from None

    component.async_move_resource_to_block_cache = fetch_or_refuse
    return component


def _flag(value) -> bool:
    """stream_steps as a client sends it (a bool, or its text); ValueError-free: anything else is a gr.Error."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", ""):
        return value.strip().lower() in ("true", "1")
    raise gr.Error(f"stream_steps must be true or false, got {value!r}", print_exception=False)


def register(assistant: StudioAssistant) -> Api:
    """Wire the endpoints to hidden components inside the current gr.Blocks (call within its context)."""
    api = Api(assistant)
    with gr.Column(visible=False):
        image = _named_fetch_errors(gr.File(label="image", file_types=["image"]))
        prompt = gr.Textbox(label="prompt")
        thr = gr.Number(label="alg_p_threshold", value=DEFAULTS.alg_p_threshold)
        prefill = gr.Checkbox(label="prefill", value=DEFAULTS.prefill)
        max_new = gr.Number(label="max_new_tokens", value=DEFAULTS.max_new_tokens, precision=0)
        steps = gr.Number(label="steps", value=DEFAULTS.steps, precision=0)
        alg = gr.Textbox(label="alg", value=DEFAULTS.alg)
        temperature = gr.Number(label="temperature", value=DEFAULTS.temperature)
        template = gr.Textbox(label="template", value="")
        seed = gr.Number(label="seed", value=DEFAULTS.seed, precision=0)
        a_thr = gr.Number(label="a_alg_p_threshold", value=DEFAULTS.alg_p_threshold)
        a_prefill = gr.Checkbox(label="a_prefill", value=DEFAULTS.prefill)
        b_thr = gr.Number(label="b_alg_p_threshold", value=THRESHOLD_OFF)
        b_prefill = gr.Checkbox(label="b_prefill", value=DEFAULTS.prefill)
        traj_json = gr.Textbox(label="trajectory_json")
        grounding = gr.Textbox(label="grounding", value="")
        canvas, fixed = gr.JSON(label="canvas"), gr.JSON(label="fixed")
        start_step = gr.Number(label="start_step", value=0, precision=0)
        start_masked = gr.Number(label="start_masked", value=None, precision=0)
        # no precision: 2.5 must be refused, not rounded
        block_length = gr.Number(label="block_length", value=DEFAULTS.block_length)
        stream_steps = gr.Checkbox(label="stream_steps", value=False)
        out = gr.JSON(label="result")
        out_json, out_gif = gr.File(label="json"), gr.File(label="gif")
        go = gr.Button("generate")
        go.click(api.generate, [image, prompt, thr, prefill, max_new, steps, alg, temperature, template, seed,
                                grounding, block_length, stream_steps], out, api_name="generate", concurrency_id="model")
        gr.Button("branch").click(
            api.branch, [image, prompt, thr, prefill, max_new, steps, alg, temperature, template, seed, canvas, fixed,
                         start_step, start_masked, block_length, stream_steps], out, api_name="branch",
            concurrency_id="model")
        gr.Button("generate_batch").click(
            api.generate_batch, [image, prompt, thr, prefill, max_new, steps, alg, temperature, template, seed], out,
            api_name="generate_batch", batch=True, max_batch_size=MAX_BATCH, concurrency_id="batch",
            concurrency_limit=1)  # one batch at a time, so that waiting requests gather into the next one
        gr.Button("compare").click(
            api.compare, [image, prompt, a_thr, a_prefill, b_thr, b_prefill, max_new, steps, alg, template, seed], out,
            api_name="compare", concurrency_id="model")
        gr.Button("preview").click(api.preview_template, [template], out, api_name="preview_template",
                                   concurrency_limit=None)
        gr.Button("export").click(api.export, [traj_json], [out_json, out_gif], api_name="export",
                                  concurrency_id="files", concurrency_limit=4)
        teaching_api.register(assistant, image, prompt, thr, prefill, max_new, steps, alg, temperature, template,
                              seed, traj_json, out)  # explore, inspect, ground
    return api
