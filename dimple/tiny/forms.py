"""Answer forms: the many valid ways Dimple-Tiny 3 may say one answer, drawn at random in training.

Owns the surface of an answer: object order, sentence forms, synonyms and
optional details (a count prefix, a full sentence around a short answer).
A real language model's answers have many valid forms, so its first-pass
marginals split between them and confident decoding resolves them over
several passes (the paper: about len/3 passes on Dimple-7B). Tiny 1 and 2
had one canonical form per answer and decoded everything in one pass; this
module is what gives Tiny 3's trajectories something to show.

Every form says exactly the facts of the canonical answer (`world.py`,
`dialogue.py`), so `score.same_meaning` reads each of them back to it
(`tests/test_forms.py` holds that). It knows nothing of tokenizers or models.
"""

from __future__ import annotations

import json
import random
from typing import Callable

from . import world as W
from .score import NUMBER_WORDS

# Synonyms a form may use; score.normalize maps each back to the first word.
SIZE_WORDS = {"big": ("big", "large"), "small": ("small", "little", "tiny")}
ROW_WORDS = {"top": ("top", "upper"), "middle": ("middle",), "bottom": ("bottom", "lower")}
CORNERS = ("top left", "top right", "bottom left", "bottom right")
COUNT_NOUNS = ("shapes", "objects", "things")


class Voice:
    """One answer's habits: each synonym set and small choice (large or big, upper or top, "in" or "at") is drawn
    the first time the answer needs it and kept to its end. A writer keeps their words within an answer, so once
    a few tokens are committed the rest of the answer follows (what confident decoding resolves over passes);
    the structure (form, order) stays the open choice. Everything else is the answer's random generator."""

    def __init__(self, rng: random.Random):
        self.rng, self._kept = rng, {}

    def pick(self, options: tuple):
        if options not in self._kept:
            self._kept[options] = self.rng.choice(options)
        return self._kept[options]

    def flag(self, name: str, p: float) -> bool:
        if name not in self._kept:
            self._kept[name] = self.rng.random() < p
        return self._kept[name]

    def __getattr__(self, name):  # choice, random, randrange, randint, sample: the generator's own
        return getattr(self.rng, name)


def voice(rng) -> Voice:
    return rng if isinstance(rng, Voice) else Voice(rng)


def size_word(size: str, rng: Voice) -> str:
    return rng.pick(SIZE_WORDS[size])


def position_words(pos: str, rng: Voice) -> str:
    """"top left" -> "top left" | "upper left"; the centre cell stays "center"."""
    first, _, rest = pos.partition(" ")
    if not rest:
        return pos
    return f"{rng.pick(ROW_WORDS[first])} {rest}"


def place(pos: str, rng: Voice) -> str:
    """"in the top left" | "at the upper left" | "in the top-left corner" (corners only)."""
    if pos in CORNERS and rng.flag("corner", 0.3):
        return f"in the {position_words(pos, rng).replace(' ', '-')} corner"
    return f"{rng.pick(('in', 'at'))} the {position_words(pos, rng)}"


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def thing(o: W.Obj, rng: random.Random, article: bool = True) -> str:
    """"a large red circle" (the size word is a synonym of the object's size)."""
    words = f"{size_word(o.size, rng)} {o.color} {o.shape}"
    return f"{_a(words)} {words}" if article else words


def number(n: int, rng: Voice) -> str:
    return str(n) if rng.flag("digits", 0.5) or n >= len(NUMBER_WORDS) else NUMBER_WORDS[n]


def join(parts: list[str], rng: Voice) -> str:
    """"a, b and c" or "a, b, and c" or "a, b, c"."""
    if len(parts) == 1:
        return parts[0]
    last = rng.pick((" and ", ", and ", ", "))
    return ", ".join(parts[:-1]) + last + parts[-1]


# ------------------------------------------------------------- descriptions
ORDERS: dict[str, Callable] = {  # how a description orders its objects
    "reading": lambda objs, rng: sorted(objs, key=lambda o: o.cell),
    "size": lambda objs, rng: sorted(objs, key=lambda o: (o.size != "big", o.cell)),
    "color": lambda objs, rng: sorted(objs, key=lambda o: (o.color, o.cell)),
    "random": lambda objs, rng: rng.sample(objs, len(objs)),
}
ORDER_WEIGHTS = {"reading": 3, "size": 2, "color": 2, "random": 1}  # a random order leaves every item open


