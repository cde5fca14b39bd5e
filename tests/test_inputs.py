"""app.inputs under arbitrary values: settings either become a valid DecodeConfig or a ValueError naming them.

Property-based (hypothesis): whatever a browser or an API client sends for the
decoding controls (NaN, infinities, negatives, huge numbers, strings, None,
booleans), `make_config` never raises anything but ValueError, the message
names the offending setting, and what it accepts passes `DecodeConfig.validate`.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.inputs import check_prompt, make_config
from dimple.processing import MAX_PROMPT_CHARS
from dimple.config import ALGORITHMS, DecodeConfig

SETTINGS = ("alg_p_threshold", "prefill", "steps", "max_new_tokens", "alg", "temperature", "top_p", "top_k",
            "alg_temp", "seed")

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 0.5, 0.9, 32, 4096, 4097, "0.9", " 7 ", "", "abc", "nan", "inf", "-1", "1e9", "true"]),
    st.sampled_from(ALGORITHMS + ("greedy", "")),
    st.text(max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(SETTINGS), anything, max_size=len(SETTINGS)),
       st.one_of(st.none(), st.integers(min_value=1, max_value=256)))
def test_settings_become_a_valid_config_or_a_value_error_naming_them(values, limit):
    try:
        cfg = make_config(**values, max_new_tokens_limit=limit)
    except ValueError as exc:
        assert any(name in str(exc) for name in SETTINGS), str(exc)
        return
    assert isinstance(cfg, DecodeConfig)
    cfg.validate()
    assert 1 <= cfg.max_new_tokens <= (limit or cfg.max_new_tokens) and cfg.steps >= 1
    for name in ("alg_p_threshold", "temperature", "alg_temp"):
        assert math.isfinite(getattr(cfg, name))


@pytest.mark.parametrize("name, value", [("alg_p_threshold", float("nan")), ("steps", -3), ("steps", 10**9),
                                         ("max_new_tokens", 10**6), ("temperature", "hot"), ("seed", 1.5),
                                         ("alg", "beam")])
def test_out_of_range_settings_name_the_setting(name, value):
    with pytest.raises(ValueError, match=name):
        make_config(**{name: value})


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_prompts_are_accepted_stripped_or_refused_with_a_reason(text):
    try:
        out = check_prompt(text)
    except ValueError as exc:
        assert "prompt" in str(exc)
        assert not text.strip() or len(text) > MAX_PROMPT_CHARS
        return
    assert out == text.strip() and out
