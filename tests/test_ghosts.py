"""The engine records the ghosts; dimple.ghosts reads them back; the token inspector's record; per-row thresholds."""

from __future__ import annotations

import pytest
import torch

import dimple
from dimple.config import DecodeConfig
from dimple.engine import Request, generate_batch
from dimple.ghosts import commit_of, ghosts_at, inspect, masked_at
from dimple.modeling import DimpleModel
from dimple.trajectory import Trajectory
from fake_assistant import MASK, VOCAB, make_trajectory


@pytest.fixture(scope="module")
def model(random_checkpoint):
    return DimpleModel.from_pretrained(str(random_checkpoint), dtype=torch.float32).eval()


def _prompt(model, n: int = 6) -> torch.Tensor:
    return torch.arange(20, 20 + n)[None]


def _decode(model, **cfg):
    return dimple.generate(model, _prompt(model), DecodeConfig(max_new_tokens=10, steps=6, **cfg))


@pytest.mark.parametrize("threshold", [0.0, 0.05])
def test_every_step_records_a_ghost_for_every_position_masked_when_it_began(model, threshold):
    traj = _decode(model, alg_p_threshold=threshold)
    for n, step in enumerate(traj.steps, start=1):
        masked = masked_at(traj, n)
        assert len(step.ghost_tokens) == len(step.ghost_top) == len(step.ghost_top_p) == len(masked) > 0
        ghosts = ghosts_at(traj, n)
        for pos, tok in zip(step.positions, step.tokens):
            assert ghosts[pos].token == tok  # the committed token was that step's best guess
        for g in ghosts.values():
            probs = [p for _, p in g.top]
            assert probs == sorted(probs, reverse=True) and len(probs) == 3
            assert g.top[0][0] == g.token  # greedy: the best guess is the top candidate
            assert g.top[0][1] == pytest.approx(g.confidence, abs=1e-4)  # maskgit_plus scores its probability


def test_ghosts_survive_the_json_export_and_older_exports_still_load(model):
    traj = _decode(model, alg_p_threshold=0.05)
    back = Trajectory.from_json(traj.to_json())
    assert [s.ghost_tokens for s in back.steps] == [s.ghost_tokens for s in traj.steps]
    assert [s.ghost_top_p for s in back.steps] == [s.ghost_top_p for s in traj.steps]
    old = traj.to_dict()
    for step in old["steps"]:
        for key in ("ghost_tokens", "ghost_top", "ghost_top_p"):
            del step[key]
    legacy = Trajectory.from_dict(old)
    assert legacy.response_ids == traj.response_ids and ghosts_at(legacy, 1) == {}
    broken = traj.to_dict()
    broken["steps"][0]["ghost_tokens"] = broken["steps"][0]["ghost_tokens"][:-1]
    with pytest.raises(ValueError, match="ghosts"):
        Trajectory.from_dict(broken)


def test_a_row_with_its_own_threshold_decodes_as_that_threshold_alone(model):
    cfg = DecodeConfig(max_new_tokens=10, steps=6, alg_p_threshold=0.9)
    alone = dimple.generate(model, _prompt(model), cfg.with_(alg_p_threshold=0.05))
    rows = generate_batch(model, [Request(_prompt(model), alg_p_threshold=t) for t in (0.05, 0.0)], cfg)
    assert rows[0].response_ids == alone.response_ids and rows[0].nfe == alone.nfe
    assert rows[0].config["alg_p_threshold"] == 0.05 and rows[1].config["alg_p_threshold"] == 0.0
    assert all(s.fallback for s in rows[1].steps)  # threshold off: only the schedule commits


def test_commit_rules_threshold_fallback_last_step_and_template():
    template = [VOCAB["Answer"], VOCAB[":"]] + [MASK] * 10
    traj = make_trajectory(template=template, threshold=0.97, steps=3)
    assert commit_of(traj, 0) == (None, "template")
    rules = {commit_of(traj, p)[1] for p in range(2, traj.length)}
    assert rules <= {"threshold", "fallback", "last step"} and "last step" in rules
    for p in range(2, traj.length):
        step, rule = commit_of(traj, p)
        assert rule == ("threshold" if not traj.steps[step - 1].fallback else
                        "last step" if step == 3 else "fallback")


def test_inspect_tells_candidates_history_commit_step_and_rule():
    traj = make_trajectory(12, threshold=0.8)
    late = traj.steps[-1].positions[0]  # committed by the last step: masked (with a ghost) in every step before
    rec = inspect(traj, late, 1)
    assert rec["step"] == 1 and rec["committed_step"] == traj.nfe
    assert [c["token"] for c in rec["candidates"]] == [traj.response_ids[late], VOCAB[" green"], VOCAB[" blue"]]
    assert [h["step"] for h in rec["history"]] == list(range(1, traj.nfe + 1))
    assert [h["committed"] for h in rec["history"]] == [False] * (traj.nfe - 1) + [True]
    assert rec["rule"] == commit_of(traj, late)[1] and rec["why"]
    default = inspect(traj, late)
    assert default["step"] == traj.nfe  # no step given: the one that committed it


@pytest.mark.parametrize("position, step, words", [(12, None, "position"), (-1, None, "position"),
                                                   (0, 0, "step"), (0, 99, "step"), ("3", None, "position")])
def test_inspect_refuses_an_unknown_step_or_a_position_out_of_range(position, step, words):
    traj = make_trajectory(12)
    with pytest.raises(ValueError, match=words):
        inspect(traj, position, step)


def _branch(model, k: int = 2, **changes):
    """An unedited resume after step k of a schedule-only decode, and that decode."""
    cfg = DecodeConfig(max_new_tokens=10, steps=6, alg_p_threshold=0.0)
    whole = dimple.generate(model, _prompt(model), cfg)
    canvas = whole.state_at(k)
    for pos, tok in changes.items():
        canvas[int(pos)] = tok
    fixed = [int(p) for p in changes]
    return whole, dimple.generate(model, _prompt(model), cfg, canvas=canvas, fixed=fixed, start_step=k,
                                  start_masked=whole.start_masked)


def test_a_branchs_forced_last_step_is_named_the_last_step_not_a_fallback(model):
    """Issue 32, bug 3: the rule reads the branch's schedule index (start_step + its own step index)."""
    whole, branch = _branch(model)
    assert commit_of(whole, whole.steps[-1].positions[0])[1] == "last step"
    assert branch.start_step + branch.steps[-1].index == 5  # the branch also ran up to the last allowed iteration
    assert commit_of(branch, branch.steps[-1].positions[0])[1] == "last step"
    assert all(commit_of(branch, p)[1] == "fallback" for s in branch.steps[:-1] for p in s.positions)


def test_tokens_carried_from_the_parent_and_chosen_by_a_person_are_named_as_such(model):
    """Issue 32, bug 3: a carried-over token is not "still masked"; a person's choice is not "the template"."""
    from dimple.grounding import check_groundable

    whole, branch = _branch(model, **{"9": 30})
    carried = whole.steps[0].positions[0]
    assert commit_of(branch, carried) == (None, "carried")
    record = inspect(branch, carried)
    assert record["rule"] == "carried" and "masked" not in record["why"] and record["token"] == whole.response_ids[carried]
    with pytest.raises(ValueError, match="carried over"):
        check_groundable(branch, carried)
    branch.chosen = [9]  # what the studio records of a person's edit (app/branch)
    assert commit_of(branch, 9) == (None, "chosen") and "template" not in inspect(branch, 9)["why"]
    assert Trajectory.from_json(branch.to_json()).chosen == [9]
