"""Scoring Dimple-Tiny's answers by meaning, not by string.

Owns reading an answer back into the world's closed vocabulary: a
description becomes a set of (position, size, colour, shape) items in any
order, and in any of the forms of `forms.py` (a colon list, "There is a ...",
"I see three shapes: ...", clauses), synonyms read back to the world's words;
JSON is compared as a mapping; a chart reading as a set of (label, value);
numbers may be digits, words or a sentence ("I count three circles."); yes/no
may carry a confirmation ("yes, there is a red star in the top left"), never a
garbled tail; a one-fact answer may sit in a short sentence ("It is blue."). A reply outside the
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
_OBJ = r"(?:an? |the )?(big|small) (\w+) (\w+)"
# The item forms of a description (forms.py): "top left: big red circle", "a big red circle (top left)",
# "a big red circle is / sits in / at the top left" -> (position, size, colour, shape).
_ITEMS = (
    (re.compile(rf"^(?:the )?({_POS}): {_OBJ}$"), (1, 2, 3, 4)),
    (re.compile(rf"^{_OBJ} \((?:the )?({_POS})\)$"), (4, 1, 2, 3)),
    (re.compile(rf"^{_OBJ} (?:is |sits )?(?:at|in) the ({_POS})$"), (4, 1, 2, 3)),
)
_COUNT_PREFIX = re.compile(r"^i see (\w+) (?:shape|object|thing)s?: (.*)$")
# Synonyms the forms use, read back to the world's words (forms.SIZE_WORDS, forms.ROW_WORDS, corners).
_SYNONYMS = ((r"\blarge\b", "big"), (r"\b(?:little|tiny)\b", "small"), (r"\bupper\b", "top"),
             (r"\blower\b", "bottom"), (r" corner\b", ""))


def normalize(text: str) -> str:
    text = text.strip().lower().replace("-", " ").replace("centre", "center").replace("colour", "color")
    return re.sub(r"\s+", " ", text).strip(" .!")


def canonical(text: str) -> str:
    """`normalize`, with the forms' synonyms read back to the world's words."""
    text = normalize(text)
    for pattern, word in _SYNONYMS:
        text = re.sub(pattern, word, text)
    return text


def description_items(text: str) -> Optional[Counter]:
    """A description as a multiset of (position, size, colour, shape), or None when a part does not parse or
    a count prefix ("I see three shapes: ...") disagrees with the items."""
    t, claimed = canonical(text), None
    m = _COUNT_PREFIX.match(t)
    if m:
        claimed, t = _number(m.group(1)), m.group(2)
        if claimed is None:
            return None
    t = re.sub(r"^there (?:is|are) ", "", t)
    items = Counter()
    for part in (p.strip() for p in re.split(r",|;|\band\b", t)):
        if not part:
            continue
        item = _item(part)
        if item is None:
            return None
        items[item] += 1
    if not items or (claimed is not None and claimed != sum(items.values())):
        return None
    return items


def _item(part: str) -> Optional[tuple]:
    """One described object, canonical text -> (position, size, colour, shape), or None."""
    for pattern, order in _ITEMS:
        m = pattern.match(part)
        if m:
            return tuple(m.group(i) for i in order)
    return None


_NUMBER_MARK = re.compile(r"(?:^|\s)\d+\.\s+")  # "1. " ... " 2. ": lines are one space apart once normalized


def numbered_items(text: str) -> Optional[Counter]:
    """A numbered list of objects ("1. top left: big red circle\n2. ...\n3. nothing") as a multiset of items in
    any order ("nothing" fills an unused line), or None when it is not one: its lines may come in any of a
    description's orders, so it is read as a set."""
    t = canonical(text)
    if not re.match(r"\d+\.\s", t):
        return None
    items = Counter()
    for part in (p.strip(" ,;.") for p in _NUMBER_MARK.split(t)):
        if part in ("", "nothing"):
            continue
        item = _item(part)
        if item is None:
            return None
        items[item] += 1
    return items


def _mapping(text: str) -> Optional[dict]:
    try:
        value = json.loads(text.strip())
    except (ValueError, TypeError):
        return None
    if not isinstance(value, dict):
        return None
    return {normalize(str(k)): normalize(str(v)) for k, v in value.items()}


def _number_word(word: str) -> Optional[int]:
    if word.isdigit():
        return int(word)
    return NUMBER_WORDS.index(word) if word in NUMBER_WORDS else (0 if word == "no" else None)


# A number said in a sentence: "There are 3 circles.", "I count three circles.", "It is 5.", "B is 5."
_NUMBER_SENTENCE = re.compile(r"^(?:there (?:is|are) (\w+) [a-z ]+|i count (\w+) [a-z ]+|(?:it|(?:bar )?[a-f]) is (\w+))$")


