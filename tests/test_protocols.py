"""The model and the assistants meet the protocols the engine and the app are written against."""

from __future__ import annotations

import inspect

import pytest

from app.protocol import StudioAssistant
from dimple.assistant import Assistant
from dimple.modeling import DimpleModel
from dimple.protocol import CachedDenoiser, Denoiser
from fake_assistant import FakeAssistant


def _keywords(function) -> set[str]:
    return {n for n, p in inspect.signature(function).parameters.items() if n != "self" and p.kind != p.VAR_KEYWORD}


def _members(protocol) -> tuple[set[str], set[str]]:
    """(attributes, methods) a protocol declares."""
    methods = {n for n, v in vars(protocol).items() if inspect.isfunction(v) and not n.startswith("_")}
    return set(protocol.__annotations__), methods


@pytest.mark.parametrize("protocol", [Denoiser, CachedDenoiser])
def test_dimple_model_forward_takes_every_keyword_the_engine_passes(protocol):
    assert _keywords(protocol.__call__) <= _keywords(DimpleModel.forward)


def test_dimple_model_has_the_cached_denoisers_rope_index():
    assert _keywords(CachedDenoiser.rope_index) == _keywords(DimpleModel.rope_index)


# Assistant's facts are properties (present on the class); the fake's are plain attributes of an instance
@pytest.mark.parametrize("assistant", [Assistant, FakeAssistant()], ids=["Assistant", "FakeAssistant"])
def test_assistants_have_every_member_the_app_calls_with_its_arguments(assistant):
    attributes, methods = _members(StudioAssistant)
    for name in attributes:
        assert hasattr(assistant, name), name
    for name in methods:
        assert list(_keywords(getattr(assistant, name))) == list(_keywords(getattr(StudioAssistant, name))), name
