"""Semi-autoregressive blocks (dimple.blocks and the engine): blocks decode left to right, each iteration commits
only inside the active block, slots end where their share of the steps ends, one block is the paper's decoding,
branches resume exactly, the record exports the blocks, and bad block lengths are refused by name."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dimple
from dimple.blocks import active_block, plan, split_steps
from dimple.branching import resume_point
from dimple.config import ALGORITHMS, DecodeConfig
from dimple.sampling import fallback_count, schedule_grid
from dimple.stepping import propose
from dimple.trajectory import Trajectory
from test_engine import CASE_NAMES, _case_config, _check_invariants, _inputs


def _run(model, e, cfg, **kw):
    return dimple.generate(model, e["input_ids"], cfg, **_inputs(e), **kw)


def check_block_order(traj, cfg, slots_hold=True):
    """Each iteration commits only inside the first block with a mask (so no block starts before the previous
    is full), and (slots_hold) every block is full once its slot of the schedule has ended (a branch that
    re-masked a block whose slot is spent refills it first, so later slots may end later)."""
    blocks = plan(cfg.block_length, traj.length, cfg.steps)
    state = list(traj.canvas)
    for n, step in enumerate(traj.steps):
        active = active_block(blocks, state, traj.mask_token_id)
        assert step.block == active
        lo, hi = blocks.bounds(active)
        assert step.positions and all(lo <= p < hi for p in step.positions)
        for pos, tok in step.writes(traj.pad_token_id):
            state[pos] = tok
        i = traj.start_step + n
        for b in range(blocks.count if slots_hold else 0):
            if blocks.slot_first(b) + blocks.slots[b] - 1 <= i:
                lo, hi = blocks.bounds(b)
                assert traj.mask_token_id not in state[lo:hi], (b, i)


def test_steps_are_split_as_evenly_as_possible_and_as_llada_when_they_divide():
    assert split_steps(12, 4) == (3, 3, 3, 3)
    assert split_steps(10, 4) == (3, 3, 2, 2)
    assert split_steps(5, 5) == (1, 1, 1, 1, 1)


def test_blocks_cut_the_canvas_from_the_left_with_a_shorter_last_block():
    assert plan(4, 10, 10).all_bounds() == [[0, 4], [4, 8], [8, 10]]
    assert plan(4, 10, 10).slots == (4, 3, 3)
    assert plan(None, 10, 5).all_bounds() == [[0, 10]] and plan(None, 10, 5).whole
    one = plan(32, 10, 5)
    assert one.all_bounds() == [[0, 10]] and not one.whole


def test_a_slot_ends_where_its_share_of_the_steps_ends():
    blocks = plan(4, 12, 6)  # three blocks of 4 positions, two iterations each
    assert [blocks.slot_first(b) for b in range(3)] == [0, 2, 4]
    assert blocks.slot_at(1, 2) == (0, False) and blocks.slot_at(1, 3) == (1, True)
    assert blocks.slot_at(1, 0) == (0, False)  # running ahead of its slot: its own schedule's first iteration
    assert blocks.slot_at(0, 5) == (5, True)  # a spent slot commits the rest


@pytest.mark.parametrize("bad, message", [
    (dict(block_length=0), "block_length must be an integer in \\[1, 4096\\], got 0"),
    (dict(block_length=-3), "block_length must be an integer"),
    (dict(block_length=True), "block_length must be an integer"),
    (dict(block_length="4"), "block_length must be an integer"),
    (dict(block_length=5000), "block_length must be an integer in \\[1, 4096\\]"),
    (dict(max_new_tokens=32, steps=3, block_length=8), "block_length 8 cuts the canvas of 32 positions into 4 "
                                                       "blocks, but steps=3"),
])
def test_bad_block_lengths_are_refused_naming_the_setting(bad, message):
    with pytest.raises(ValueError, match=message):
        DecodeConfig(**bad).validate()


def test_a_template_canvas_too_long_for_the_steps_is_refused_by_the_engine(reference_model, reference_expected):
    mask = reference_model.config.mask_token_id
    cfg = DecodeConfig(max_new_tokens=4, steps=4, block_length=2)  # fine for 4 positions, not for 12
    with pytest.raises(ValueError, match="block_length 2 cuts the canvas of 12 positions into 6 blocks"):
        _run(reference_model, reference_expected, cfg, canvas=[mask] * 12)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_one_block_as_long_as_the_canvas_is_the_papers_decoding_token_for_token(name, reference_model,
                                                                                reference_expected, reference_cases):
    case = next(c for c in reference_cases["cases"] if c["name"] == name)
    cfg = _case_config(case)
    traj = _run(reference_model, reference_expected, cfg.with_(block_length=cfg.max_new_tokens))
    assert traj.states() == reference_expected[f"history_{name}"].tolist()
    assert {s.block for s in traj.steps} == {0}
    paper = _run(reference_model, reference_expected, cfg)  # block_length=None
    assert paper.states() == traj.states() and {s.block for s in paper.steps} == {None}


def test_blocks_change_the_decode_and_keep_their_order(reference_model, reference_expected):
    cfg = DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.0, prefill=False)
    whole = _run(reference_model, reference_expected, cfg)
    blocky = _run(reference_model, reference_expected, cfg.with_(block_length=4))
    check_block_order(blocky, cfg.with_(block_length=4))
    # the whole-canvas decode commits somewhere in the last block before the first block is full
    first_full = next(n for n, s in enumerate(whole.states()) if whole.mask_token_id not in s[:4])
    assert any(p >= 8 for s in whole.steps[:first_full + 1] for p in s.positions)


def _schedule_counts(n_masked: int, steps: int) -> list[int]:
    """What the paper's fallback schedule alone commits per iteration on a canvas of n_masked masks."""
    grid, n, out = schedule_grid(steps, 1e-3), n_masked, []
    for i in range(steps):
        k = n if i == steps - 1 else fallback_count(n, n_masked, i, grid)
        out.append(k)
        n -= k
        if not n:
            return out
    return out


