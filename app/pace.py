"""Playback speed: how long each step stays on screen, on Play (replay) and in the live view.

Owns the speed control's choices and what they mean, so a class can follow a
model that decodes faster than people read: at "1x" a step stays on screen
STEP_S seconds; "0.25x" to "4x" scale that; "auto" is today's behaviour (the
live view as fast as the model computes, Play spreading a run over about
PLAY_SPAN_S seconds). `frame_interval` is the one rule both read; `wait` holds
a live frame back until its interval has passed (polling Stop, so a slowed
run still stops at once). It knows nothing of Gradio, the model or the
Trajectory beyond its number of steps.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

AUTO = "auto"
SPEEDS = (AUTO, "0.25x", "0.5x", "1x", "2x", "4x")  # the control's choices, slowest first after auto
STEP_S = 0.5  # seconds a step stays on screen at 1x
PLAY_SPAN_S = 10.0  # auto: Play spreads a run over about this long ...
PLAY_MAX_STEP_S = 0.5  # ... with no step longer than this
POLL_S = 0.05  # a paced live view checks Stop this often while it waits


def factor(speed) -> Optional[float]:
    """The speed as a multiplier (None for auto); ValueError naming `speed` for anything else."""
    if speed in (None, "", AUTO):
        return None
    text = str(speed).strip().lower().rstrip("x")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"speed must be one of {', '.join(SPEEDS)}, got {speed!r}") from None
    if not 0.01 <= value <= 100:
        raise ValueError(f"speed must be between 0.01x and 100x, got {speed!r}")
    return value


def frame_interval(speed, n_steps: int, live: bool) -> float:
    """Seconds between two frames: STEP_S / speed; at auto, 0 live and Play's spread over PLAY_SPAN_S."""
    f = factor(speed)
    if f is not None:
        return STEP_S / f
    return 0.0 if live else min(PLAY_MAX_STEP_S, PLAY_SPAN_S / max(n_steps, 1))


def wait(interval_s: float, since: float, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Sleep until `interval_s` after the monotonic time `since`, or until should_stop() says so."""
    deadline = since + interval_s
    while not should_stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(POLL_S, left))
