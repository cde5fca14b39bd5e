"""The Trajectory record derives states and honest counts, and survives a JSON round trip."""

import pytest

import dimple
from dimple.trajectory import Step, Trajectory

M = 99


def _traj():
    t = Trajectory(prompt_ids=[1, 2], canvas=[M, M, 7, M, M], fixed=[False, False, True, False, False],
                   mask_token_id=M, end_token_ids=[0], config={"steps": 3})
    t.steps = [
        Step(0, [0, 1], [5, 6], [0.95, 0.97], False, [0.95, 0.97, 0.2, 0.1], [[(5, 0.95)], [(6, 0.97)]], 0.01),
        Step(1, [3], [0], [0.5], True, [0.5, 0.4], [[(0, 0.5)]], 0.01),
        Step(2, [4], [0], [0.9], True, [0.9], [[(0, 0.9)]], 0.01),
    ]
    t.total_seconds = 0.03
    t.prefill_seconds = 0.01
    return t


def test_states_replay_commits_step_by_step():
    t = _traj()
    assert t.states() == [[5, 6, 7, M, M], [5, 6, 7, 0, M], [5, 6, 7, 0, 0]]
    assert t.state_at(0) == t.canvas
    assert t.committed_at() == [0, 0, None, 1, 2]


def test_generated_tokens_stop_at_the_end_of_answer_and_exclude_fixed_tokens():
    t = _traj()
    assert t.answer_end == 3 and t.answer_ids == [5, 6, 7]
    assert t.n_generated == 3  # positions 0, 1 and the end token at 3; the fixed 7 is not generated
    assert t.nfe == 3 and t.tokens_per_forward == pytest.approx(1.0)


def test_json_round_trip_keeps_everything(tmp_path):
    t = _traj()
    t.token_text = {5: "a", 6: "b", 7: "c", 0: "<end>"}
    back = Trajectory.from_json(t.to_json())
    assert back.states() == t.states() and back.steps == t.steps and back.token_text == t.token_text
    assert back.summary() == t.summary()


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format="other"), "not a Dimple trajectory"),
    (lambda d: d["steps"][1].update(positions=[0]), "committed twice"),
    (lambda d: d["steps"][0].update(positions=[0, 50]), "outside the canvas"),
    (lambda d: d.pop("canvas"), "malformed"),
])
def test_corrupt_exports_are_refused(mutate, message):
    data = _traj().to_dict()
    mutate(data)
    with pytest.raises(ValueError, match=message):
        Trajectory.from_dict(data)


def test_engine_trajectory_round_trips(reference_model, reference_expected):
    e = reference_expected
    traj = dimple.generate(reference_model, e["input_ids"], dimple.DecodeConfig(max_new_tokens=6, steps=6),
                           attention_mask=e["attention_mask"], pixel_values=e["pixel_values"],
                           image_grid_thw=e["image_grid_thw"])
    assert Trajectory.from_json(traj.to_json()).states() == traj.states()


def _elastic(final):
    """A template canvas `Color: <mask:3>. Shape: <mask:3>.<eos>` in toy ids (20 'Color:', 21 '.', 22 'Shape:'),
    decoded to `final`; 0 is padding, 1 the end of answer."""
    canvas = [20, M, M, M, 21, 22, M, M, M, 21, 1]
    fixed = [c != M for c in canvas]
    t = Trajectory(prompt_ids=[3], canvas=canvas, fixed=fixed, mask_token_id=M, end_token_ids=[1, 0], pad_token_id=0)
    slots = [i for i, c in enumerate(canvas) if c == M]
    t.steps = [Step(0, slots, [final[i] for i in slots], [0.9] * len(slots), False)]
    t.token_text = {20: "Color: ", 21: ".", 22: " Shape: ", 5: "red", 6: "star", 0: "<pad>", 1: "<end>"}
    return t


def test_elastic_slots_never_leak_padding_into_the_answer_text():
    t = _elastic([20, 5, 0, 0, 21, 22, 6, 0, 0, 21, 1])
    assert t.answer_end == 10  # the template's own end, not the first pad inside the colour slot
    assert t.text() == "Color: red. Shape: star."
    assert "<pad>" not in t.text()


def test_an_elastic_slot_filled_to_the_brim_reads_the_same_way():
    t = _elastic([20, 5, 5, 5, 21, 22, 6, 6, 6, 21, 1])
    assert t.text() == "Color: redredred. Shape: starstarstar."


def test_a_free_canvas_ends_at_its_first_end_of_answer_token():
    t = Trajectory(prompt_ids=[3], canvas=[M] * 4, fixed=[False] * 4, mask_token_id=M, end_token_ids=[1, 0],
                   pad_token_id=0)
    t.steps = [Step(0, [0, 1, 2, 3], [5, 1, 6, 0], [0.9] * 4, False)]
    assert t.answer_end == 1 and t.answer_ids == [5]


def test_padding_with_answer_after_it_is_filler_and_trailing_padding_ends_the_answer():
    t = Trajectory(prompt_ids=[3], canvas=[M] * 6, fixed=[False] * 6, mask_token_id=M, end_token_ids=[1, 0],
                   pad_token_id=0)
    t.token_text = {5: "red", 6: " star", 0: "<pad>", 1: "<end>"}
    t.steps = [Step(0, list(range(6)), [5, 0, 6, 1, 0, 0], [0.9] * 6, False)]
    assert t.answer_end == 3 and t.text() == "red star"
    t.steps = [Step(0, list(range(6)), [5, 6, 0, 0, 0, 0], [0.9] * 6, False)]
    assert t.answer_end == 2
