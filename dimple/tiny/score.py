"""Scoring Dimple-Tiny's answers by meaning, not by string.

Owns reading an answer back into the world's closed vocabulary: a
description becomes a set of (position, size, colour, shape) items in any
order, and in either of the two phrasings "top left: big red circle" or "a big
red circle at the top left"; JSON is compared as a mapping; a chart reading as
a set of (label, value); numbers may be digits or words; yes/no may carry a
confirmation ("yes, there is"), never a garbled tail. A reply outside the
world must be the one honest reply of its kind. It knows nothing of models or
tokenizers.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Optional

from . import world as W

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_POS = "|".join(sorted(W.POSITIONS, key=len, reverse=True))
_ITEM_COLON = re.compile(rf"^(?:the )?({_POS}): (?:an? )?(big|small) (\w+) (\w+)$")
_ITEM_AT = re.compile(rf"^(?:an? )?(big|small) (\w+) (\w+) (?:at|in) the ({_POS})$")


def normalize(text: str) -> str:
    text = text.strip().lower().replace("-", " ").replace("centre", "center").replace("colour", "color")
    return re.sub(r"\s+", " ", text).strip(" .!")


def description_items(text: str) -> Optional[Counter]:
    """A description as a multiset of (position, size, colour, shape), or None when a part does not parse."""
    items = Counter()
    parts = [p.strip() for p in re.split(r",|;|\band\b", normalize(text)) if p.strip()]
    for part in parts:
        m = _ITEM_COLON.match(part)
        if m:
            items[(m.group(1), m.group(2), m.group(3), m.group(4))] += 1
            continue
        m = _ITEM_AT.match(part)
        if not m:
            return None
        items[(m.group(4), m.group(1), m.group(2), m.group(3))] += 1
    return items or None


def _mapping(text: str) -> Optional[dict]:
    try:
        value = json.loads(text.strip())
    except (ValueError, TypeError):
        return None
    if not isinstance(value, dict):
        return None
    return {normalize(str(k)): normalize(str(v)) for k, v in value.items()}


def _number(text: str) -> Optional[int]:
    t = normalize(text)
    if t.isdigit():
        return int(t)
    return NUMBER_WORDS.index(t) if t in NUMBER_WORDS else None


def _chart_items(text: str) -> Optional[Counter]:
    pairs = re.findall(r"\b([a-f])\s*[:=]\s*(\d)\b", normalize(text))
    return Counter(pairs) or None


# What may follow a yes or a no: a confirmation, perhaps naming the thing ("yes, there is a red star"), never
# a garbled tail ("yes only drawn world").
_THING = rf"(?:(?:an?|one|any|no) )?(?:(?:{'|'.join(W.COLOR_NAMES)}) )?(?:{'|'.join(W.SHAPES)}|one|thing|object)s?"
_YES_NO = re.compile(r"^(yes|no)(?:,? (?:there (?:is|are|isn't|aren't)(?: not)?|i (?:do|can|see)(?: not)?"
                     rf"|i (?:don't|can't|cannot)(?: see)?)(?: {_THING})?)?$")


def _yes_no(text: str) -> Optional[str]:
    m = _YES_NO.match(normalize(text))
    return m.group(1) if m else None


def same_meaning(output: str, expected: str) -> bool:
    """Whether `output` says what `expected` says (`expected` in the world's canonical form)."""
    exp = normalize(expected)
    if exp.startswith("{"):
        want = _mapping(expected)
        return want is not None and _mapping(output) == want
    want_items = description_items(expected)
    if want_items is not None:
        return description_items(output) == want_items
    if re.fullmatch(r"[a-f]: \d(, [a-f]: \d)*", exp):
        return _chart_items(output) == _chart_items(expected)
    if _number(expected) is not None:
        return _number(output) == _number(expected)
    if exp in ("yes", "no"):
        return _yes_no(output) == exp
    return normalize(output) == exp


def invents_objects(output: str) -> bool:
    """Whether a reply names a coloured shape or a filled position (what a non-world image must not get)."""
    t = normalize(output)
    named = any(re.search(rf"\b{c} ({'|'.join(W.SHAPES)})s?\b", t) for c in W.COLOR_NAMES)
    return named or description_items(output) is not None or _mapping(output) is not None
