"""The race (app/race/run.py), the playback speed (app/pace.py) and the block_length setting, without a browser.

The race runs on the fake assistant: both sides grow in the same frames, the
slow side decodes one token per forward pass, and Stop stops both. The speed
rule is checked as numbers; block_length as every front end sends it.
"""

from __future__ import annotations

import time

import pytest

from fake_assistant import FakeAssistant, make_trajectory

from app import pace
from app.race import run
from app.request import question
from dimple.settings import decode_config


def _req(assistant, **controls):
    return question(assistant, None, "Where is the red circle?", "", {"max_new_tokens": 16, "steps": 16, **controls})


def test_the_slow_side_commits_one_token_per_forward_pass_in_reading_order():
    a = FakeAssistant(step_seconds=0.0)
    slow = run.one_token_per_step(a, _req(a, block_length=4))
    assert (slow.cfg.alg, slow.cfg.alg_p_threshold, slow.cfg.steps, slow.cfg.block_length) == \
        ("autoregressive", 0.0, 16, None)
    templated = run.one_token_per_step(a, question(a, None, "x", "<mask:6><eos>", {}))
    assert templated.cfg.steps == a.canvas_for("<mask:6><eos>").length == 7


def test_both_sides_grow_in_the_same_frames_then_a_verdict():
    a = FakeAssistant(step_seconds=0.0)
    frames = list(run.race(a, _req(a), lambda: False))
    both = [f for f in frames if isinstance(f[0], str) and isinstance(f[1], str)]
    assert len(both) >= 2  # the first frames update both canvases at once: the race is live on both sides
    stats_b = [f[3] for f in frames if isinstance(f[3], str)]
    nfes = [int(s.split('data-nfe="')[1].split('"')[0]) for s in stats_b]
    assert nfes == sorted(nfes) and nfes[-1] > nfes[1]  # the slow side's counter climbs pass by pass
    assert 'data-state="done"' in stats_b[-1]
    assert "forward passes" in frames[-1][4]


def test_the_verdict_says_one_forward_pass_in_the_singular():
    one, many = make_trajectory(steps=1), make_trajectory(threshold=0.0)
    assert "**1** forward pass (" in run.verdict(FakeAssistant(), one, many)
    assert f"**{many.nfe}** forward passes (" in run.verdict(FakeAssistant(), many, many)


def test_stop_stops_both_sides():
    a = FakeAssistant(step_seconds=0.01)
    stop = {"now": False}
    frames = []
    for f in run.race(a, _req(a, alg_p_threshold=0.0), lambda: stop["now"]):
        frames.append(f)
        stop["now"] = len(frames) >= 2
    assert frames[-1][4].startswith("**Stopped**")


@pytest.mark.parametrize("speed, interval", [("1x", pace.STEP_S), ("0.25x", 4 * pace.STEP_S), ("4x", pace.STEP_S / 4)])
def test_playback_speed_sets_the_frame_interval(speed, interval):
    assert pace.frame_interval(speed, 10, live=True) == pytest.approx(interval)
    assert pace.frame_interval(speed, 10, live=False) == pytest.approx(interval)


def test_auto_speed_keeps_the_live_view_unpaced_and_play_near_ten_seconds():
    assert pace.frame_interval(pace.AUTO, 5, live=True) == 0
    assert pace.frame_interval(pace.AUTO, 200, live=False) == pytest.approx(pace.PLAY_SPAN_S / 200)
    assert pace.frame_interval(pace.AUTO, 2, live=False) == pace.PLAY_MAX_STEP_S


@pytest.mark.parametrize("bad", ["fast", "0x", "-2x"])
def test_a_bad_speed_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="speed"):
        pace.factor(bad)


def test_a_paced_wait_ends_at_once_on_stop():
    t0 = time.monotonic()
    pace.wait(5.0, t0, lambda: True)
    assert time.monotonic() - t0 < 1.0


@pytest.mark.parametrize("sent, expected", [(None, None), ("", None), ("off (whole canvas)", None), ("8", 8),
                                            (8.0, 8)])
def test_block_length_as_front_ends_send_it(sent, expected):
    assert decode_config({"block_length": sent}).block_length == expected


@pytest.mark.parametrize("bad", [0, -1, 2.5, "abc", 1])  # 1: 32 blocks but 4 steps
def test_a_bad_block_length_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="block_length|steps"):
        decode_config({"block_length": bad, "max_new_tokens": 32, "steps": 4})
