"""The run controller: one per session, owning whether a decode runs, its Stop flag and Clear.

Every decode a session starts (a chat question, regenerate, compare, a Branch
resume, a manual step, the threshold explorer, a grounding) runs inside
`RunController.run()`: it refuses to start while another of the session's
decodes runs, resets the Stop flag at the start (so a Stop or Clear pressed
earlier never stops a later decode), and marks the session idle at the end,
however the decode ended. `stop()` stops whichever decode is running (or drops
a question still queued); `clear()` stops it and starts a new conversation
epoch, so an answer that finishes afterwards is not written into it.

It knows nothing of Gradio or of the model: decodes poll `should_stop`.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator


class Busy(RuntimeError):
    """Another decode of this session is running."""


class RunController:
    def __init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.running = False  # one of this session's decodes is running now
        self.epoch = 0  # bumped by Clear: a run that started before it must not write into the new conversation
        self.waiting = 0  # questions sent but not started yet (queued behind other users)
        self.drop_waiting = False  # Stop was pressed while a question waited: it must not run

    @contextmanager
    def run(self) -> Iterator[Callable[[], bool]]:
        """Mark a decode as running for the block; yields its `should_stop`. Raises Busy when one already runs."""
        with self._lock:
            if self.running:
                raise Busy("another decode of this session is running")
            self.running = True
            self._stop.clear()
        try:
            yield self._stop.is_set
        finally:
            self.running = False

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Stop the running decode after its current step, or drop a question still queued."""
        if self.running:
            self._stop.set()
        elif self.waiting:
            self.drop_waiting = True

    def clear(self) -> None:
        """A new conversation: stop the running decode and start a new epoch."""
        self.epoch += 1
        if self.running:
            self._stop.set()

    # ----- a question waiting in the queue ----------------------------------------
    def sent(self) -> None:
        """At the click, before the queue: count the question as waiting, so Stop can drop it."""
        self.waiting += 1
        self.drop_waiting = False

    def dropped(self) -> bool:
        """At the start of a queued question: True if Stop was pressed while it waited (it then does not run)."""
        self.waiting = max(0, self.waiting - 1)
        dropped, self.drop_waiting = self.drop_waiting, False
        return dropped and not self.running
