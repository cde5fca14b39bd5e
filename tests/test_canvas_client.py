"""What the live canvas is sent: HTML for a small canvas, slot lists and a film for a large one, at a viewer's pace."""

from __future__ import annotations

import json

import pytest

from app.canvas import client as canvas_client
from app.canvas import dense as dense_view
from app.canvas import render
from standin_assistant import StandInAssistant


@pytest.fixture(scope="module")
def large():
    assistant = StandInAssistant(step_seconds=0.0)
    traj = None
    for traj in assistant.stream(None, "x", assistant.default_config.with_(max_new_tokens=render.DENSE_FROM, steps=12)):
        pass
    return traj


@pytest.fixture(scope="module")
def small():
    assistant = StandInAssistant(step_seconds=0.0)
    traj = None
    for traj in assistant.stream(None, "x", assistant.default_config.with_(max_new_tokens=24, steps=6)):
        pass
    return traj


def test_a_small_canvas_is_sent_as_the_html_render_draws(small):
    assert canvas_client.value(small, 3) == render.render_canvas(small, 3)
    assert canvas_client.finished(small) == render.render_canvas(small)
    assert canvas_client.value(None).startswith("<")


def test_a_large_frame_carries_the_slots_the_html_render_draws(large):
    for n in (0, 1, 5, large.nfe):
        frame = json.loads(canvas_client.value(large, n))
        slots = [dense_view.Slot(c, t, None if u < 0 else u / 100, b)
                 for c, t, u, b in zip(frame["cls"], frame["txt"], frame["unit"], frame["bg"])]
        box = render.render_canvas(large, n).split('title="click a slot to inspect it">', 1)[1]
        assert box.startswith("".join(dense_view.slot_html(s) for s in slots))
        assert frame["step"] == n and frame["narr"] in render.render_canvas(large, n)


def test_the_film_holds_every_step_and_a_label_for_every_token_it_shows(large):
    message = json.loads(canvas_client.finished(large))
    film = message["film"]
    assert message["at"] == large.nfe and len(film["steps"]) == large.nfe
    assert len(film["heads"]) == len(film["narration"]) == large.nfe + 1
    shown = {t for s in film["steps"] for t in [w[1] for w in s["w"]] + s["g"][1]}
    assert shown <= {int(t) for t in film["labels"]}
    first = film["steps"][0]["g"]
    assert len(first[0]) == len(first[1]) == len(first[2]) == len(first[3]) == large.length


def test_live_frames_of_a_large_canvas_are_sent_at_most_ten_a_second(large, small):
    every = canvas_client.LIVE_FRAME_EVERY_S
    assert not canvas_client.due(large, every / 2) and canvas_client.due(large, every)
    assert canvas_client.due(small, 0.0)
