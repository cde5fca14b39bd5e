"""Branching in the engine: a decode from any partially filled canvas keeps its tokens, continues the
schedule where the original was (an unedited resume reproduces it), refuses bad canvases by name; and
manual stepping (`dimple.stepping.propose`) reproduces the engine when every proposal is accepted."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dimple
from dimple.config import DecodeConfig
from dimple.stepping import propose
from dimple.trajectory import Trajectory
from test_engine import _check_invariants

SETTINGS = [
    DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.0, prefill=False),  # the schedule alone
    DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.7, prefill=False),  # threshold and fallback
    DecodeConfig(max_new_tokens=10, steps=6, alg="topk_margin", alg_p_threshold=0.0, prefill=False),
]


def _inputs(e):
    return dict(attention_mask=e["attention_mask"], pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"])


def _run(model, e, cfg, **kw):
    return dimple.generate(model, e["input_ids"], cfg, **_inputs(e), **kw)


def _resume(model, e, cfg, traj, k, canvas=None, fixed=None):
    return _run(model, e, cfg, canvas=traj.state_at(k) if canvas is None else canvas, fixed=fixed,
                start_step=traj.start_step + k, start_masked=traj.start_masked)


def _record(step):
    return (step.positions, step.tokens, step.confidences, step.fallback, step.masked_confidence, step.alternatives)


@pytest.mark.parametrize("cfg", SETTINGS, ids=["schedule", "threshold", "margin-short"])
def test_an_unedited_resume_reproduces_the_original_from_step_k_token_for_token(reference_model, reference_expected,
                                                                                cfg):
    original = _run(reference_model, reference_expected, cfg)
    assert original.nfe >= 3  # the resumes below start before, inside and at the end of the run
    for k in range(original.nfe + 1):
        branch = _resume(reference_model, reference_expected, cfg, original, k)
        assert [_record(s) for s in branch.steps] == [_record(s) for s in original.steps[k:]], k
        assert branch.states() == original.states()[k:] and branch.response_ids == original.response_ids
        assert branch.start_step == k and [s.index for s in branch.steps] == list(range(original.nfe - k))


def test_fixed_and_given_positions_never_change_in_a_branch(reference_model, reference_expected):
    cfg = SETTINGS[1]
    mask = reference_model.config.mask_token_id
    original = _run(reference_model, reference_expected, cfg)
    canvas = original.state_at(1)
    canvas[0], canvas[5] = 17, 42  # two edits, whatever was there
    canvas[7] = mask  # and a re-mask
    given = [i for i, t in enumerate(canvas) if t != mask]
    branch = _resume(reference_model, reference_expected, cfg, original, 1, canvas=canvas, fixed=[0, 5])
    for state in branch.states():
        assert [state[i] for i in given] == [canvas[i] for i in given]
    assert all(p not in given for s in branch.steps for p in s.positions)
    assert branch.fixed == [i in (0, 5) for i in range(len(canvas))]
    assert mask not in branch.response_ids and branch.response_ids[7] != mask
    stop = min(branch.answer_end + 1, len(canvas))
    assert branch.n_generated == sum(1 for i in range(stop) if canvas[i] == mask)  # given tokens not counted


def test_remasking_nothing_at_the_final_state_returns_the_same_answer(reference_model, reference_expected):
    for cfg in SETTINGS:
        original = _run(reference_model, reference_expected, cfg)
        branch = _resume(reference_model, reference_expected, cfg, original, original.nfe)
        assert branch.nfe == 0 and branch.response_ids == original.response_ids
        assert branch.answer_ids == original.answer_ids and branch.n_generated == 0


def test_a_resume_with_prefilling_keeps_the_given_tokens_and_finishes(reference_model, reference_expected):
    cfg = SETTINGS[0].with_(prefill=True)
    original = _run(reference_model, reference_expected, cfg)
    k = original.nfe // 2
    branch = _resume(reference_model, reference_expected, cfg, original, k)
    assert reference_model.config.mask_token_id not in branch.response_ids
    assert all(branch.response_ids[i] == t for i, t in enumerate(original.state_at(k))
               if t != reference_model.config.mask_token_id)
    assert branch.nfe <= cfg.steps - k


@pytest.mark.parametrize("kw, name", [
    (dict(canvas=[5, 999]), "canvas\\[1\\] = 999"),
    (dict(canvas=[5, -1]), "canvas\\[1\\]"),
    (dict(canvas=[5, "a"]), "canvas\\[1\\] must be an integer"),
    (dict(canvas=[]), "canvas is empty"),
    (dict(canvas="IMAGE"), "placeholder"),
    (dict(canvas="MASK", fixed=[4]), "fixed position 4 is out of range"),
    (dict(canvas="MASK", fixed=[-1]), "fixed position -1"),
    (dict(canvas="MASK", fixed=[0]), "fixed position 0 is masked"),
    (dict(canvas="MASK", start_step=-1), "start_step"),
    (dict(canvas="MASK", start_step=9), "start_step"),
    (dict(canvas="MASK", start_step=4), "leaves no iteration"),
    (dict(canvas="MASK", start_masked=0), "start_masked"),
])
def test_a_bad_branch_canvas_is_refused_naming_the_problem(reference_model, reference_expected, kw, name):
    mask, image = reference_model.config.mask_token_id, reference_model.config.image_token_id
    if isinstance(kw["canvas"], str):
        kw["canvas"] = {"MASK": [mask] * 4, "IMAGE": [mask] * 3 + [image]}[kw["canvas"]]
    with pytest.raises(ValueError, match=name):
        _run(reference_model, reference_expected, DecodeConfig(max_new_tokens=4, steps=4, prefill=False), **kw)


def test_a_branch_round_trips_through_json_with_its_schedule_position(reference_model, reference_expected):
    cfg = SETTINGS[1]
    original = _run(reference_model, reference_expected, cfg)
    branch = _resume(reference_model, reference_expected, cfg, original, 2)
    back = Trajectory.from_json(branch.to_json())
    assert (back.start_step, back.start_masked) == (2, original.start_masked) == (2, 12)
    assert back.states() == branch.states()


@pytest.mark.slow  # twelve generated runs, each with a resume
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), threshold=st.sampled_from([0.0, 0.3, 0.9]), length=st.integers(2, 9),
       extra_steps=st.integers(-4, 2), prefill=st.booleans(), alg=st.sampled_from(["maskgit_plus", "entropy"]))
def test_invariants_hold_for_random_edits(reference_model, reference_expected, data, threshold, length, extra_steps,
                                          prefill, alg):
    cfg = DecodeConfig(max_new_tokens=length, steps=max(2, length + extra_steps), alg=alg, alg_p_threshold=threshold,
                       prefill=prefill)
    mask = reference_model.config.mask_token_id
    original = _run(reference_model, reference_expected, cfg)
    k = data.draw(st.integers(0, original.nfe), label="k")
    canvas = original.state_at(k)
    for pos in data.draw(st.sets(st.integers(0, length - 1), max_size=length), label="remask"):
        canvas[pos] = mask
    for pos, tok in data.draw(st.dictionaries(st.integers(0, length - 1), st.integers(0, 249), max_size=3),
                              label="set").items():
        canvas[pos] = tok  # below the special ids (image placeholder 250, mask 255)
    tokens = [i for i, t in enumerate(canvas) if t != mask]
    fixed = data.draw(st.lists(st.sampled_from(tokens), unique=True), label="fixed") if tokens else []
    if mask in canvas and original.start_step + k >= cfg.steps:
        cfg = cfg.with_(steps=cfg.steps + 2)  # a re-mask after the last iteration needs an iteration more
    branch = _resume(reference_model, reference_expected, cfg, original, k, canvas=canvas, fixed=fixed)
    _check_invariants(branch, cfg, fixed_positions=tokens)
    assert branch.canvas == canvas and branch.fixed == [i in fixed for i in range(length)]
    assert branch.nfe <= cfg.steps - k


def _accept_all(model, e, cfg, canvas):
    states, k = [], 0
    while model.config.mask_token_id in canvas:
        proposal = propose(model, e["input_ids"], cfg, canvas, start_step=k, start_masked=cfg.max_new_tokens,
                           **_inputs(e))
        step = proposal.step(k)
        for pos, tok in zip(step.positions, step.tokens):
            canvas[pos] = tok
        states.append((list(canvas), _record(step)))
        k += 1
    return states


@pytest.mark.parametrize("cfg", SETTINGS[:2], ids=["schedule", "threshold"])
def test_accepting_every_proposal_reproduces_the_engine_with_prefilling_off(reference_model, reference_expected, cfg):
    auto = _run(reference_model, reference_expected, cfg)
    manual = _accept_all(reference_model, reference_expected, cfg, [reference_model.config.mask_token_id] * 12)
    assert [s for s, _ in manual] == auto.states()
    assert [r for _, r in manual] == [_record(s) for s in auto.steps]


def test_a_proposal_commits_a_persons_choice_of_positions_and_candidates(reference_model, reference_expected):
    e, mask = reference_expected, reference_model.config.mask_token_id
    cfg = SETTINGS[0]
    proposal = propose(reference_model, e["input_ids"], cfg, [mask] * 12, **_inputs(e))
    assert proposal.masked == list(range(12)) and len(proposal.default) >= 1 and proposal.fallback
    second, prob = proposal.candidates_at(3)[1]
    step = proposal.step(0, positions=[3, 8], tokens={3: second})
    assert step.positions == [3, 8] and step.tokens[0] == second and step.confidences[0] == prob
    assert step.tokens[1] == proposal.tokens[8] and not step.fallback
    with pytest.raises(ValueError, match="not one of position 3's candidates"):
        proposal.step(0, positions=[3], tokens={3: 10**6})
    with pytest.raises(ValueError, match="at least one"):
        proposal.step(0, positions=[])
    filled = propose(reference_model, e["input_ids"], cfg, [5] + [mask] * 11, fixed=[0], **_inputs(e))
    with pytest.raises(ValueError, match="position 0 is not masked"):
        filled.step(0, positions=[0])


@pytest.mark.parametrize("image, question", [("objects_0.png", "Describe the image."),
                                             ("objects_1.png", "How many blue objects are there?")])
def test_an_unedited_resume_on_the_shipped_tiny_with_padding_reproduces_the_original(tiny, image, question):
    """Issue 32, bug 5: the design card's default start_masked (the canvas length) continues the schedule."""
    from PIL import Image

    from conftest import ROOT

    picture = Image.open(ROOT / "assets" / "examples" / image).convert("RGB")
    cfg = DecodeConfig(max_new_tokens=16, steps=16, alg_p_threshold=0.0, prefill=False)
    whole = tiny.generate(picture, question, cfg)
    assert whole.answer_end < whole.length  # the answer ends before the canvas: padding is committed too
    for k in sorted({1, 2, 4, whole.nfe - 1}):
        branch = None
        for branch in tiny.branch(picture, question, cfg, whole.state_at(k), start_step=k):
            pass
        assert [(s.positions, s.tokens, s.fallback) for s in branch.steps] == \
            [(s.positions, s.tokens, s.fallback) for s in whole.steps[k:]], k
