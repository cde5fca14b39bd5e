"""The question form: every input a question reads, handed to a handler as one dict of named values.

Owns the names of the form's fields (the image, the prompt, the template, the
session, the ten decoding controls named as `DecodeConfig` names them, and
the Compare tab's A/B settings) and the bridge from Gradio to handlers:
Gradio calls a handler whose inputs are a set of components with one dict
{component: value}; `Form.stream` hands the handler {name: value}
instead, so a handler reads `form["prompt"]` and `controls(form)`, and a test
builds the same dict without any component. It knows nothing of what the
handlers do with the values, nor of the layout.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

# DecodeConfig's names of the controls in the Decoding panel, in the panel's order
CONTROLS = ("alg_p_threshold", "prefill", "steps", "max_new_tokens", "alg", "temperature", "top_p", "top_k",
            "alg_temp", "seed", "block_length")
# the Compare tab's A and B settings (they override two controls), at their initial values
COMPARE_DEFAULTS = {"a_threshold": 0.9, "a_prefill": True, "b_threshold": 0.0, "b_prefill": True}
# what a question reads
# the playback speed (app/pace.py) paces the live view too; it is no decoding setting
FIELDS = ("image", "prompt", "template", "session", "speed", *COMPARE_DEFAULTS, *CONTROLS)


def controls(form: dict) -> dict:
    """The decoding controls of a form, as `app.inputs.make_config` takes them (one a form lacks takes the
    defaults table's value)."""
    return {name: form[name] for name in CONTROLS if name in form}


class Form:
    """The components of the form by field name (every name of FIELDS, no other)."""

    def __init__(self, **components: Any) -> None:
        if set(components) != set(FIELDS):
            raise ValueError(f"a Form needs exactly the fields {sorted(FIELDS)}; got {sorted(components)}")
        self._names = {id(c): name for name, c in components.items()}
        self.inputs = set(components.values())  # Gradio: a set of inputs -> one {component: value} dict

    def named(self, values: dict) -> dict:
        return {self._names[id(c)]: v for c, v in values.items()}

    def stream(self, handler: Callable[[dict], Iterator]) -> Callable[[dict], Iterator]:
        """A generator event function (Gradio streams what it yields) calling `handler` with named values."""
        def run(values: dict):
            yield from handler(self.named(values))

        return run