def _number(text: str) -> Optional[int]:
    t = normalize(text)
    if t.isdigit() or t in NUMBER_WORDS:
        return _number_word(t)
    m = _NUMBER_SENTENCE.match(t)
    return _number_word(next(g for g in m.groups() if g)) if m else None


def _chart_items(text: str) -> Optional[Counter]:
    pairs = re.findall(r"\b([a-f])(?:\s*[:=]\s*|\s+is\s+)(\d)\b", normalize(text))
    return Counter(pairs) or None


# What may follow a yes or a no: a confirmation, perhaps naming the thing and its place ("yes, there is a red
# star in the top left"), never a garbled tail ("yes only drawn world").
_THING = rf"(?:(?:an?|one|any|no) )?(?:(?:{'|'.join(W.COLOR_NAMES)}) )?(?:{'|'.join(W.SHAPES)}|one|thing|object|shape)s?"
_COLORS, _SHAPES = "|".join(W.COLOR_NAMES), "|".join(W.SHAPES)
_YES_NO = re.compile(r"^(yes|no)(?:,? (?:(?:there (?:is|are|isn't|aren't)(?: not)?|i (?:do|can|see)(?: not)?"
                     rf"|i (?:don't|can't|cannot)(?: see)?)(?: {_THING}(?: (?:at|in) the (?:{_POS}))?)?"
                     rf"|(?:there is nothing|nothing is) (?:{_COLORS})|the (?:{_SHAPES}) is (?:{_COLORS})))?$")


def _yes_no(text: str) -> Optional[str]:
    m = _YES_NO.match(canonical(text))
    return m.group(1) if m else None


# Words around a one-fact answer (a colour, shape, size, place, object, word or bar): "It is blue.", "The star
# is blue.", "At the top left.", "It says cat.", "Bar B is the tallest." Stripped in this order, repeatedly.
_WRAPPERS = tuple(re.compile(p) for p in (
    r" is the (?:tallest|shortest)$", r"^the [a-z]+(?: [a-z]+)? is (?=\w+$)",
    r"^(?:it is|it's|there is|i see|it says|the text says) ", r"^(?:at|in) ", r"^(?:the|an?|bar) (?=\w)", r" there$"))


def _one_fact(text: str) -> str:
    t, before = canonical(text), None
    while t != before:
        before = t
        for pattern in _WRAPPERS:
            t = pattern.sub("", t)
    return t


def same_meaning(output: str, expected: str) -> bool:
    """Whether `output` says what `expected` says (`expected` in the world's canonical form)."""
    exp = normalize(expected)
    if exp.startswith("{"):
        want = _mapping(expected)
        return want is not None and _mapping(output) == want
    want_list = numbered_items(expected)
    if want_list is not None:
        return numbered_items(output) == want_list
    want_items = description_items(expected)
    if want_items is not None:
        return description_items(output) == want_items
    if re.fullmatch(r"[a-f]: \d(, [a-f]: \d)*", exp):
        return _chart_items(output) == _chart_items(expected)
    if _number(expected) is not None:
        return _number(output) == _number(expected)
    if exp in ("yes", "no"):
        return _yes_no(output) == exp
    if normalize(output) == exp:
        return True
    from .replies import REPLY_FORMS  # here, not at the top: replies reads the language, which reads this module

    if expected in REPLY_FORMS:
        return same_reply(output, REPLY_FORMS[expected])
    return len(exp.split()) <= 3 and _one_fact(output) == _one_fact(expected)


def _reply_words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", normalize(text).replace("i'm", "i am"))


def is_reply_form(output: str, forms: tuple) -> bool:
    """Whether `output` is one of an honest reply's forms, word for word (up to case and punctuation)."""
    return normalize(output) in {normalize(form) for form in forms}


def same_reply(output: str, forms: tuple) -> bool:
    """Whether `output` says what an honest reply's `forms` say: one of them, or a fluent mix of them ("I'm
    Dimple-Tiny. I can describe, ..." mixes two forms of the self reply). Every word must come from the
    forms, every word all forms share must be there (what makes the reply its kind: "not from my world"
    for a non-world picture, "colours, positions" for an off-world question), and no word may repeat
    back to back. A stray word ("Hello there moon") or a missing one is wrong."""
    if is_reply_form(output, forms):
        return True
    words = _reply_words(output)
    vocab = [set(_reply_words(form)) for form in forms]
    shared = set.intersection(*vocab)
    repeats = any(a == b for a, b in zip(words, words[1:]))
    return bool(words) and not repeats and set(words) <= set.union(*vocab) and shared <= set(words)


def invents_objects(output: str) -> bool:
    """Whether a reply names a coloured shape or a filled position (what a non-world image must not get)."""
    t = normalize(output)
    named = any(re.search(rf"\b{c} ({'|'.join(W.SHAPES)})s?\b", t) for c in W.COLOR_NAMES)
    return named or description_items(output) is not None or _mapping(output) is not None
