"""Step narration: one plain line per step, a pure function of the Trajectory."""

from __future__ import annotations

from app.canvas.narration import narrate, narration
from dimple.trajectory import Step, Trajectory
from fake_assistant import make_trajectory

M = 99


def _traj(threshold: float, steps: int = 4, alg: str = "maskgit_plus") -> Trajectory:
    """12 positions (one fixed): step 1 commits 7 above the threshold, step 2 none pass (fallback commits 2),
    step 3 commits the rest."""
    t = Trajectory(prompt_ids=[1], canvas=[M] * 11 + [5], fixed=[False] * 11 + [True], mask_token_id=M,
                   end_token_ids=[0], config={"alg_p_threshold": threshold, "steps": steps, "alg": alg})
    t.steps = [
        Step(0, list(range(7)), [3] * 7, [0.95] * 7, False, [0.95] * 7 + [0.5] * 4),
        Step(1, [7, 8], [3, 3], [0.6, 0.5], True, [0.6, 0.5, 0.2, 0.1]),
        Step(2, [9, 10], [3, 0], [0.4, 0.3], True, [0.4, 0.3], padded=[]),
    ]
    return t


def test_the_lines_say_which_rule_committed_what():
    lines = narration(_traj(0.9, steps=3))
    assert lines[0] == "Before decoding: 11 masked positions, 1 fixed by the template."
    assert lines[1] == "Step 1: 7 of 11 masked positions above 0.90, committed."
    assert lines[2] == "Step 2: none of 4 above 0.90: the schedule commits the 2 most confident."
    assert lines[3].startswith("Step 3: last step: everything left is committed (2 positions).")
    assert lines[3].endswith("Done: nothing is masked after 3 steps.")


def test_a_fallback_before_the_last_allowed_step_is_not_called_the_last_step():
    line = narrate(_traj(0.9, steps=10), 3)
    assert line.startswith("Step 3: none of 2 above 0.90: the schedule commits the 2 most confident.")


def test_threshold_off_and_random_order_are_said_as_such():
    assert narrate(_traj(0.0, steps=10, alg="origin"), 2) == \
        "Step 2: threshold off: the schedule commits 2 at random of 4 masked positions."


def test_a_stopped_run_says_how_many_are_left():
    t = _traj(0.9)
    t.steps = t.steps[:1]
    t.stopped = True
    assert narrate(t, 1).endswith("Stopped with 4 positions still masked.")


def test_every_step_of_a_run_has_its_line():
    traj = make_trajectory(16, threshold=0.8)
    lines = narration(traj)
    assert len(lines) == traj.nfe + 1
    assert all(line.startswith(f"Step {n}:") for n, line in enumerate(lines[1:], start=1))


def test_a_branch_is_narrated_with_carried_and_chosen_tokens_and_its_own_last_step():
    """Issue 32, bug 3: a branch after step 1 of _traj's run: position 0 chosen, 1-6 carried over."""
    t = _traj(0.9, steps=3)
    branch = Trajectory(prompt_ids=[1], canvas=[4] + [3] * 6 + [M] * 4 + [5], fixed=[True] + [False] * 10 + [True],
                        mask_token_id=M, end_token_ids=[0], config=t.config, start_step=1, start_masked=11,
                        chosen=[0])
    branch.steps = [Step(0, [7, 8], [3, 3], [0.6, 0.5], True, [0.6, 0.5, 0.2, 0.1]),
                    Step(1, [9, 10], [3, 0], [0.4, 0.3], True, [0.4, 0.3])]
    lines = narration(branch)
    assert lines[0] == ("Before decoding: 4 masked positions, 6 carried over, 1 chosen by a person, "
                        "1 fixed by the template.")
    assert lines[2].startswith("Step 2: last step: everything left is committed")
