"""Event handlers: short named steps that layout.py chains with `.then` / `.success`.

Owns what happens when a person acts: validate a question and add it to the
chat, stream the decode (one canvas frame per engine iteration, as it
happens), show the results, replay, compare, export/import, preview a
structure prior, stop, clear, regenerate, draw a random scene. Every handler
reads and writes only its own session's `Session` (from gr.State); the model
(`assistant`) is the only thing shared, and it is read-only.

It knows the assistant's methods and the Trajectory record; the HTML comes
from render.py, figures from plots.py, files from export.py; component
wiring (which outputs, in which order) is layout.py's.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Optional

import gradio as gr

from ..branch import handlers as branching
from ..canvas import client as canvas_client, export, panels, plots, render
from . import compare
from ..form import controls
from .. import pace
from ..protocol import StudioAssistant, answer_text
from ..request import Question, checked, question, running
from ..session import Session
from ..words import count

NO_PRESET = "(none)"
MASK_CHAR = "\u2592"
log = logging.getLogger("dimple.studio")


def _session(session: Optional[Session]) -> Session:
    return session if isinstance(session, Session) else Session()


class Studio:
    """The handlers, bound to one (possibly lazily loaded) assistant."""

    def __init__(self, assistant: StudioAssistant) -> None:
        self.assistant = assistant

    # ----- header / startup -------------------------------------------------
    def header(self) -> tuple[str, str]:
        """(model line, about markdown) - loads the model if it is not loaded yet."""
        try:
            a = self.assistant
            line = (f"**Model:** {a.name} &nbsp;·&nbsp; **device:** {a.device} &nbsp;·&nbsp; "
                    f"answers up to {a.max_new_tokens_limit} tokens")
            return line, f"**What it knows.** {a.about}"
        except Exception as exc:  # the page still loads and says why the model did not
            return f"**Model failed to load:** {exc}", ""

    def defaults(self):
        """Controls set to the model's default decoding config: threshold, prefill, steps, max tokens, alg, temp."""
        try:
            cfg, limit = self.assistant.default_config, int(self.assistant.max_new_tokens_limit)
        except Exception:
            return tuple(gr.skip() for _ in range(6))
        return (gr.update(value=cfg.alg_p_threshold), gr.update(value=cfg.prefill),
                gr.update(value=min(cfg.steps, limit), maximum=limit),
                gr.update(value=min(cfg.max_new_tokens, limit), maximum=limit),
                gr.update(value=cfg.alg), gr.update(value=cfg.temperature))

    # ----- asking -------------------------------------------------------------
    def ask(self, form: dict):
        """Validate, then decode live. Yields (canvas, chat, status, prompt box, stats, answer-by-step).

        `form`: app.form's named values. One event from Send to the last frame (no second round trip before
        the first frame). Bad input raises gr.Error before anything changes.
        """
        session = _session(form["session"])
        if session.runs.dropped():
            yield gr.skip(), gr.skip(), "stopped before it started", gr.skip(), gr.skip(), gr.skip()
            return
        with running(session) as should_stop:
            req = question(self.assistant, form["image"], form["prompt"], form["template"], controls(form),
                           session.history)
            yield from self._run(session, req, should_stop, _live_interval(form))

    def regenerate(self, form: dict):
        """Drop the last answer and ask its question again with the current settings (same outputs as ask)."""
        session = _session(form["session"])
        if session.runs.dropped():
            yield gr.skip(), gr.skip(), "stopped before it started", gr.skip(), gr.skip(), gr.skip()
            return
        with running(session) as should_stop:
            if not session.history:
                raise gr.Error("Nothing to regenerate yet: ask a question first.", print_exception=False)
            req = question(self.assistant, form["image"], session.history[-1][0], form["template"], controls(form),
                           session.history[:-1])
            session.history.pop()
            yield from self._run(session, req, should_stop, _live_interval(form))

    def sent(self, session):
        """Runs unqueued at the click: count the question as waiting, so Stop can drop it before it starts."""
        _session(session).runs.sent()

    def _run(self, session: Session, req: Question, should_stop, interval_s: float = 0.0):
        """Inside the session's run: the chat turn, then the live frames of the decode, each on screen at least
        `interval_s` (the playback speed, app/pace.py)."""
        session.sent_at = time.perf_counter()
        session.render_seconds, session.first_frame_s = [], None
        session.question = req.prompt
        session.chat = _chat(session.history) + [{"role": "user", "content": req.prompt},
                                                 {"role": "assistant", "content": MASK_CHAR}]
        waiting = '<div class="dm-note">decoding\u2026</div>'
        yield gr.skip(), session.chat, "starting\u2026", "", waiting, render.render_answer(None)
        shown = float("-inf")  # the first frame is shown at once
        for frame in self._decode(session, req, session.chat, should_stop):
            if interval_s > 0:
                pace.wait(interval_s, shown, should_stop)
                shown = time.monotonic()
            yield (*frame, gr.skip(), gr.skip(), gr.skip())

    def _decode(self, session: Session, req: Question, chat: list, should_stop):
        traj, epoch = None, session.runs.epoch
        try:
            for traj in self.assistant.stream(req.image, req.prompt, req.cfg, history=req.history,
                                              template=req.template, should_stop=should_stop):
                session.trajectory = traj
                t0 = time.perf_counter()
                if not canvas_client.due(traj, t0 - session.frame_at):
                    continue  # a large canvas streams at a viewer's pace; the replay keeps every step
                session.frame_at = t0
                html = canvas_client.value(traj, live=True)
                bubble = self._bubble(session, chat, traj, t0)
                status = f"decoding: step {traj.nfe}"
                session.render_seconds.append(time.perf_counter() - t0)
                if session.first_frame_s is None:
                    session.first_frame_s = time.perf_counter() - (session.sent_at or t0)
                yield html, bubble, status
        except Exception as exc:  # noqa: BLE001 - reported to this user only; the server keeps serving others
            # ValueError: bad input the checks above could not see (e.g. a prompt too long for the model)
            message = str(exc) if isinstance(exc, ValueError) else f"generation failed ({type(exc).__name__}: {exc})"
            if not isinstance(exc, ValueError):
                log.exception("generation failed")
            chat[-1] = {"role": "assistant", "content": f"\u26a0 {message}"}
            session.trajectory = None
            gr.Warning(message)
            yield render.empty_canvas(message), chat, "error"
            return
        if traj is None:
            return
        answer = answer_text(self.assistant, traj)
        chat[-1] = {"role": "assistant", "content": answer or "(empty answer)"}
        if session.runs.epoch != epoch:  # Clear was pressed meanwhile: this answer belongs to no conversation
            yield canvas_client.finished(traj), gr.skip(), "cleared"
            return
        session.history.append((req.prompt, answer))
        status = ("stopped" if traj.stopped else "done") + f" after {count(traj.nfe, 'step')}"
        yield canvas_client.finished(traj), chat, status

    BUBBLE_EVERY_S = 0.5  # a large canvas's text in the chat bubble is redrawn at most this often while live

    def _bubble(self, session: Session, chat: list, traj, now: float):
        """The chat with the canvas's text so far as the answer's bubble, or gr.skip() while a large canvas's
        bubble was redrawn less than BUBBLE_EVERY_S ago (its markdown would cost more than the canvas)."""
        if canvas_client.is_large(traj) and traj.steps and now - session.bubble_at < self.BUBBLE_EVERY_S:
            return gr.skip()
        session.bubble_at = now
        chat[-1] = {"role": "assistant", "content": render.canvas_text(traj, mask=MASK_CHAR) or MASK_CHAR}
        return chat

    def results(self, session):
        """After a run (or an import): (stats, answer-by-step, replay slider, json file, gif file)."""
        session = _session(session)
        traj = session.trajectory
        if traj is None or not traj.steps:
            return (panels.render_stats(None), render.render_answer(None), gr.update(value=0, maximum=1), None, None)
        stats = panels.render_stats(traj) + self._drawing_note(session, traj)
        return (stats, render.render_answer(traj), gr.update(value=traj.nfe, maximum=max(traj.nfe, 1)), None, None)

    def plots(self, session):
        """(tokens per step, cumulative vs forward passes, confidence heatmap) for the last run."""
        traj = _session(session).trajectory
        if traj is None or not traj.steps:
            return plots.empty_figure(), plots.empty_figure(), plots.empty_figure()
        return plots.commits_per_step(traj), plots.cumulative_vs_forward(traj), plots.confidence_heatmap(traj)

    @staticmethod
    def _drawing_note(session: Session, traj) -> str:
        if not session.render_seconds or not traj.steps:
            return ""
        draw = sum(session.render_seconds[1:]) / max(len(session.render_seconds) - 1, 1)
        step = sum(s.seconds for s in traj.steps) / len(traj.steps)
        share = f" ({draw / step * 100:.1f}% of a step's compute)" if step > 0 else ""
        first = f"; first frame {session.first_frame_s * 1000:.0f} ms after send" if session.first_frame_s else ""
        frames = f" ({len(session.render_seconds)} frames for {len(traj.steps)} steps)"
        return (f'<div class="dm-note" id="dm-drawing">Drawing a live frame took {draw * 1000:.2f} ms on average'
                f"{share}{frames}; a step computed in {step * 1000:.1f} ms{first}.</div>")

    def stop(self, session):
        """Stop the running decode after its current step (it reports "stopped"), or drop a question still queued."""
        _session(session).runs.stop()

    def clear(self, session):
        """New conversation -> (chat, canvas, status, session)."""
        session = _session(session)
        session.clear()  # stops the running decode, if any (app/runs.py)
        return [], render.empty_canvas(), "", session

    # ----- replay -------------------------------------------------------------
    def replay_frame(self, n, session):
        session = _session(session)
        if session.trajectory is None:
            return render.empty_canvas("Nothing to replay yet.")
        return canvas_client.value(session.trajectory, int(n or 0))

    def play(self, session, speed=pace.AUTO):
        """Animate the recorded trajectory from step 0 at the playback speed (app/pace.py): yields (slider value,
        canvas)."""
        session = _session(session)
        traj = session.trajectory
        if traj is None or not traj.steps:
            yield gr.skip(), render.empty_canvas("Nothing to replay yet.")
            return
        with checked():
            delay = pace.frame_interval(speed, traj.nfe, live=False)
        session.paused.clear()
        for n in range(traj.nfe + 1):
            yield n, canvas_client.value(traj, n)
            if n < traj.nfe:
                pace.wait(delay, time.monotonic(), session.paused.is_set)
            if session.paused.is_set():
                return

    def pause(self, session):
        """Pause: the running Play ends after the frame on screen (within pace.POLL_S), and the slider stays there.

        A flag, not a Gradio cancel: a cancel that lands while Play waits between frames left the next Play
        waiting on it for good."""
        _session(session).paused.set()

    # ----- images ---------------------------------------------------------------
    def random_scene(self, seed):
        try:
            image, question = self.assistant.random_scene(int(seed or 0) if seed is not None else None)
        except Exception as exc:
            raise gr.Error(f"Could not draw a scene: {exc}", print_exception=False) from None
        return image, question, int(time.time_ns() % 1_000_000)

    def image_changed(self, session):
        """A new picture starts a new conversation (earlier turns were about another image)."""
        session = _session(session)
        if session.history:
            session.history, session.chat = [], []
            gr.Info("New image: the conversation was cleared.")
            return [], session
        return gr.skip(), session

    # ----- structure prior --------------------------------------------------------
    def preset(self, name):
        return self.assistant.presets.get(name, "") if name != NO_PRESET else ""

    def card_choices(self):
        """(preset menu, suggestions, the random-scene button) from the loaded model's card: the button only
        where the model draws scenes."""
        try:
            presets, suggestions = self.assistant.presets, self.assistant.suggestions
            scenes = bool(self.assistant.draws_scenes)
        except Exception:  # noqa: BLE001 - the header already says why the model did not load
            presets, suggestions, scenes = {}, (), False
        return (gr.update(choices=[NO_PRESET, *presets], value=NO_PRESET),
                gr.update(samples=[[s] for s in suggestions], visible=bool(suggestions)), gr.update(visible=scenes))

    def preview(self, template):
        """(preview html, error html) for the template editor."""
        if not (template or "").strip():
            return (render.empty_canvas("No template: the model fills a canvas of max new tokens freely."), "")
        try:
            limit = int(self.assistant.max_new_tokens_limit)
            p = self.assistant.canvas_for(template, limit)
        except ValueError as exc:
            return gr.skip(), panels.render_error(str(exc))
        except Exception as exc:
            return gr.skip(), panels.render_error(f"preview unavailable: {exc}")
        return panels.render_preview(p.pieces, p.length, limit, p.warnings), ""

    # ----- compare --------------------------------------------------------------
    def compare(self, form: dict):
        """Run A then B (same image, prompt, seed), streaming both: yields compare.run_pair's outputs."""
        session = _session(form["session"])
        prompt = form["prompt"] if (form["prompt"] or "").strip() else session.question
        base = controls(form)
        with running(session) as should_stop:
            req_a, req_b = (question(self.assistant, form["image"], prompt, form["template"],
                                     {**base, "alg_p_threshold": form[f"{k}_threshold"],
                                      "prefill": form[f"{k}_prefill"]}) for k in "ab")
            with checked():
                yield from compare.run_pair(self.assistant, req_a, req_b, should_stop)

    # ----- export / import -------------------------------------------------------
    def export_json(self, session):
        session = _session(session)
        if session.trajectory is None or not session.trajectory.steps:
            raise gr.Error("Nothing to export yet: run a question (or import a trajectory) first.", print_exception=False)
        return export.write_json(session.trajectory, session.folder(),
                                 extra={"question": session.question, "branches": branching.exported(session)})

    def export_gif(self, session):
        session = _session(session)
        if session.trajectory is None or not session.trajectory.steps:
            raise gr.Error("Nothing to export yet: run a question (or import a trajectory) first.", print_exception=False)
        return export.write_gif(session.trajectory, session.folder())

    def import_json(self, path, session):
        """Load an export -> (canvas, status, session); results() then fills the rest."""
        session = _session(session)
        try:
            traj = export.read_json(path)
        except ValueError as exc:
            raise gr.Error(f"Import failed: {exc}", duration=8, print_exception=False) from None
        session.trajectory, session.render_seconds, session.first_frame_s = traj, [], None
        try:
            with open(path, encoding="utf-8") as fh:
                studio = json.load(fh).get("studio", {})
            session.question = str(studio.get("question", ""))
        except Exception:
            studio, session.question = {}, ""
        try:
            branching.restore(session, traj, studio)  # the export's branches replay without a model
        except ValueError as exc:
            raise gr.Error(f"Import failed: {exc}", duration=8, print_exception=False) from None
        return canvas_client.finished(traj), f"imported a run of {traj.nfe} steps", session


def _live_interval(form: dict) -> float:
    """Seconds each live frame stays on screen at the form's playback speed (0: as fast as the model)."""
    with checked():
        return pace.frame_interval(form.get("speed"), 0, live=True)


def _chat(history) -> list[dict]:
    out = []
    for user, answer in history:
        out += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return out
