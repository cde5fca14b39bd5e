"""Questions a visitor asks about one scene, their answers, follow-ups and whole conversations.

Owns the question kinds beyond the canonical templates of `world.ask`: each
kind picks what to ask about from the scene, phrases it with `language.py`
(training or held-out frames), and answers it in the world's closed
vocabulary. A question leaves a referent (the shape, colour, position, bar or
row it was about), so that a follow-up ("And the squares?", "Where is it?")
can lean on the turn before. Conversations are lists of (question, answer)
turns; every earlier answer is the true one, as a chat history would hold it.

It knows nothing of tokenizers, images or models.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Optional

from . import forms as F
from . import language as L
from . import world as W


@dataclass
class Turn:
    question: str
    answer: str
    kind: str  # a language.FRAMES kind, "object_at", or "follow_up"
    about: dict = field(default_factory=dict)  # the referent a follow-up may lean on
    follows: bool = False  # True when the question leans on the turn before it
    facts: dict = field(default_factory=dict)  # what `forms.vary` needs to say the answer in another form


def _unique(objs, *attrs: str) -> list:
    """Objects whose given attributes no other object shares."""
    def key(o):
        return tuple(getattr(o, a) for a in attrs)
    return [o for o in objs if sum(key(p) == key(o) for p in objs) == 1]


def _count_answer(objs, **attrs) -> str:
    return str(sum(all(getattr(o, a) == v for a, v in attrs.items()) for o in objs))


def _count_facts(answer: str, noun: str) -> dict:
    return {"form": "count", "n": int(answer), "noun": noun}


def _color(o: W.Obj) -> dict:
    return {"form": "attribute", "value": o.color, "subject": o.shape}


def _shape(o: W.Obj) -> dict:
    return {"form": "shape", "value": o.shape}


def _objects_turn(scene: W.Scene, kind: str, rng: random.Random, split: str, styled: bool) -> Optional[Turn]:
    objs = scene.objects
    say = lambda **s: L.phrase(kind, rng, split, styled, **s)  # noqa: E731
    if kind == "describe":
        return Turn(say(), W.describe_answer(objs), kind, facts={"form": "describe"})
    if kind == "structured":
        return Turn(say(), W.structured_answer(objs), kind, facts={"form": "structured"})
    if kind == "count_all":
        things = rng.choice(L.THINGS)
        return Turn(say(things=things), str(len(objs)), kind, {"count": "all"}, facts=_count_facts(str(len(objs)), things))
    if kind == "count_shape":
        shape = rng.choice(W.SHAPES)
        n = _count_answer(objs, shape=shape)
        return Turn(say(shape=shape), n, kind, {"shape": shape}, facts=_count_facts(n, shape + "s"))
    if kind == "count_color":
        color, things = rng.choice(W.COLOR_NAMES), rng.choice(L.THINGS)
        n = _count_answer(objs, color=color)
        return Turn(say(color=color, things=things), n, kind, {"color": color}, facts=_count_facts(n, f"{color} {things}"))
    if kind == "exists":
        color, shape, yes = W.exists_target(objs, rng)
        twins = sum((o.color, o.shape) == (color, shape) for o in objs)
        about = {"color": color, "shape": shape} if twins == 1 else {}
        return Turn(say(color=color, shape=shape), "yes" if yes else "no", kind, about,
                    facts=W.exists_facts(objs, color, shape, yes))
    if kind == "color_of_shape":
        pool = _unique(objs, "shape")
        o = rng.choice(pool) if pool else None
        return o and Turn(say(shape=o.shape), o.color, kind, {"shape": o.shape}, facts=_color(o))
    if kind == "shape_of_color":
        pool = _unique(objs, "color")
        o = rng.choice(pool) if pool else None
        return o and Turn(say(color=o.color), o.shape, kind, {"color": o.color}, facts=_shape(o))
    if kind in ("color_at", "shape_at", "object_at"):
        o = rng.choice(objs)
        if kind == "object_at":
            return Turn(L.phrase("object_at", rng, split, styled, pos=o.position), o.name(size=True), kind,
                        {"cell": o.cell}, facts={"form": "object", "obj": o})
        answer, facts = (o.color, _color(o)) if kind == "color_at" else (o.shape, _shape(o))
        return Turn(say(pos=o.position), answer, kind, {"cell": o.cell}, facts=facts)
    if kind in ("size", "position"):
        pool = _unique(objs, "color", "shape")
        o = rng.choice(pool) if pool else None
        if o is None:
            return None
        answer = o.size if kind == "size" else o.position
        facts = ({"form": "attribute", "value": o.size, "subject": f"{o.color} {o.shape}"} if kind == "size"
                 else {"form": "position", "pos": o.position})
        return Turn(say(color=o.color, shape=o.shape), answer, kind, {"color": o.color, "shape": o.shape}, facts=facts)
    return _tiny3_turn(scene, kind, rng, say)


# Tiny 3's kinds whose answer picks some objects out of the scene, the comparison twice as often: its answer
# lists every object of one size, so it is a filtered description (WorldData's "choice" category). "How many
# big things?" teaches the same size filter with a one-word answer, which a comparison's list alone did not.
CHOICE_KINDS = ("comparison", "comparison", "count_size", "exists_color", "position_of_shape")

# Superlatives of a comparison question, by the size they ask for (the world has two sizes).
MOST = {"big": ("biggest", "largest"), "small": ("smallest", "tiniest")}


def _tiny3_turn(scene: W.Scene, kind: str, rng: random.Random, say) -> Optional[Turn]:
    """Tiny 3's question kinds: "anything red?", "which one is the biggest?", "how many big things?", "where is
    the triangle?"."""
    objs = scene.objects
    if kind == "exists_color":
        present = sorted({o.color for o in objs})
        color = rng.choice(present) if rng.random() < 0.5 else rng.choice([c for c in W.COLOR_NAMES if c not in present])
        fits = [o for o in objs if o.color == color]
        facts = {"form": "exists_color", "yes": bool(fits), "color": color, "obj": fits[0] if len(fits) == 1 else None}
        return Turn(say(color=color, things=rng.choice(L.THINGS)), "yes" if fits else "no", kind, facts=facts)
    if kind == "comparison":
        sizes = {o.size for o in objs}
        if len(sizes) < 2:
            return None  # every object has one size: nothing is biggest
        size = rng.choice(sorted(sizes))
        picked = [o for o in objs if o.size == size]
        return Turn(say(most=rng.choice(MOST[size]), size=rng.choice(F.SIZE_WORDS[size])), W.describe_answer(picked),
                    kind, facts={"form": "objects", "objs": picked})
    if kind == "count_size":
        size, things = rng.choice(sorted(F.SIZE_WORDS)), rng.choice(L.THINGS)
        n = _count_answer(objs, size=size)
        word = rng.choice(F.SIZE_WORDS[size])
        return Turn(say(size=word, things=things), n, kind, {"size": size}, facts=_count_facts(n, f"{word} {things}"))
    if kind == "position_of_shape":
        pool = _unique(objs, "shape")
        o = rng.choice(pool) if pool else None
        return o and Turn(say(shape=o.shape), o.position, kind, {"cell": o.cell},
                          facts={"form": "position", "pos": o.position})
    raise ValueError(f"{kind} is not a question about objects")


