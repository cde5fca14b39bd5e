"""One browser session's private state (held in a gr.State, never shared).

Owns what a person's session remembers between events: the conversation,
the request waiting to run, the last trajectory (live, finished or imported),
its run controller (app/runs.py: running, Stop, Clear), Play's pause flag, drawing-cost measurements, and the
private temporary folder its exports are written to (removed when the session
ends). It knows nothing of Gradio components or the
model; handlers read and update it.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from .canvas.export import new_session_dir, remove_session_dir
from .runs import RunController


class Session:
    def __init__(self) -> None:
        self.history: list[tuple[str, str]] = []  # finished turns
        self.chat: list[dict] = []  # Chatbot messages, including a turn in progress
        self.trajectory = None  # the last run (or an imported one)
        self.question: str = ""  # the question of the last run
        self.runs = RunController()  # whether a decode runs, its Stop flag, Clear's epoch (app/runs.py)
        self.render_seconds: list[float] = []  # time spent drawing each live frame of the last run
        self.first_frame_s: Optional[float] = None  # send -> first frame ready, last run
        self.frame_at = 0.0  # perf_counter() when the last live canvas frame was sent
        self.bubble_at = 0.0  # perf_counter() when the live answer's chat bubble was last redrawn
        self.sent_at: Optional[float] = None  # perf_counter() when the last question was accepted
        self.selected: Optional[int] = None  # the canvas position the token inspector shows
        self.branches = None  # app.branch_state.Branches of the last run (app/branching.py)
        self.paused = threading.Event()  # Pause pressed: Play ends after its current frame (set by another event)
        self._folder: Optional[str] = None

    # gr.State deep-copies its initial value; a session is created fresh instead (gr.State(Session)).
    def __deepcopy__(self, memo):
        fresh = Session()
        fresh.history = list(self.history)
        fresh.chat = [dict(m) for m in self.chat]
        return fresh

    def folder(self) -> str:
        if self._folder is None:
            self._folder = new_session_dir()
        return self._folder

    @property
    def running(self) -> bool:
        """One of this session's decodes is running now."""
        return self.runs.running

    def clear(self) -> None:
        """A new conversation: the running decode (if any) stops and its answer is not kept."""
        self.runs.clear()
        self.history, self.chat = [], []
        self.trajectory, self.question, self.branches = None, "", None
        self.render_seconds, self.first_frame_s = [], None

    def close(self) -> None:
        remove_session_dir(self._folder)
        self._folder = None


def close_session(session: Any) -> None:
    """gr.State delete_callback: remove the session's export folder."""
    if isinstance(session, Session):
        session.close()
