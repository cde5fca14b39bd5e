"""The race: one question decoded twice, live and side by side, confident decoding against one token per step.

Owns the two requests (the current settings, and the same question in the
autoregressive order: alg "autoregressive", threshold off, steps = the
canvas length, no blocks, so exactly one token per forward pass), advancing
the two decodes in turn, one iteration each, so both canvases grow on screen
together, and each side's counters: forward passes, tokens per second and
elapsed time, both from that side's own forward passes (the two share one
CPU, so the wall clock would charge each with the other's work), and the
answer as it forms. It knows the assistant's `stream`, the Trajectory and
app.request's checked Question; the canvases come from canvas/client.py,
the pacing from app/pace.py; the layout is race/layout.py's.
"""

from __future__ import annotations

import html
import time
from dataclasses import replace

import gradio as gr

from .. import pace
from ..canvas import client as canvas_client, render
from ..protocol import answer_text
from ..request import Question
from ..words import count, inflect

SIDES = ("confident", "one token per step")


def one_token_per_step(assistant, req: Question) -> Question:
    """The same question in the autoregressive order: leftmost masked position first, one per forward pass."""
    length = assistant.canvas_for(req.template, int(assistant.max_new_tokens_limit)).length if req.template \
        else req.cfg.max_new_tokens
    cfg = req.cfg.with_(alg="autoregressive", alg_p_threshold=0.0, steps=length, block_length=None).validate()
    return replace(req, cfg=cfg)


def own_seconds(traj) -> float:
    """The time of a side's own forward passes (its record's wall clock also counts the other side's turns)."""
    return sum(s.seconds for s in traj.steps)


def side_stats(traj, side: str, finished: bool = False) -> str:
    """One side's counters: forward passes, tokens per second, elapsed time (its own passes) and the answer so far."""
    if traj is None:
        return '<div class="dm-note">waiting\u2026</div>'
    seconds = own_seconds(traj)
    tokens = traj.n_generated
    tps = f"{tokens / seconds:.1f}" if seconds > 0 else "-"
    text = render.canvas_text(traj) or "\u2592"
    state = "stopped" if traj.stopped else "done" if finished else "decoding\u2026"
    cards = ((str(traj.nfe), "forward passes", "nfe"), (tps, "tokens / s", "tps"),
             (f"{seconds:.2f} s", "elapsed (its passes)", "elapsed"), (str(tokens), "tokens", "tokens"))
    body = "".join(f'<div class="dm-stat" data-k="{k}"><b>{html.escape(v)}</b><span>{html.escape(label)}</span></div>'
                   for v, label, k in cards)
    return (f'<div class="dm-race-side" data-side="{html.escape(side)}" data-nfe="{traj.nfe}" data-state="{state}">'
            f'<div class="dm-stats">{body}</div><div class="dm-note">{state}: <b class="dm-race-text">'
            f"{html.escape(text)}</b></div></div>")


def _advance(stream):
    """The next Trajectory of `stream`, or None when it has ended."""
    return next(stream, None)


def race(assistant, req: Question, should_stop, speed=pace.AUTO):
    """Yields (canvas A, canvas B, stats A, stats B, verdict): both decodes one iteration at a time, in turn;
    then the verdict. A bad request raises ValueError (the caller's checked())."""
    reqs = (req, one_token_per_step(assistant, req))
    streams = [assistant.stream(r.image, r.prompt, r.cfg, history=r.history, template=r.template,
                                should_stop=should_stop) for r in reqs]
    latest, live = [None, None], [True, True]
    titles = [f"{SIDES[0]} (threshold {req.cfg.alg_p_threshold:g})", SIDES[1]]
    interval, shown = pace.frame_interval(speed, 0, live=True), float("-inf")
    while any(live):
        out = [gr.skip()] * 4 + [gr.skip()]
        for k in (0, 1):
            if not live[k]:
                continue
            traj = _advance(streams[k])
            if traj is None:
                live[k] = False
                out[k] = canvas_client.value(latest[k], title=titles[k]) if latest[k] is not None else gr.skip()
                out[2 + k] = side_stats(latest[k], SIDES[k], finished=True)
                continue
            latest[k] = traj
            out[k] = canvas_client.value(traj, live=True, title=titles[k])
            out[2 + k] = side_stats(traj, SIDES[k])
        if interval > 0:
            pace.wait(interval, shown, should_stop)
            shown = time.monotonic()
        yield tuple(out)
    yield (gr.skip(), gr.skip(), gr.skip(), gr.skip(), verdict(assistant, *latest))


def verdict(assistant, fast, slow) -> str:
    """Markdown: forward passes and time of each side, and whether they wrote the same answer."""
    if fast is None or slow is None:
        return ""
    if fast.stopped or slow.stopped:
        return (f"**Stopped** (confident after {count(fast.nfe, 'forward pass')}, one token per step after "
                f"{slow.nfe}).")
    ratio = slow.nfe / fast.nfe if fast.nfe else float("inf")
    same = fast.answer_ids == slow.answer_ids
    said = ("**Same answer.**" if same else
            f"**Answers differ:** confident `{answer_text(assistant, fast)}` · one per step "
            f"`{answer_text(assistant, slow)}`")
    return (f"Confident decoding used **{fast.nfe}** {inflect(fast.nfe, 'forward pass')} ({own_seconds(fast):.2f} s), "
            f"one token per step **{slow.nfe}** ({own_seconds(slow):.2f} s): {ratio:.1f}x the passes. {said}")