def _text_turn(scene: W.Scene, kind: str, rng: random.Random, split: str, styled: bool) -> Optional[Turn]:
    words = scene.words
    if kind == "ocr_read":
        text = " ".join(w for _, w, _ in words)
        return Turn(L.phrase(kind, rng, split, styled), text, kind, facts={"form": "words", "text": text})
    if kind == "ocr_count":
        return Turn(L.phrase(kind, rng, split, styled), str(len(words)), kind, facts=_count_facts(str(len(words)), "words"))
    row, word, _ = rng.choice(words)
    return Turn(L.phrase("ocr_row", rng, split, styled, row=W.ROWS[row]), word, "ocr_row", {"row": row},
                facts={"form": "words", "text": word})


def _chart_turn(scene: W.Scene, kind: str, rng: random.Random, split: str, styled: bool) -> Turn:
    bars = scene.bars
    if kind == "chart_value":
        label, value, _ = rng.choice(bars)
        return Turn(L.phrase(kind, rng, split, styled, label=label), str(value), kind, {"label": label},
                    facts={"form": "bar_value", "label": label, "value": str(value)})
    if kind in ("chart_tallest", "chart_shortest"):
        most = kind.split("_")[1]
        label = (max if most == "tallest" else min)(bars, key=lambda b: b[1])[0]
        return Turn(L.phrase(kind, rng, split, styled), label, kind,
                    facts={"form": "bar_label", "label": label, "superlative": most})
    return Turn(L.phrase("chart_describe", rng, split, styled), W.chart_answer(bars), "chart_describe",
                facts={"form": "chart"})