def test_with_the_threshold_off_a_block_follows_its_own_schedule(reference_model, reference_expected):
    cfg = DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.0, block_length=4, prefill=False)
    traj = _run(reference_model, reference_expected, cfg)
    check_block_order(traj, cfg)
    first = [len(s.positions) for s in traj.steps if s.block == 0]
    assert first == _schedule_counts(4, 3 + 1)  # block 0: four masks on the grid of its four steps
    assert [s.block for s in traj.steps] == sorted(s.block for s in traj.steps) and traj.steps[-1].block == 2


def test_a_block_that_finishes_early_hands_its_iterations_on(reference_model, reference_expected):
    cfg = DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.05, block_length=4)
    traj = _run(reference_model, reference_expected, cfg)
    check_block_order(traj, cfg)
    assert traj.nfe < cfg.steps  # a low threshold fills blocks in fewer passes than their slots
    assert [s.block for s in traj.steps] == sorted(s.block for s in traj.steps)


def test_fixed_tokens_stay_and_a_block_without_masks_costs_no_pass(reference_model, reference_expected):
    mask = reference_model.config.mask_token_id
    canvas = [17, 18, 19, 20, mask, 42, mask, mask, mask, mask, 43, mask]  # block 0 all template text
    cfg = DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.0, block_length=4)
    traj = _run(reference_model, reference_expected, cfg, canvas=canvas)
    check_block_order(traj, cfg)
    _check_invariants(traj, cfg, fixed_positions=(0, 1, 2, 3, 5, 10))
    assert traj.steps[0].block == 1 and traj.start_masked == 3  # block 1's masked count: its denominator


@pytest.mark.slow  # forty generated settings
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), length=st.integers(1, 12), alg=st.sampled_from(ALGORITHMS),
       threshold=st.sampled_from([0.0, 0.1, 0.5, 0.9]), prefill=st.booleans(), temperature=st.sampled_from([0.0, 0.8]),
       seed=st.integers(0, 3))
def test_random_block_lengths_keep_the_block_order_and_the_invariants(reference_model, reference_expected, data,
                                                                     length, alg, threshold, prefill, temperature,
                                                                     seed):
    block_length = data.draw(st.integers(1, length + 2), label="block_length")
    n_blocks = -(-length // min(block_length, length))
    steps = data.draw(st.integers(n_blocks, length + 3), label="steps")
    cfg = DecodeConfig(max_new_tokens=length, steps=steps, alg=alg, alg_p_threshold=threshold, prefill=prefill,
                       temperature=temperature, seed=seed, block_length=block_length)
    traj = _run(reference_model, reference_expected, cfg)
    _check_invariants(traj, cfg)
    check_block_order(traj, cfg)


def test_an_unedited_resume_of_a_block_decode_reproduces_it_from_step_k(reference_model, reference_expected):
    cfg = DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.5, block_length=4, prefill=False)
    original = _run(reference_model, reference_expected, cfg)
    assert len({s.block for s in original.steps}) == 3
    for k in range(original.nfe + 1):
        branch = _run(reference_model, reference_expected, cfg, **resume_point(original, k))
        assert branch.states() == original.states()[k:], k
        assert [(s.positions, s.block, s.fallback) for s in branch.steps] == \
               [(s.positions, s.block, s.fallback) for s in original.steps[k:]]


@pytest.mark.slow  # fifteen generated branches
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), block_length=st.integers(1, 6), threshold=st.sampled_from([0.0, 0.5]), prefill=st.booleans())
def test_a_branch_with_edits_keeps_the_block_order(reference_model, reference_expected, data, block_length, threshold,
                                                  prefill):
    cfg = DecodeConfig(max_new_tokens=8, steps=8, alg_p_threshold=threshold, block_length=block_length,
                       prefill=prefill)
    mask = reference_model.config.mask_token_id
    original = _run(reference_model, reference_expected, cfg)
    point = resume_point(original, data.draw(st.integers(0, original.nfe), label="k"))
    canvas = point.pop("canvas")
    for pos in data.draw(st.sets(st.integers(0, 7), max_size=8), label="remask"):
        canvas[pos] = mask
    if mask in canvas and point["start_step"] >= cfg.steps:
        point["start_step"] = cfg.steps - 1
    branch = _run(reference_model, reference_expected, cfg, canvas=canvas, **point)
    _check_invariants(branch, cfg.with_(steps=cfg.steps + 8), fixed_positions=[i for i, t in enumerate(canvas)
                                                                               if t != mask])
    check_block_order(branch, cfg, slots_hold=False)


