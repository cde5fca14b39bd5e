"""One browser session's private state (held in a gr.State, never shared).

Owns what a person's session remembers between events: the conversation,
the request waiting to run, the last trajectory (live, finished or imported),
the Stop flag a running decode polls, drawing-cost measurements, and the
private temporary folder its exports are written to (removed when the session
ends). It knows nothing of Gradio components or the
model; handlers read and update it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Optional

from .canvas.export import new_session_dir, remove_session_dir


@dataclass
class Request:
    """A validated question, ready for the engine."""

    image: Any  # PIL image or None
    prompt: str
    cfg: Any  # DecodeConfig
    template: Optional[str]
    history: list  # [(user, assistant), ...] before this turn


class Session:
    def __init__(self) -> None:
        self.history: list[tuple[str, str]] = []  # finished turns
        self.chat: list[dict] = []  # Chatbot messages, including a turn in progress
        self.trajectory = None  # the last run (or an imported one)
        self.question: str = ""  # the question of the last run
        self.stop = threading.Event()
        self.render_seconds: list[float] = []  # time spent drawing each live frame of the last run
        self.first_frame_s: Optional[float] = None  # send -> first frame ready, last run
        self.frame_at = 0.0  # perf_counter() when the last live canvas frame was sent
        self.bubble_at = 0.0  # perf_counter() when the live answer's chat bubble was last redrawn
        self.running = False  # a decode of this session is streaming now
        self.epoch = 0  # bumped by Clear: a run that started before it must not write into the new conversation
        self.sent_at: Optional[float] = None  # perf_counter() when the last question was accepted
        self.waiting = 0  # questions sent but not started yet (queued behind other users)
        self.drop_waiting = False  # Stop was pressed while a question waited: it must not run
        self.selected: Optional[int] = None  # the canvas position the token inspector shows
        self.branches = None  # app.branch_state.Branches of the last run (app/branching.py)
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

    def clear(self) -> None:
        self.epoch += 1
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