KIND_SCENE = {k: "objects" for k in ("describe", "structured", "count_all", "count_shape", "count_color", "exists",
                                     "color_of_shape", "shape_of_color", "color_at", "shape_at", "object_at",
                                     "size", "position", "exists_color", "comparison", "count_size",
                                     "position_of_shape")}
KIND_SCENE.update({k: "text" for k in ("ocr_read", "ocr_row", "ocr_count")})
KIND_SCENE.update({k: "chart" for k in ("chart_value", "chart_tallest", "chart_shortest", "chart_describe")})


def ask(scene: W.Scene, kind: str, rng: random.Random, split: str = "train", styled: bool = True) -> Optional[Turn]:
    """A question of `kind` about `scene` in `split`'s phrasings, or None when the scene has nothing to ask it of."""
    if KIND_SCENE.get(kind) != scene.kind:
        raise ValueError(f"{kind} questions need a {KIND_SCENE.get(kind, '?')} scene, got {scene.kind}")
    turn = {"objects": _objects_turn, "text": _text_turn, "chart": _chart_turn}[scene.kind](scene, kind, rng, split, styled)
    return turn or None


def ask_any(scene: W.Scene, rng: random.Random, split: str = "train", kinds=None, styled: bool = True) -> Turn:
    """A question of some kind that fits the scene."""
    kinds = [k for k in (kinds or KIND_SCENE) if KIND_SCENE[k] == scene.kind] or \
        [k for k in KIND_SCENE if KIND_SCENE[k] == scene.kind]
    for _ in range(20):
        turn = ask(scene, rng.choice(kinds), rng, split, styled)
        if turn is not None:
            return turn
    fallback = {"objects": "count_all", "text": "ocr_read", "chart": "chart_tallest"}[scene.kind]
    return ask(scene, fallback, rng, split, styled)


# ------------------------------------------------------------------ follow-ups
FOLLOW = {  # frames of a follow-up, by what it changes; {x} is the new referent
    "other": {"train": ["And the {x}?", "What about the {x}?", "And {x}?", "what about {x}", "And the {x}"],
              "heldout": ["How about the {x}?", "and what about the {x}"]},
    "where": {"train": ["Where is it?", "Where?", "Where is that?", "And where is it?"],
              "heldout": ["Where can I find it?", "where is it located"]},
    "size": {"train": ["How big is it?", "What size is it?", "Is it big or small?"],
             "heldout": ["And its size?", "is it small or big"]},
    "shape": {"train": ["What shape is it?", "And the shape?", "Which shape?"],
              "heldout": ["What shape does it have?", "and its shape"]},
    "color": {"train": ["What color is it?", "And the color?", "Which color?"],
              "heldout": ["What color does it have?", "and its color"]},
}


# Kinds whose turn always allows a follow-up.
FOLLOWABLE = ("count_shape", "count_color", "color_at", "shape_at", "chart_value", "ocr_row")


def _follow(kind: str, rng: random.Random, split: str, x: str = "") -> str:
    return L.style(rng.choice(FOLLOW[kind][split]).format(x=x), rng, split)


def follow_up(scene: W.Scene, prev: Turn, rng: random.Random, split: str = "train") -> Optional[Turn]:
    """A question that leans on `prev` ("And the squares?", "Where is it?"), or None if none fits."""
    turn = _follow_up(scene, prev, rng, split)
    if turn is not None:
        turn.follows = True
        turn.facts = _follow_facts(scene, turn)
    return turn