def ordered(objs: list[W.Obj], rng) -> list[W.Obj]:
    name = rng.choices(tuple(ORDER_WEIGHTS), weights=tuple(ORDER_WEIGHTS.values()))[0]
    return ORDERS[name](list(objs), rng)


def _colon_list(objs, rng):
    return ", ".join(f"{position_words(o.position, rng)}: {thing(o, rng, article=False)}" for o in objs)


def _there_is(objs, rng):
    return "There is " + join([f"{thing(o, rng)} {place(o.position, rng)}" for o in objs], rng) + "."


def _i_see(objs, rng):
    noun = rng.choice(COUNT_NOUNS)
    noun = noun[:-1] if len(objs) == 1 else noun
    items = [f"{thing(o, rng)} ({position_words(o.position, rng)})" for o in objs]
    return f"I see {number(len(objs), rng)} {noun}: " + join(items, rng) + "."


def _clauses(objs, rng):
    parts = [f"{thing(o, rng)} {rng.pick(('is', 'sits'))} {place(o.position, rng)}" for o in objs]
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


DESCRIPTION_FORMS: dict[str, Callable] = {
    "colon": _colon_list, "there_is": _there_is, "i_see": _i_see, "clauses": _clauses,
}


def describe(objs: list[W.Obj], rng: random.Random) -> str:
    rng = voice(rng)
    return DESCRIPTION_FORMS[rng.choice(tuple(DESCRIPTION_FORMS))](ordered(objs, rng), rng)


def structured(objs: list[W.Obj], rng: random.Random) -> str:
    return json.dumps({o.position: o.name() for o in ordered(objs, rng)})


# ------------------------------------------------------------ short answers
def count(n: int, noun: str, rng: random.Random) -> str:
    """"3" | "three" | "There are 3 circles." | "I count three circles." (noun: a plural)."""
    rng = voice(rng)
    form = rng.randrange(4)
    if form < 2:
        return number(n, rng) if form == 0 else str(n)
    said = noun if n != 1 else noun[:-1]
    if form == 2:
        if n == 0:
            return f"There are no {noun}."
        return f"There {'is' if n == 1 else 'are'} {number(n, rng)} {said}."
    return f"I count {number(n, rng)} {said}."


def yes_no(yes: bool, color: str, shape: str, pos: str, rng: random.Random) -> str:
    """"yes" | "Yes." | "Yes, there is a red star." | "Yes, there is a red star in the top left." | the no forms."""
    rng = voice(rng)
    form = rng.randrange(4)
    word = "yes" if yes else "no"
    if form == 0:
        return word
    if form == 1:
        return word.capitalize() + "."
    what = f"{color} {shape}"
    if yes:
        where = f" {place(pos, rng)}" if form == 3 and pos else ""
        return f"Yes, there is {_a(what)} {what}{where}."
    return f"No, there is no {what}." if form == 2 else f"No, I don't see {_a(what)} {what}."


def attribute(value: str, subject: str, rng: random.Random) -> str:
    """A colour or size ("blue" | "Blue." | "It is blue." | "The star is blue.")."""
    rng = voice(rng)
    word = size_word(value, rng) if value in SIZE_WORDS else value
    form = rng.randrange(4)
    if form == 0:
        return word
    if form == 1:
        return word.capitalize() + "."
    if form == 2 or not subject:
        return f"It is {word}."
    return f"The {subject} is {word}."


def shape_answer(shape: str, rng: random.Random) -> str:
    return rng.choice((shape, f"{_a(shape)} {shape}", f"It is {_a(shape)} {shape}.", f"A {shape}."))


def position(pos: str, rng: random.Random) -> str:
    rng = voice(rng)
    form = rng.randrange(4)
    if form == 0:
        return position_words(pos, rng)
    if form == 1:
        return f"the {position_words(pos, rng)}"
    return f"It is {place(pos, rng)}." if form == 2 else f"{place(pos, rng)}".capitalize() + "."


