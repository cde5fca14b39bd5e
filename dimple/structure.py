"""Structure priors: a template turned into a response canvas of fixed tokens and mask slots.

Syntax (docs/DESIGN.md): plain text is fixed; `<mask>` is one masked token,
`<mask:N>` is N masked tokens; `<eos>` fixes an end-of-answer token. The
response length is the template's token length. Example:
`Color: <mask:2>. Shape: <mask:3>.<eos>`.

Owns parsing, tokenising the fixed text and the errors that name the problem
and its character position. It does not decode; the engine takes the canvas
and never changes a fixed position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

MAX_SLOT = 4096
_TAG = re.compile(r"<mask(?::(\d+))?>|<eos>")
_SUSPECT = re.compile(r"<\s*(mask|eos)", re.IGNORECASE)


class TemplateError(ValueError):
    def __init__(self, message: str, position: Optional[int] = None):
        self.position = position
        where = f" (at character {position})" if position is not None else ""
        super().__init__(f"template: {message}{where}")


@dataclass
class Segment:
    kind: str  # "text", "mask" or "eos"
    start: int  # character offset in the template
    text: str = ""  # the fixed text, for kind == "text"
    count: int = 1  # mask slots, for kind == "mask"


@dataclass
class StructuredCanvas:
    ids: list[int]  # response canvas: mask id at slots, token ids elsewhere
    fixed: list[bool]  # True where the template fixed the token
    pieces: list[tuple[str, bool]] = field(default_factory=list)  # (token text, fixed) for previews
    warnings: list[str] = field(default_factory=list)

    @property
    def length(self) -> int:
        return len(self.ids)

    @property
    def n_slots(self) -> int:
        return sum(1 for f in self.fixed if not f)


def parse_template(template: str) -> list[Segment]:
    """Split a template into text, mask and eos segments; raise TemplateError when it does not parse."""
    if not isinstance(template, str) or not template.strip():
        raise TemplateError("the template is empty")
    segments: list[Segment] = []
    pos = 0
    for match in _TAG.finditer(template):
        if match.start() > pos:
            segments.append(Segment("text", pos, text=template[pos : match.start()]))
        if match.group(0) == "<eos>":
            segments.append(Segment("eos", match.start()))
        else:
            count = int(match.group(1)) if match.group(1) is not None else 1
            if not 1 <= count <= MAX_SLOT:
                raise TemplateError(f"<mask:{match.group(1)}> must ask for 1 to {MAX_SLOT} tokens", match.start())
            segments.append(Segment("mask", match.start(), count=count))
        pos = match.end()
    if pos < len(template):
        segments.append(Segment("text", pos, text=template[pos:]))
    for seg in segments:
        if seg.kind == "text":
            bad = _SUSPECT.search(seg.text)
            if bad:
                raise TemplateError(
                    "malformed tag; write <mask>, <mask:N> with N a whole number, or <eos>", seg.start + bad.start()
                )
    if not any(seg.kind == "mask" for seg in segments):
        raise TemplateError("no <mask> slot, so there is nothing for the model to write")
    return segments


def build_canvas(template: str, tokenizer, mask_token_id: int, eos_token_id: int, limit: int) -> StructuredCanvas:
    """Tokenise a template into a StructuredCanvas of at most `limit` positions."""
    canvas = StructuredCanvas(ids=[], fixed=[])
    eos_text = tokenizer.convert_ids_to_tokens(eos_token_id)
    for seg in parse_template(template):
        if seg.kind == "mask":
            ids, fixed, texts = [mask_token_id] * seg.count, False, [""] * seg.count
        elif seg.kind == "eos":
            ids, fixed, texts = [eos_token_id], True, [eos_text]
        else:
            ids = tokenizer(seg.text, add_special_tokens=False)["input_ids"]
            fixed, texts = True, [tokenizer.decode([i]) for i in ids]
            canvas.warnings.extend(_split_word_warnings(seg.text, tokenizer))
        canvas.ids.extend(ids)
        canvas.fixed.extend([fixed] * len(ids))
        canvas.pieces.extend((t, fixed) for t in texts)
        if len(canvas.ids) > limit:
            raise TemplateError(f"the template needs more than the limit of {limit} tokens", seg.start)
    return canvas


def _split_word_warnings(text: str, tokenizer) -> list[str]:
    out = []
    for word in text.split():
        n = len(tokenizer(" " + word, add_special_tokens=False)["input_ids"])
        if n > 1:
            out.append(f"'{word}' is {n} tokens")
    return out