def _follow_facts(scene: W.Scene, turn: Turn) -> dict:
    """The facts of a follow-up's answer, from its kind and referent."""
    kind, about, answer = turn.kind, turn.about, turn.answer
    if kind in ("count_shape", "count_color"):
        noun = about["shape"] + "s" if kind == "count_shape" else f"{about['color']} objects"
        return _count_facts(answer, noun)
    if kind == "chart_value":
        return {"form": "bar_value", "label": about["label"], "value": answer}
    if kind == "ocr_row":
        return {"form": "words", "text": answer}
    if "cell" in about:
        o = next(o for o in scene.objects if o.cell == about["cell"])
    else:
        o = next(o for o in scene.objects if all(getattr(o, k) == v for k, v in about.items()))
    if kind in ("color_of_shape", "color_at"):
        return _color(o)
    if kind in ("shape_of_color", "shape_at"):
        return _shape(o)
    if kind == "size":
        return {"form": "attribute", "value": o.size, "subject": f"{o.color} {o.shape}"}
    return {"form": "position", "pos": o.position} if kind == "position" else {}


def _follow_up(scene: W.Scene, prev: Turn, rng: random.Random, split: str) -> Optional[Turn]:
    objs, about = scene.objects, prev.about
    say = lambda kind, x="": _follow(kind, rng, split, x)  # noqa: E731
    if prev.kind == "count_shape":
        shape = rng.choice([s for s in W.SHAPES if s != about["shape"]])
        return Turn(say("other", shape + "s"), _count_answer(objs, shape=shape), "count_shape", {"shape": shape})
    if prev.kind == "count_color":
        color = rng.choice([c for c in W.COLOR_NAMES if c != about["color"]])
        return Turn(say("other", f"{color} ones"), _count_answer(objs, color=color), "count_color", {"color": color})
    if prev.kind == "color_of_shape":
        pool = [o for o in _unique(objs, "shape") if o.shape != about["shape"]]
        o = rng.choice(pool) if pool else None
        return o and Turn(say("other", o.shape), o.color, "color_of_shape", {"shape": o.shape})
    if prev.kind == "shape_of_color":
        pool = [o for o in _unique(objs, "color") if o.color != about["color"]]
        o = rng.choice(pool) if pool else None
        return o and Turn(say("other", f"{o.color} one"), o.shape, "shape_of_color", {"color": o.color})
    if prev.kind in ("color_at", "shape_at"):
        o = next(o for o in objs if o.cell == about["cell"])
        ask_shape = prev.kind == "color_at"
        return Turn(say("shape" if ask_shape else "color"), o.shape if ask_shape else o.color,
                    "shape_at" if ask_shape else "color_at", about)
    if prev.kind in ("exists", "position", "size") and about:
        o = next(o for o in objs if (o.color, o.shape) == (about["color"], about["shape"]))
        if prev.kind == "position" or (prev.kind == "exists" and rng.random() < 0.4):
            return Turn(say("size"), o.size, "size", about)
        if prev.kind == "position":
            return None
        return Turn(say("where"), o.position, "position", about)
    if prev.kind == "chart_value":
        label = rng.choice([b[0] for b in scene.bars if b[0] != about["label"]])
        value = next(v for lb, v, _ in scene.bars if lb == label)
        return Turn(say("other", label), str(value), "chart_value", {"label": label})
    if prev.kind == "ocr_row" and len(scene.words) > 1:
        row, word, _ = rng.choice([w for w in scene.words if w[0] != about["row"]])
        return Turn(say("other", W.ROWS[row]), word, "ocr_row", {"row": row})
    return None


def conversation(scene: W.Scene, rng: random.Random, split: str = "train", n_turns: Optional[int] = None,
                 last: str = "any") -> list[Turn]:
    """2-4 turns about one scene; `last` "follow_up" or "independent" fixes what the final turn is."""
    n = n_turns or rng.randint(2, 4)
    turns = [ask_any(scene, rng, split)]
    retries = 50
    while len(turns) < n:
        final = len(turns) == n - 1
        want_follow = last == "follow_up" if final and last != "any" else rng.random() < 0.5
        nxt = follow_up(scene, turns[-1], rng, split) if want_follow else None
        if nxt is None and final and last == "follow_up" and retries:
            retries -= 1
            turns[-1] = ask_any(scene, rng, split, kinds=FOLLOWABLE)  # until the turn before allows a follow-up
            continue
        turns.append(nxt or ask_any(scene, rng, split))
    return turns