def object_answer(o: W.Obj, rng: random.Random) -> str:
    rng = voice(rng)
    form = rng.randrange(4)
    if form == 0:
        return thing(o, rng, article=False)
    if form == 1:
        return thing(o, rng)
    return f"There is {thing(o, rng)}." if form == 2 else f"I see {thing(o, rng)} there."


def exists_color(yes: bool, color: str, obj, rng: random.Random) -> str:
    """"yes" | "Yes." | "Yes, there is a red star." | "Yes, the star is red." | "No, there is nothing red." ..."""
    form = rng.randrange(4)
    if form < 2:
        word = "yes" if yes else "no"
        return word if form == 0 else word.capitalize() + "."
    if not yes:
        return f"No, there is nothing {color}." if form == 2 else f"No, nothing is {color}."
    if obj is None:
        return f"Yes, there are {color} {rng.choice(COUNT_NOUNS)}."
    return f"Yes, there is {_a(color)} {color} {obj.shape}." if form == 2 else f"Yes, the {obj.shape} is {color}."


def objects(objs: list[W.Obj], rng: random.Random) -> str:
    """Some objects and their places, in any order: "the big red circle (top left) and the big blue star in the
    center"."""
    rng = voice(rng)
    objs = ordered(objs, rng)
    if rng.random() < 0.3:
        return _colon_list(objs, rng)
    if rng.random() < 0.5:
        parts = [f"the {thing(o, rng, article=False)} ({position_words(o.position, rng)})" for o in objs]
    else:
        parts = [f"the {thing(o, rng, article=False)} {place(o.position, rng)}" for o in objs]
    text = join(parts, rng)
    return text[0].upper() + text[1:] + "." if rng.random() < 0.5 else text


def words(text: str, rng: random.Random) -> str:
    return rng.choice((text, text, f"It says {text}.", f"The text says {text}."))


def bar_value(label: str, value: str, rng: random.Random) -> str:
    rng = voice(rng)
    return rng.choice((value, number(int(value), rng), f"It is {value}.", f"{label} is {value}.",
                       f"Bar {label} is {value}."))


def bar_label(label: str, superlative: str, rng: random.Random) -> str:
    return rng.choice((label, f"Bar {label}.", f"{label} is the {superlative}.", f"Bar {label} is the {superlative}."))


def chart(bars, rng: random.Random) -> str:
    rng = voice(rng)
    bars = list(bars) if rng.random() < 0.8 else rng.sample(list(bars), len(bars))
    form = rng.randrange(3)
    if form == 0:
        return ", ".join(f"{label}: {value}" for label, value, _ in bars)
    if form == 1:
        return join([f"{label} is {value}" for label, value, _ in bars], rng) + "."
    return join([f"bar {label} is {value}" for label, value, _ in bars], rng).capitalize() + "."


# ---------------------------------------------------------------- dispatch
FORMS: dict[str, Callable] = {  # facts["form"] -> (facts, scene, rng) -> one valid answer text
    "describe": lambda f, s, r: describe(s.objects, r),
    "structured": lambda f, s, r: structured(s.objects, r),
    "count": lambda f, s, r: count(f["n"], f["noun"], r),
    "exists": lambda f, s, r: yes_no(f["yes"], f["color"], f["shape"], f.get("pos", ""), r),
    "attribute": lambda f, s, r: attribute(f["value"], f.get("subject", ""), r),
    "shape": lambda f, s, r: shape_answer(f["value"], r),
    "position": lambda f, s, r: position(f["pos"], r),
    "object": lambda f, s, r: object_answer(f["obj"], r),
    "words": lambda f, s, r: words(f["text"], r),
    "exists_color": lambda f, s, r: exists_color(f["yes"], f["color"], f.get("obj"), r),
    "objects": lambda f, s, r: objects(f["objs"], r),
    "bar_value": lambda f, s, r: bar_value(f["label"], f["value"], r),
    "bar_label": lambda f, s, r: bar_label(f["label"], f["superlative"], r),
    "chart": lambda f, s, r: chart(s.bars, r),
}


def vary(answer: str, facts: dict, scene: W.Scene, rng: random.Random) -> str:
    """One valid form of `answer`, drawn at random; the answer itself when its facts name no form."""
    form = facts.get("form") if facts else None
    return FORMS[form](facts, scene, Voice(rng)) if form else answer
