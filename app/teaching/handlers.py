"""The teaching handlers: inspect a clicked position, ground it in the image, explore thresholds.

Owns what happens when a person clicks a canvas slot (live or in replay: the
token inspector's record of that position at that frame's step, from
`dimple.ghosts`, no model), then asks for its grounding (one extra forward
pass of the committing step, through the assistant, drawn as a heatmap over
the picture), and when they press "Explore thresholds" (the current question
decoded at a range of thresholds in one batch). Every handler reads its own
session; bad input is a gr.Error (or, for a click on a slot that has no
grounding, a sentence in place of the heatmap).

It knows the assistant's `ground` / `explore`, the Trajectory and the
session; HTML comes from app/inspector.py and app/explorer.py, wiring from
app/teaching_layout.py.
"""

from __future__ import annotations

import logging

import gradio as gr

from .explorer import parse_thresholds, render_explorer
from ..form import controls
from ..inputs import load_image
from .inspector import heatmap, render_inspector
from ..protocol import StudioAssistant
from ..request import checked, question, running
from ..session import Session
from dimple.ghosts import inspect

log = logging.getLogger("dimple.studio")


def _session(session) -> Session:
    return session if isinstance(session, Session) else Session()


def _event_int(evt, name: str):
    try:
        return int(getattr(evt, name))
    except (AttributeError, TypeError, ValueError):
        return None


def grounding_caption(g) -> str:
    rows, cols = len(g.grid), len(g.grid[0])
    note = "" if g.reproduced else " (re-run without the prompt cache: its best guess differs from the committed token)"
    return (f"Where the model looked when step {g.step} committed position {g.position}: attention from the output "
            f"that scores it to the {rows}x{cols} image tokens (heads and layers averaged); "
            f"{100 * g.image_share:.0f}% of its attention went to the image. Peak: row {g.peak[0] + 1}, "
            f"column {g.peak[1] + 1}.{note}")


class Teaching:
    def __init__(self, assistant: StudioAssistant) -> None:
        self.assistant = assistant

    def inspect(self, session, evt: gr.EventData):
        """A click on the canvas -> (inspector html, session); the clicked position is remembered for grounding."""
        session = _session(session)
        traj = session.trajectory
        pos, step = _event_int(evt, "pos"), _event_int(evt, "step")
        if traj is None or not traj.steps or pos is None:
            session.selected = None
            return render_inspector(None), session
        step = step if step is not None and 1 <= step <= traj.nfe else None  # step 0: before any forward pass
        try:
            record = inspect(traj, pos, step)
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        session.selected = pos
        return render_inspector(record), session

    def ground(self, image_path, session):
        """The selected position's grounding -> (heatmap image or None, caption)."""
        session = _session(session)
        traj, pos = session.trajectory, getattr(session, "selected", None)
        if traj is None or pos is None:
            return None, ""
        try:
            image = load_image(image_path)
            if image is None:
                return None, "Grounding needs the run's image: this run has none on screen."
            with running(session):
                g = self.assistant.ground(image, traj, pos)
        except ValueError as exc:
            return None, str(exc)
        except Exception as exc:  # noqa: BLE001 - the inspector stays usable; the server keeps serving
            log.exception("grounding failed")
            return None, f"grounding failed ({type(exc).__name__}: {exc})"
        return heatmap(image, g.grid, g.box), grounding_caption(g)

    def explore(self, form: dict, thresholds_text):
        """Decode the current question at every threshold -> the explorer's table (a generator: one frame)."""
        session = _session(form["session"])
        prompt = form["prompt"] if (form["prompt"] or "").strip() else session.question
        with checked():
            values = parse_thresholds(thresholds_text)
        q = question(self.assistant, form["image"], prompt, form["template"], controls(form))
        with running(session), checked():
            result = self.assistant.explore(q.image, q.prompt, q.cfg, values, template=q.template)
        yield render_explorer(result.to_dict(text=self.assistant.decode))
