"""The studio's one request check: a question as the page, the web API and the teaching tools receive it.

Owns turning the raw values of a question (image file, prompt, template and
the decoding controls) into a checked `Question` (the image loaded, the prompt
trimmed, a validated DecodeConfig within the model's limits, the template
parsed against the model's tokenizer) and every refusal into a `gr.Error`
naming the problem; and `running(session)`, the session's run controller
(app/runs.py) with "busy" said as a gr.Error. The value parsing itself is
`app.inputs`'s; the decoding defaults are `dimple.config.DecodeConfig`'s.
It knows the assistant's `canvas_for` and limits, nothing of decoding.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import gradio as gr

from .inputs import check_prompt, load_image, make_config
from .runs import Busy

BUSY = "The last question is still being answered: wait for it or press Stop."


@dataclass
class Question:
    """A checked question, ready for the assistant."""

    image: Any  # PIL image or None
    prompt: str
    cfg: Any  # DecodeConfig
    template: Optional[str]
    history: list = field(default_factory=list)  # [(user, assistant), ...] before this turn


def user_error(message: str) -> gr.Error:
    """The one look of a refusal: shown to the person (or the API caller), not logged as a server fault."""
    return gr.Error(message, duration=8, print_exception=False)


@contextmanager
def checked() -> Iterator[None]:
    """A ValueError raised inside (bad input) reaches the person as a gr.Error naming the problem."""
    try:
        yield
    except ValueError as exc:
        raise user_error(str(exc)) from None


@contextmanager
def running(session) -> Iterator[Callable[[], bool]]:
    """Run one decode of `session` through its run controller; yields `should_stop`."""
    with ExitStack() as stack:
        try:
            should_stop = stack.enter_context(session.runs.run())
        except Busy:
            raise user_error(BUSY) from None
        yield should_stop


def question(assistant, image, prompt, template, controls: dict, history=()) -> Question:
    """The question's values -> a Question, or a gr.Error naming the first problem."""
    with checked():
        prompt = check_prompt(prompt)
        picture = load_image(image)
        limit = int(assistant.max_new_tokens_limit)
        cfg = make_config(**controls, max_new_tokens_limit=limit)
        template = template if isinstance(template, str) and template.strip() else None
        if template:
            assistant.canvas_for(template, limit)
    return Question(picture, prompt, cfg, template, list(history))
