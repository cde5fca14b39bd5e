"""The Compare tab's run: one question under two settings, A then B, and a verdict on speed and answers.

Owns streaming A's canvas then B's (same image, prompt and seed), the
finished pair with its stats, the verdict (who was faster in time and in
forward passes, whether the answers differ) and the settings' labels. It
knows the assistant's stream and the Trajectory; the canvases come from
canvas_client.py (drawn by the page when large), the stats from panels.py,
the plot from plots.py, the validated requests from handlers.py.
"""

from __future__ import annotations

import time

import gradio as gr

from ..canvas import client as canvas_client, panels, plots, render
from ..protocol import answer_text
from ..words import count


def stopped_message(a, b) -> str:
    """Markdown for a pair that Stop cut short: each side's passes so far, and no verdict."""
    return f"**Stopped** (A after {count(a.nfe, 'forward pass')}, B after {b.nfe}): no verdict on an unfinished pair."


def setting_label(cfg) -> str:
    thr = f"threshold {cfg.alg_p_threshold:g}" if cfg.alg_p_threshold > 0 else "threshold off"
    return f"{thr}, prefilling {'on' if cfg.prefill else 'off'}"


def run_pair(assistant, req_a, req_b, should_stop):
    """Yields (canvas A, canvas B, stats A, stats B, verdict, plot): live frames of A, then of B, then the
    finished pair. Each canvas is what app/canvas_client.py draws: HTML when small, a frame message when large
    (sent live at its pace, as the chat's canvas is). A request's bad input raises ValueError."""
    done = {}
    wait_b = render.empty_canvas("B runs after A.")
    for key, req in (("A", req_a), ("B", req_b)):
        title = f"{key}: {setting_label(req.cfg)}"
        traj, sent_at = None, float("-inf")
        for traj in assistant.stream(req.image, req.prompt, req.cfg, template=req.template, should_stop=should_stop):
            now = time.monotonic()
            if not canvas_client.due(traj, now - sent_at):
                continue
            sent_at = now
            canvas = canvas_client.value(traj, live=True, title=title)
            yield (canvas, wait_b, *[gr.skip()] * 4) if key == "A" else (gr.skip(), canvas, *[gr.skip()] * 4)
        done[key] = traj
    a, b = done["A"], done["B"]
    if a.stopped or b.stopped:
        said = stopped_message(a, b)
    else:
        said = verdict(a, b, answer_text(assistant, a), answer_text(assistant, b))
    yield (canvas_client.value(a, title=f"A: {setting_label(req_a.cfg)}"),
           canvas_client.value(b, title=f"B: {setting_label(req_b.cfg)}"),
           panels.render_stats(a), panels.render_stats(b), said, plots.compare_cumulative(a, b, "A", "B"))


def verdict(a, b, text_a: str, text_b: str) -> str:
    """Markdown: who was faster and by how much, in time and in forward passes; do the answers differ?"""
    def ratio(x, y):
        return x / y if y > 0 else float("inf")

    t = ratio(b.total_seconds, a.total_seconds)
    n = ratio(b.nfe, a.nfe)
    faster = "A" if t >= 1 else "B"
    speed = t if t >= 1 else ratio(a.total_seconds, b.total_seconds)
    same = a.answer_ids == b.answer_ids
    lines = [
        f"**{faster} is {speed:.2f}x faster** (latency A {a.total_seconds * 1000:.0f} ms vs B {b.total_seconds * 1000:.0f} ms).",
        f"Forward passes: A {a.nfe}, B {b.nfe} (B/A = {n:.2f}); tokens per forward: A {a.tokens_per_forward:.2f}, "
        f"B {b.tokens_per_forward:.2f}.",
        "**Answers are identical.**" if same else f"**Answers differ:** A: `{text_a}` · B: `{text_b}`",
    ]
    return "\n\n".join(lines)
