"""The engine reproduces the reference histories and keeps its invariants on any setting."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dimple
from dimple.config import ALGORITHMS, DecodeConfig
from dimple.sampling import fallback_count, schedule_grid

CASE_NAMES = ["maskgit_thr_nocache", "maskgit_thr_prefill", "maskgit_nothr_nocache", "margin_thr_prefill",
              "entropy_nothr_prefill"]


def _inputs(e):
    return dict(attention_mask=e["attention_mask"], pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"])


def _case_config(case):
    return DecodeConfig(max_new_tokens=case["max_new_tokens"], steps=case["steps"], alg=case["alg"],
                        alg_p_threshold=case["alg_p_threshold"], temperature=case["temperature"],
                        alg_temp=case["alg_temp"], use_original_confidence=case["use_original_confidence"],
                        prefill=case["use_cache"])


@pytest.mark.parametrize("name", CASE_NAMES)
def test_reference_history_is_reproduced_token_for_token(name, reference_model, reference_expected, reference_cases):
    case = next(c for c in reference_cases["cases"] if c["name"] == name)
    traj = dimple.generate(reference_model, reference_expected["input_ids"], _case_config(case), **_inputs(reference_expected))
    expected = reference_expected[f"history_{name}"].tolist()
    assert traj.nfe == case["n_iterations"] == len(expected)
    assert traj.states() == expected
    assert traj.response_ids == reference_expected[f"final_{name}"].tolist()


def test_fallback_count_follows_the_schedule_grid():
    grid = schedule_grid(12, 1e-3)
    assert fallback_count(12, 12, 0, grid) == 1  # 12 * (1 - (11/12 - eps')) floors to 1
    assert fallback_count(1, 12, 3, grid) == 1
    assert fallback_count(5, 12, 11, grid) == 5  # the last grid value commits everything


def _check_invariants(traj, cfg, fixed_positions=()):
    mask = traj.mask_token_id
    states = [traj.canvas] + traj.states()
    for before, after in zip(states, states[1:]):
        for b, a in zip(before, after):
            if b != mask:
                assert a == b  # committed (or fixed) tokens are never changed
    for step in traj.steps:
        assert len(step.positions) >= 1
        if cfg.alg_p_threshold > 0 and not step.fallback:
            assert all(c > cfg.alg_p_threshold for c in step.confidences)
    assert mask not in traj.response_ids
    for p in fixed_positions:
        assert traj.response_ids[p] == traj.canvas[p]
    assert traj.nfe <= cfg.steps


@pytest.mark.slow  # thirty generated settings
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    alg=st.sampled_from(ALGORITHMS),
    threshold=st.sampled_from([0.0, 0.05, 0.3, 0.9]),
    length=st.integers(1, 10),
    extra_steps=st.integers(-9, 3),
    temperature=st.sampled_from([0.0, 0.7]),
    alg_temp=st.sampled_from([0.0, 0.5]),
    prefill=st.booleans(),
    top_p=st.sampled_from([None, 0.9]),
    seed=st.integers(0, 5),
)
def test_invariants_hold_for_any_setting(reference_model, reference_expected, alg, threshold, length, extra_steps,
                                        temperature, alg_temp, prefill, top_p, seed):
    cfg = DecodeConfig(max_new_tokens=length, steps=max(1, length + extra_steps), alg=alg, alg_p_threshold=threshold,
                       temperature=temperature, alg_temp=alg_temp, prefill=prefill, top_p=top_p, seed=seed)
    prompt = reference_expected["input_ids"].clone()
    traj = dimple.generate(reference_model, prompt, cfg, **_inputs(reference_expected))
    assert torch.equal(prompt, reference_expected["input_ids"]) and traj.prompt_ids == prompt[0].tolist()
    _check_invariants(traj, cfg)


def test_template_tokens_are_never_changed(reference_model, reference_expected):
    mask = reference_model.config.mask_token_id
    canvas = [mask, 17, mask, mask, 42, mask, 1]
    cfg = DecodeConfig(max_new_tokens=7, steps=7, alg_p_threshold=0.0)
    traj = dimple.generate(reference_model, reference_expected["input_ids"], cfg, canvas=canvas,
                           **_inputs(reference_expected))
    _check_invariants(traj, cfg, fixed_positions=(1, 4, 6))
    assert traj.fixed == [False, True, False, False, True, False, True]
    assert all(p not in (1, 4, 6) for s in traj.steps for p in s.positions)


def test_same_seed_gives_the_same_sampled_trajectory(reference_model, reference_expected):
    cfg = DecodeConfig(max_new_tokens=8, steps=8, temperature=1.0, alg_temp=1.0, alg_p_threshold=0.0, seed=3)
    a = dimple.generate(reference_model, reference_expected["input_ids"], cfg, **_inputs(reference_expected))
    b = dimple.generate(reference_model, reference_expected["input_ids"], cfg, **_inputs(reference_expected))
    assert a.states() == b.states()


def test_stream_yields_the_empty_canvas_first_and_grows_one_step_at_a_time(reference_model, reference_expected):
    cfg = DecodeConfig(max_new_tokens=6, steps=6, alg_p_threshold=0.0)
    seen = [len(t.steps) for t in dimple.stream(reference_model, reference_expected["input_ids"], cfg,
                                                  **_inputs(reference_expected))]
    assert seen == list(range(len(seen))) and seen[-1] >= 1


def test_should_stop_ends_decoding_and_marks_the_trajectory(reference_model, reference_expected):
    calls = []
    cfg = DecodeConfig(max_new_tokens=8, steps=8, alg_p_threshold=0.0)
    traj = dimple.generate(reference_model, reference_expected["input_ids"], cfg,
                           should_stop=lambda: calls.append(1) or len(calls) > 2, **_inputs(reference_expected))
    assert traj.stopped and traj.nfe == 2


class BagOfTokens(torch.nn.Module):
    """A text-only `dimple.protocol.Denoiser` without cache support: each output predicts from its own token."""

    config = type("C", (), {"mask_token_id": 9, "eos_token_id": 0, "pad_token_id": 0})()

    def forward(self, input_ids, attention_mask, pixel_values, image_grid_thw, logits_index):
        return type("Out", (), {"logits": _bag_logits(input_ids).gather(1, logits_index[..., None].expand(-1, -1, 10))})()


class PlainBagOfTokens(torch.nn.Module):
    """The same model with an HF-style forward: logits for every position, no logits_index."""

    config = BagOfTokens.config

    def forward(self, input_ids, attention_mask=None, pixel_values=None, image_grid_thw=None):
        return type("Out", (), {"logits": _bag_logits(input_ids)})()


def _bag_logits(input_ids):
    return torch.nn.functional.one_hot(input_ids.clamp(max=8) % 8 + 1, 10).float() * 5


def test_text_only_model_without_cache_support_decodes_with_prefill_off():
    traj = dimple.generate(BagOfTokens(), torch.tensor([[1, 2, 3]]), DecodeConfig(max_new_tokens=4, steps=4, prefill=False))
    assert 9 not in traj.response_ids and traj.nfe >= 1


class PrefersThePlaceholder(torch.nn.Module):
    """A stand-in whose best guess everywhere is the image placeholder (id 7), then id 4."""

    config = type("C", (), {"mask_token_id": 9, "eos_token_id": 0, "pad_token_id": 0, "image_token_id": 7})()

    def forward(self, input_ids, attention_mask, pixel_values, image_grid_thw, logits_index):
        logits = torch.zeros(*logits_index.shape, 10)
        logits[..., 7], logits[..., 4] = 9.0, 3.0
        return type("Out", (), {"logits": logits})()


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_a_decode_never_commits_an_image_placeholder(temperature):
    """A committed placeholder would make the next full pass ask for image features that do not exist."""
    cfg = DecodeConfig(max_new_tokens=6, steps=6, prefill=False, temperature=temperature, seed=0)
    traj = dimple.generate(PrefersThePlaceholder(), torch.tensor([[1, 2, 3]]), cfg)
    assert traj.response_ids == [4] * 6


def test_an_hf_style_forward_decodes_through_plain_denoiser_and_is_refused_without_it():
    from dimple.protocol import PlainDenoiser

    cfg = DecodeConfig(max_new_tokens=4, steps=4, prefill=False)
    prompt = torch.tensor([[1, 2, 3]])
    assert (dimple.generate(PlainDenoiser(PlainBagOfTokens()), prompt, cfg).states()
            == dimple.generate(BagOfTokens(), prompt, cfg).states())
    with pytest.raises(TypeError, match="logits_index"):
        dimple.generate(PlainBagOfTokens(), prompt, cfg)


def test_a_forward_that_ignores_logits_index_is_refused_with_the_shapes():
    class AllRows(PlainBagOfTokens):
        def forward(self, input_ids, attention_mask, pixel_values, image_grid_thw, logits_index):
            return super().forward(input_ids)

    with pytest.raises(ValueError, match="logits_index of shape"):
        dimple.generate(AllRows(), torch.tensor([[1, 2, 3]]), DecodeConfig(max_new_tokens=4, steps=4, prefill=False))


def test_a_mistyped_keyword_to_the_model_raises(reference_model, reference_expected):
    with pytest.raises(TypeError, match="logit_index"):
        reference_model(input_ids=reference_expected["input_ids"], logit_index=torch.tensor([[0]]))


@pytest.mark.parametrize("bad, name", [
    (dict(max_new_tokens=0), "max_new_tokens"), (dict(steps=-1), "steps"), (dict(alg="greedy"), "alg"),
    (dict(alg_p_threshold=float("nan")), "alg_p_threshold"), (dict(alg_p_threshold=1.5), "alg_p_threshold"),
    (dict(temperature=-1.0), "temperature"), (dict(top_p=0.0), "top_p"), (dict(top_k=0), "top_k"),
    (dict(seed=-3), "seed"), (dict(prefill="yes"), "prefill"), (dict(steps=10**9), "steps"),
])
def test_invalid_settings_raise_value_error_naming_the_setting(bad, name, reference_model, reference_expected):
    with pytest.raises(ValueError, match=name):
        dimple.generate(reference_model, reference_expected["input_ids"], DecodeConfig(**bad))


def test_skip_padding_fills_the_tail_after_a_committed_end_without_forwards(reference_model, reference_expected):
    e = reference_expected
    end = 7
    cfg = DecodeConfig(max_new_tokens=10, steps=10, alg_p_threshold=0.0, skip_padding=True)
    mask = reference_model.config.mask_token_id
    canvas = [mask, mask, end] + [mask] * 7  # a fixed end at 2: the tail needs no forward at all
    traj = dimple.generate(reference_model, e["input_ids"], cfg, canvas=canvas, end_token_ids=[end],
                           **_inputs(e))
    assert traj.steps[0].padded == list(range(3, 10))
    assert traj.response_ids[3:] == [traj.pad_token_id] * 7
    assert traj.nfe <= 2 and mask not in traj.response_ids
    assert dimple.Trajectory.from_json(traj.to_json()).states() == traj.states()


def test_response_cache_decodes_with_the_invariants_and_refresh_every_step_equals_prefill(reference_model,
                                                                                         reference_expected):
    e = reference_expected
    cfg = DecodeConfig(max_new_tokens=12, steps=12, alg_p_threshold=0.6)
    prefill = dimple.generate(reference_model, e["input_ids"], cfg, **_inputs(e))
    refresh_always = dimple.generate(reference_model, e["input_ids"], cfg.with_(response_cache=1), **_inputs(e))
    assert refresh_always.states() == prefill.states()  # a full response refresh each time is prefilling
    lazy = dimple.generate(reference_model, e["input_ids"], cfg.with_(response_cache=4, alg_p_threshold=0.0), **_inputs(e))
    _check_invariants(lazy, cfg)


def test_response_cache_needs_prefill():
    with pytest.raises(ValueError, match="response_cache"):
        DecodeConfig(response_cache=2, prefill=False).validate()


@pytest.mark.slow  # two batches of three and every request alone again
def test_batched_requests_decode_as_they_would_alone(reference_model, reference_expected):
    from dimple.engine import Request, generate_batch

    e = reference_expected
    long_prompt = e["input_ids"]
    short_prompt = torch.cat([long_prompt[:, :14], long_prompt[:, -3:]], dim=1)  # image kept, fewer words
    requests = [Request(p, pixel_values=e["pixel_values"], image_grid_thw=e["image_grid_thw"])
                for p in (long_prompt, short_prompt, long_prompt)]
    for cfg in (DecodeConfig(max_new_tokens=10, steps=10, alg_p_threshold=0.6),
                DecodeConfig(max_new_tokens=10, steps=10, alg_p_threshold=0.0, prefill=False)):
        batch = generate_batch(reference_model, requests, cfg)
        for request, traj in zip(requests, batch):
            alone = dimple.generate(reference_model, request.input_ids, cfg, pixel_values=e["pixel_values"],
                                    image_grid_thw=e["image_grid_thw"])
            assert traj.states() == alone.states()
            assert traj.prompt_ids == request.input_ids[0].tolist()


def test_skip_padding_closes_only_the_slot_an_end_token_sits_in():
    from dimple.engine import _pad_after_end

    mask, pad, end = 99, 0, 1
    # template: [T] slot slot slot [T] slot slot [end]; the model wrote an end into the first slot
    response = torch.tensor([20, 5, end, mask, 21, mask, mask, end])
    fixed = [True, False, False, False, True, False, False, True]
    padded = _pad_after_end(response, mask, torch.tensor([end, pad]), pad, fixed)
    assert padded == [3]
    assert response.tolist() == [20, 5, end, pad, 21, mask, mask, end]
    free = torch.tensor([5, end, mask, mask])
    assert _pad_after_end(free, mask, torch.tensor([end, pad]), pad, [False] * 4) == [2, 3]
