"""Streamed states (dimple.streaming): every iteration of a decode becomes a JSON-ready message that replays it."""

import json

import pytest

import dimple
from dimple.config import DecodeConfig
from dimple.streaming import step_message, step_messages
from test_engine import _inputs
from test_trajectory import M, _traj


def test_a_message_carries_the_canvas_its_texts_and_what_the_step_committed():
    t = _traj()
    t.token_text = {5: "a", 6: "b", 7: "c", 0: "<end>"}
    first = step_message(t, 1)
    assert first == {"step": 1, "ids": [5, 6, 7, M, M], "texts": ["a", "b", "c", None, None], "committed": [0, 1],
                     "block": None, "masked": 2}
    assert step_message(t)["step"] == 3 and step_message(t)["masked"] == 0
    start = step_message(t, 0)
    assert start["committed"] == [] and start["ids"] == t.canvas and start["texts"][2] == "c"
    assert step_message(t, 1, token_text={5: "A"})["texts"][:3] == ["A", "", ""]


@pytest.mark.parametrize("n", [-1, 4, True, "2"])
def test_a_step_outside_the_run_is_refused(n):
    with pytest.raises(ValueError, match="step must be an integer in \\[0, 3\\]"):
        step_message(_traj(), n)


def test_streamed_messages_replay_the_decode_and_name_its_blocks(reference_model, reference_expected):
    e = reference_expected
    cfg = DecodeConfig(max_new_tokens=8, steps=8, alg_p_threshold=0.5, block_length=4)
    stream = dimple.stream(reference_model, e["input_ids"], cfg, **_inputs(e))
    messages = [json.loads(json.dumps(m)) for m in step_messages(stream)]  # JSON-ready as they come
    traj = dimple.generate(reference_model, e["input_ids"], cfg, **_inputs(e))
    assert [m["step"] for m in messages] == list(range(traj.nfe + 1))
    assert [m["ids"] for m in messages[1:]] == traj.states()
    assert [m["committed"] for m in messages[1:]] == [s.positions + s.padded for s in traj.steps]
    assert [m["block"] for m in messages[1:]] == [s.block for s in traj.steps] and messages[1]["block"] == 0
    assert messages[0]["masked"] == 8 and messages[-1]["masked"] == 0
