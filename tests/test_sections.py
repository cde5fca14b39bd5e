"""app/sections.py: the page is built as typed sections, each field a component, composed into one Page."""

from __future__ import annotations

import dataclasses

import gradio as gr
import pytest

from app import page as page_module, sections
from app.chat.handlers import Studio
from app.lessons import share
from app.session import Session
from fake_assistant import FakeAssistant


@pytest.fixture(scope="module")
def built():
    with gr.Blocks():
        return page_module.layout(Studio(FakeAssistant()), gr.State(Session()))


def _components(section):
    for field in dataclasses.fields(section):
        value = getattr(section, field.name)
        if dataclasses.is_dataclass(value):
            yield from _components(value)
        elif field.name != "examples":  # the example list the gallery was built from
            yield f"{type(section).__name__}.{field.name}", value


def test_every_field_of_every_section_is_a_gradio_component(built):
    found = dict(_components(built))
    assert len(found) > 80
    assert all(isinstance(c, gr.blocks.Block) for c in found.values()), [k for k, c in found.items()
                                                                         if not isinstance(c, gr.blocks.Block)]


def test_no_component_is_in_two_places_and_no_elem_id_is_used_twice(built):
    found = list(_components(built))
    assert len({id(c) for _, c in found}) == len(found)
    ids = [c.elem_id for _, c in found if c.elem_id]
    assert len(ids) == len(set(ids))


def test_a_misspelt_component_fails_when_the_page_is_built(built):
    with pytest.raises(AttributeError):
        built.question.sned  # noqa: B018 - the typo is the test
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.question.send = None


def test_the_shared_link_controls_are_the_pages(built):
    pairs = dict(share.controls(built))
    assert set(pairs) == set(share.PARAMS)
    assert pairs["threshold"] is built.decoding.threshold and pairs["q"] is built.question.prompt


def test_the_page_composes_every_section_type():
    kinds = {f.type for f in dataclasses.fields(sections.Page)}
    assert {"QuestionSection", "DecodingSection", "LiveSection", "BranchSection", "LessonsSection"} <= kinds
