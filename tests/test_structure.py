"""Templates parse into fixed tokens and mask slots; bad ones are refused with a position."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from conftest import TOKENIZER_DIR
from dimple.structure import TemplateError, build_canvas, parse_template


@pytest.fixture(scope="module")
def tok():
    return AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))


def _ids(tok):
    return tok.convert_tokens_to_ids("<|mask|>"), tok.convert_tokens_to_ids("<|im_end|>")


def test_design_example_gives_fixed_text_slots_and_end(tok):
    mask, eos = _ids(tok)
    canvas = build_canvas("Color: <mask:2>. Shape: <mask:3>.<eos>", tok, mask, eos, limit=64)
    assert canvas.n_slots == 5
    assert canvas.ids[-1] == eos and canvas.fixed[-1]
    assert [i for i, f in zip(canvas.ids, canvas.fixed) if not f] == [mask] * 5
    fixed_text = tok.decode([i for i, f in zip(canvas.ids, canvas.fixed) if f][:-1])
    assert fixed_text == "Color: . Shape: ."
    assert canvas.length == len(canvas.pieces)


@pytest.mark.parametrize("template, where", [
    ("Answer: <mask:abc>", 8), ("Answer: <mask:0>", 8), ("<mask", 0), ("x <eos", 2), ("no slots here", None),
    ("   ", None), ("a <MASK> b", 2),
])
def test_malformed_templates_name_the_problem_and_position(template, where):
    with pytest.raises(TemplateError) as info:
        parse_template(template)
    assert info.value.position == where
    if where is not None:
        assert f"at character {where}" in str(info.value)


def test_template_longer_than_the_limit_is_refused(tok):
    mask, eos = _ids(tok)
    with pytest.raises(TemplateError, match="limit of 10"):
        build_canvas("<mask:8> and more <mask:8>", tok, mask, eos, limit=10)


def test_words_split_into_several_tokens_are_warned_about(tok):
    mask, eos = _ids(tok)
    canvas = build_canvas("Zyxwvut: <mask>", tok, mask, eos, limit=64)
    assert any("Zyxwvut" in w for w in canvas.warnings)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab <>:/0123456789maskeo")), max_size=40))
def test_parser_either_parses_or_raises_template_error(text):
    try:
        segments = parse_template(text)
    except TemplateError:
        return
    assert any(s.kind == "mask" for s in segments)
    assert all(s.count >= 1 for s in segments if s.kind == "mask")
