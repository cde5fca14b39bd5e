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


@pytest.fixture(scope="module")
def large_blocks():
    assistant = StandInAssistant(step_seconds=0.0)
    cfg = assistant.default_config.with_(max_new_tokens=render.DENSE_FROM, steps=16, block_length=64)
    traj = None
    for traj in assistant.stream(None, "x", cfg):
        pass
    return traj


def test_a_large_block_frame_names_where_each_later_block_starts_and_the_active_block(large_blocks):
    from app.canvas import frames

    for n in (0, 5, large_blocks.nfe):
        frame = json.loads(canvas_client.value(large_blocks, n))
        record = frames.frame(large_blocks, n)
        assert frame["edges"] == [64, 128, 192] == [s.pos for s in record.slots if s.edge]
        active = record.badges.active_block
        assert frame["active"] == (None if active is None else [64 * active, 64 * active + 64])
    assert json.loads(canvas_client.value(large_blocks, 5))["active"] == [64, 128]  # steps 5-8 decode block 2
    assert json.loads(canvas_client.value(large_blocks, large_blocks.nfe))["active"] is None  # all decoded


def test_a_large_block_frame_shows_the_block_badge_the_small_canvas_has(large_blocks):
    assert "block 2 / 4" in json.loads(canvas_client.value(large_blocks, 5))["head"]
    assert "4 blocks" in json.loads(canvas_client.value(large_blocks, large_blocks.nfe))["head"]


def test_a_large_frame_without_blocks_names_no_edges_and_no_active_block(large):
    for n in (0, 5, large.nfe):
        frame = json.loads(canvas_client.value(large, n))
        assert frame["edges"] == [] and frame["active"] is None
        assert "dm-block" not in frame["head"]


def test_the_film_of_a_block_decode_holds_its_block_starts_and_every_steps_active_block(large_blocks, large):
    film = json.loads(canvas_client.finished(large_blocks))["film"]
    assert film["edges"] == [64, 128, 192]
    assert film["active"] == [canvas_client.frame(large_blocks, n)["active"] for n in range(large_blocks.nfe + 1)]
    assert film["active"][0] == [0, 64] and film["active"][-1] is None
    plain = json.loads(canvas_client.finished(large))["film"]
    assert plain["edges"] == [] and set(map(str, plain["active"])) == {"None"}