def test_a_proposal_commits_only_inside_the_active_block(reference_model, reference_expected):
    e, mask = reference_expected, reference_model.config.mask_token_id
    cfg = DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.0, block_length=4, prefill=False)
    canvas = [5, 6, 7, 8, 9] + [mask] * 7  # block 0 full, block 1 has three masks
    proposal = propose(reference_model, e["input_ids"], cfg, canvas, start_step=4, **_inputs(e))
    assert proposal.masked == list(range(5, 12)) and proposal.default
    assert all(5 <= p < 8 for p in proposal.default)


def test_a_block_decode_exports_its_blocks_and_round_trips(reference_model, reference_expected):
    cfg = DecodeConfig(max_new_tokens=10, steps=10, alg_p_threshold=0.0, block_length=4)
    traj = _run(reference_model, reference_expected, cfg)
    data = traj.to_dict()
    assert data["block_length"] == 4 == data["config"]["block_length"]
    assert data["blocks"] == [[0, 4], [4, 8], [8, 10]]
    assert [s["block"] for s in data["steps"]] == [s.block for s in traj.steps] and data["steps"][0]["block"] == 0
    back = Trajectory.from_json(traj.to_json())
    assert back.steps == traj.steps and back.block_bounds() == traj.block_bounds()
    late = next(s for s in data["steps"] if s["block"] == 2)
    late["block"] = 0  # a record whose step commits outside its block is refused
    with pytest.raises(ValueError, match="outside its block 0"):
        Trajectory.from_dict(data)


def test_a_whole_canvas_export_says_so():
    mask = 9
    traj = Trajectory(prompt_ids=[1], canvas=[mask] * 3, fixed=[False] * 3, mask_token_id=mask, end_token_ids=[0],
                      config=DecodeConfig(max_new_tokens=3, steps=3).to_dict())
    data = traj.to_dict()
    assert data["block_length"] is None and data["blocks"] == [[0, 3]]


def test_the_step_that_ends_a_blocks_slot_is_explained_as_the_last_step(reference_model, reference_expected):
    from dimple.ghosts import step_rule

    cfg = DecodeConfig(max_new_tokens=12, steps=6, alg_p_threshold=0.0, block_length=4, prefill=False)
    traj = _run(reference_model, reference_expected, cfg)
    blocks = plan(4, 12, 6)  # two steps per block of four: each block's second step commits what is left
    rules = [step_rule(traj, n) for n in range(1, traj.nfe + 1)]
    ends = [blocks.slot_at(s.block, s.index)[1] for s in traj.steps]
    assert rules == ["last step" if end else "fallback" for end in ends]
    assert rules.count("last step") == 3 and traj.nfe == 6


def test_the_shipped_tiny_decodes_block_by_block_one_pass_at_least_per_block():
    from PIL import Image

    from conftest import ROOT
    from dimple.assistant import Assistant

    try:
        tiny = Assistant.load("tiny")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Dimple-Tiny is not shipped here ({exc})")
    image = Image.open(ROOT / "assets" / "examples" / "objects_1.png")
    base = tiny.default_config
    whole = tiny.generate(image, "Describe the image.", base)
    cfg = base.with_(block_length=8)
    traj = tiny.generate(image, "Describe the image.", cfg)
    check_block_order(traj, cfg)
    _check_invariants(traj, cfg)
    n_blocks = len(traj.block_bounds())
    assert n_blocks == -(-base.max_new_tokens // 8) and traj.nfe >= n_blocks  # no pass commits in two blocks
    assert whole.steps[0].block is None and whole.block_bounds() == [[0, base.max_new_tokens]]


def test_blocks_work_with_the_response_cache_and_skip_padding(reference_model, reference_expected):
    e, mask, end = reference_expected, reference_model.config.mask_token_id, 7
    cfg = DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.6, block_length=4)
    prefill = _run(reference_model, e, cfg)
    assert _run(reference_model, e, cfg.with_(response_cache=1)).states() == prefill.states()
    padded = cfg.with_(max_new_tokens=10, steps=10, alg_p_threshold=0.0, skip_padding=True)
    traj = _run(reference_model, e, padded, canvas=[mask, mask, end] + [mask] * 7, end_token_ids=[end])
    check_block_order(traj, padded)
    assert traj.steps[0].padded == list(range(3, 10)) and mask not in traj.response_ids  # the answer ended at 2
