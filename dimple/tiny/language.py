"""The words a visitor uses with Dimple-Tiny: phrasings of every question kind, split for training and held out.

Owns the question frames of each kind (many phrasings, synonyms and word
orders), the surface styles laid over them (polite prefixes, lower case, no
question mark, British spelling), and which of them training may see. The
held-out frames and prefixes never reach a training batch, so the visitor
evaluation measures generalisation to words the model was not taught.

Answers are not here: they come from the scene, in the world's closed
vocabulary (`world.py`), so that any phrasing of a question has one answer
that can be scored by meaning. It knows nothing of tokenizers or models.
"""

from __future__ import annotations

import functools
import random
import re

from . import world as W
from .score import NUMBER_WORDS

SPLITS = ("train", "heldout")

# Each kind: {"train": [frames], "heldout": [frames]}. Slots: {shape} {shapes} {color} {a} {pos} {row} {label} {things}.
FRAMES: dict[str, dict[str, list[str]]] = {
    "describe": {
        "train": ["Describe the image.", "Describe this image.", "Describe the picture.", "What is in the image?",
                  "What do you see?", "What's in this picture?", "Tell me what you see.", "What objects are there?",
                  "List everything in the image.", "Describe what you see.", "What is in the picture?",
                  "What can you see?", "Describe it.", "What does the image show?", "What is the picture about?",
                  "Say something about the image.", "What's happening in the picture?", "Explain the image.",
                  "Give me a description of the image.", "Summarize the picture.", "What is shown here?",
                  "What shapes are in the drawing?", "Describe the scene.", "What's in the drawing?",
                  "What is drawn?", "Tell me everything in the scene.", "Go over the picture.",
                  "What shapes do you see?", "Talk me through the image.", "Explain what is drawn.",
                  "{verb} the image.", "Can you {verb} the picture?", "Please {verb} this image.",
                  "Could you {verb} what is drawn?", "{verb} everything in the picture."],
        "heldout": ["Describe this picture.", "What can you see in the image?", "Tell me what is in the picture.",
                    "what do you see in this image"],
    },
    "count_all": {
        "train": ["How many {things} are there?", "How many {things}?", "Count the {things}.",
                  "How many {things} do you see?", "How many {things} are in the image?", "Number of {things}?",
                  "What is the number of {things}?", "Count all {things}.", "How many {things} are in the picture?"],
        "heldout": ["how many {things} can you see", "Count the {things} in the image.",
                    "What is the number of {things} in the picture?", "how many {things} are in it"],
    },
    "count_shape": {
        "train": ["How many {shapes} are there?", "How many {shapes}?", "Count the {shapes}.",
                  "How many {shapes} do you see?", "How many {shapes} are in the image?", "Number of {shapes}?",
                  "What is the number of {shapes}?", "How many {shapes} are in the picture?"],
        "heldout": ["how many {shapes} can you see", "Count the {shapes} in the picture.",
                    "What is the number of {shapes} in the image?"],
    },
    "count_size": {
        "train": ["How many {size} {things} are there?", "How many {size} {things}?", "Count the {size} {things}.",
                  "How many {size} {things} do you see?", "How many {size} ones are there?",
                  "What is the number of {size} {things}?"],
        "heldout": ["how many {size} {things} can you see", "Count the {size} {things} in the picture."],
    },
    "count_color": {
        "train": ["How many {color} {things} are there?", "How many {color} {things}?", "Count the {color} {things}.",
                  "How many {color} {things} do you see?", "How many {color} {things} are in the image?",
                  "Number of {color} {things}?", "What is the number of {color} {things}?"],
        "heldout": ["how many {color} {things} can you see", "Count the {color} {things} in the picture."],
    },
    "exists": {
        "train": ["Is there {a} {color} {shape}?", "Do you see {a} {color} {shape}?", "Can you find {a} {color} {shape}?",
                  "Is there {a} {color} {shape} in the image?", "Are there any {color} {shapes}?",
                  "Any {color} {shapes}?", "Is there {a} {color} {shape} in the picture?",
                  "Does the image have {a} {color} {shape}?", "Do you see any {color} {shapes}?"],
        "heldout": ["Do you see {a} {color} {shape} in the picture?", "Can you see {a} {color} {shape}?",
                    "is there any {color} {shape} in the image", "Can you find any {color} {shapes}?"],
    },
    "color_of_shape": {
        "train": ["What color is the {shape}?", "Which color is the {shape}?", "What color does the {shape} have?",
                  "The {shape} is what color?", "What is the color of the {shape}?", "Color of the {shape}?",
                  "Which color does the {shape} have?"],
        "heldout": ["what's the color of the {shape}", "Tell me the color of the {shape}.",
                    "What color is the {shape} in the picture?"],
    },
    "shape_of_color": {
        "train": ["What shape is the {color} object?", "What is the {color} shape?", "Which shape is {color}?",
                  "What shape is the {color} thing?", "What shape is the {color} one?",
                  "The {color} object is which shape?", "Which shape is the {color} object?"],
        "heldout": ["what shape is the {color} item", "Tell me the shape of the {color} object.",
                    "What is the shape of the {color} thing?"],
    },
    "color_at": {
        "train": ["What color is the object at the {pos}?", "What color is at the {pos}?", "Which color is in the {pos}?",
                  "What is the color of the thing at the {pos}?", "Color of the object in the {pos}?",
                  "What color is the shape in the {pos}?"],
        "heldout": ["what's the color of the object at the {pos}", "Which color is the thing in the {pos}?"],
    },
    "shape_at": {
        "train": ["What shape is at the {pos}?", "Which shape is in the {pos}?", "What shape do you see at the {pos}?",
                  "What is the shape at the {pos}?", "Shape of the object in the {pos}?",
                  "What shape is the object at the {pos}?"],
        "heldout": ["what's the shape in the {pos}", "Which shape can you see at the {pos}?"],
    },
    "object_at": {
        "train": ["What is at the {pos}?", "What is in the {pos}?", "What is the object at the {pos}?",
                  "Describe the object at the {pos}.", "Which object is in the {pos}?", "What's at the {pos}?",
                  "What can you say about the object at the {pos}?", "Anything at the {pos}?",
                  "What object do you see in the {pos}?"],
        "heldout": ["Tell me about the object in the {pos}.", "what do you see at the {pos}"],
    },
    "size": {
        "train": ["What size is the {color} {shape}?", "How big is the {color} {shape}?",
                  "Is the {color} {shape} big or small?", "What is the size of the {color} {shape}?",
                  "Size of the {color} {shape}?", "Big or small: the {color} {shape}?"],
        "heldout": ["how big is the {color} {shape} in the picture", "Is the {color} {shape} small or big?"],
    },
    "position": {
        "train": ["Where is the {color} {shape}?", "Where's the {color} {shape}?", "Where can I find the {color} {shape}?",
                  "In which cell is the {color} {shape}?", "Where is the {color} {shape} located?",
                  "Position of the {color} {shape}?", "Where is the {color} {shape} in the image?",
                  "Which position is the {color} {shape} in?"],
        "heldout": ["where do you see the {color} {shape}", "Tell me where the {color} {shape} is.",
                    "Where is the {color} {shape} in the picture?"],
    },
    "ocr_read": {
        "train": ["Read the text.", "What does it say?", "What is written?", "Read the words.", "What text is there?",
                  "What word is written?", "What is written in the image?", "Read it.",
                  "What does the text say?", "What's written here?", "Read what is written.", "What do the letters say?",
                  "Read the writing.", "What is the text?", "Read the word for me.", "What does the label read?",
                  "{verb} the text.", "Can you {verb} the words?", "{verb} what is written."],
        "heldout": ["What do the words say?", "read the text in the picture"],
    },
    "ocr_row": {
        "train": ["What word is written at the {row}?", "What is written at the {row}?", "Which word is at the {row}?",
                  "Read the word at the {row}.", "What word is at the {row}?"],
        "heldout": ["what's the word at the {row}", "Which word is written at the {row}?"],
    },
    "ocr_count": {
        "train": ["How many words are written?", "How many words are there?", "Count the words.",
                  "Number of words?", "How many words do you see?"],
        "heldout": ["how many words can you see", "Count the words in the picture."],
    },
    "chart_value": {
        "train": ["What is the value of {label}?", "How tall is bar {label}?", "What is the value of bar {label}?",
                  "Value of {label}?", "How high is bar {label}?", "What value does {label} have?"],
        "heldout": ["what's the value of bar {label}", "Tell me the value of {label}."],
    },
    "chart_tallest": {
        "train": ["Which bar is the tallest?", "Which bar is highest?", "What is the tallest bar?",
                  "Which bar is the highest?", "Tallest bar?", "Which one is the tallest?"],
        "heldout": ["which bar is tallest", "What is the highest bar?"],
    },
    "chart_shortest": {
        "train": ["Which bar is the shortest?", "Which bar is lowest?", "What is the shortest bar?",
                  "Which bar is the lowest?", "Shortest bar?", "Which one is the shortest?"],
        "heldout": ["which bar is shortest", "What is the lowest bar?"],
    },
    "chart_describe": {
        "train": ["Describe the chart.", "Read the chart.", "What are the values?", "Describe this chart.",
                  "Read the bars.", "What does the chart show?"],
        "heldout": ["Read the values of the chart.", "describe the bar chart"],
    },
    # Tiny 3: the questions a visitor asked in the browser that Tiny 2 missed (issue 31).
    "exists_color": {
        "train": ["Is anything {color}?", "Anything {color}?", "Do you see anything {color}?",
                  "Is there something {color}?", "Is there anything {color} in the image?", "Any {color} {things}?",
                  "Is any object {color}?", "Can you find something {color}?"],
        "heldout": ["is there anything {color}", "Can you see something {color} in the picture?"],
    },
    "comparison": {
        "train": ["Which object is the {most}?", "Which shape is the {most}?", "What is the {most} object?",
                  "What's the {most} thing?", "Which is the {most}?", "Name the {most} shape.",
                  "Which ones are the {most}?", "Show me the {most} one.",
                  # the size itself, as the answer says it: the filter without the superlative to decode
                  "Which shapes are {size}?", "Name the {size} ones.", "List the {size} shapes."],
        "heldout": ["which one is the {most}", "Tell me which shape is the {most}."],
    },
    "position_of_shape": {
        "train": ["Where is the {shape}?", "Where's the {shape}?", "Where can I find the {shape}?",
                  "Where is the {shape} located?", "Tell me the position of the {shape}.", "Position of the {shape}?"],
        "heldout": ["can you tell me where the {shape} is", "Whereabouts is the {shape}?"],
    },
    "structured": {
        "train": ["List the objects as JSON.", "Give me the objects as JSON.", "JSON of the objects, please.",
                  "Return the objects in JSON.", "List the shapes as JSON.", "Objects as JSON?"],
        "heldout": ["Give the objects in JSON.", "list the objects in json"],
    },
}

# A {verb} slot is filled by a made-up word (`phrase`): a visitor's verb the model never saw ("Summarise the
# picture", "Decode the words") should leave what the question asks to the words it knows ("picture", "words").
VERB_SLOT = "{verb}"

# Synonyms a slot may take (all of them seen in training).
THINGS = ("objects", "shapes", "things", "items")
PREFIXES = {"train": ("", "", "", "Please ", "Hey, ", "Tell me: ", "Okay, "), "heldout": ("", "", "Quick question: ", "So, ")}
SUFFIXES = {"train": ("", "", "", " please"), "heldout": ("",)}
# Training-only openers a visitor might put before a question: varied enough that a never-seen
# opener (the held-out "Quick question:") reads as chatter to skip, not as a sign of an off-world text.
# None of their words is a held-out word (tests/test_language.py).
CHATTER_WORDS = ("hmm", "well", "now", "alright", "right", "next", "then", "also", "ok", "okay", "look", "listen",
                 "great", "cool", "nice", "fine", "wait", "one more", "and now", "just curious", "i wonder",
                 "help me", "let me ask", "another one", "tell me", "dear model", "my friend", "be honest",
                 "if you can", "no rush", "for the record", "last one", "first", "lastly", "actually")
CHATTER_RATE = 0.35  # share of training questions that get one or two openers
MADE_UP_OPENER_RATE = 0.45  # share of openers that are one or two made-up words ("Brost quelm: "), not chatter
# Made-up words with consonant clusters, so that an unseen opener cut by the tokenizer into small pieces
# ("Q", "u", "i", "ck") reads as one more such opener: an opener never changes what a question asks.
_ONSETS = ("b", "br", "bl", "ch", "cr", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "kl", "l", "m", "n",
           "p", "pl", "pr", "qu", "r", "s", "sh", "sk", "sl", "sn", "sp", "st", "t", "th", "tr", "v", "w", "wh", "z")
_NUCLEI = ("a", "e", "i", "o", "u", "ee", "oo", "ai", "ea", "ou")
_CODAS = ("", "ck", "st", "n", "nd", "r", "rk", "sh", "t", "x", "ng", "m", "lm", "p", "ft")
# Noise laid over training questions, so that the model reads a question by its content words, not by where
# they sit in a frame it has seen: a visitor's unseen frame is a seen one with words moved, added or missing.
NOISE_RATE = 0.35  # share of training questions that get noise
FILLERS = ("really", "exactly", "just", "maybe", "kindly", "actually", "um", "uh", "like", "hmm", "well", "now",
           "then", "again", "dear", "friend", "buddy", "honestly", "basically", "here", "simply", "perhaps")
# Rewordings of a whole training question: where the thing is sought ("... in this picture?") and how it is seen
# ("can you spot"). A visitor's unseen frame is often a seen one with such a tail or verb.
REPHRASE_RATE = 0.3  # share of training questions reworded before any noise
PLACE_TAILS = (" in the picture", " in the image", " in this picture", " in this image", " here", " on the image")
SEEING = ("do you see", "can you see", "do you spot", "can you spot", "do you notice", "can you find")
DROPPABLE = ("the", "is", "are", "a", "an", "of", "do", "there")  # words a hurried visitor leaves out
CONTRACTIONS = (("what is", "what's"), ("where is", "where's"), ("it is", "it's"), ("that is", "that's"))
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
# The world's words that a made-up word must not be: it would change the question ("cake", "five").
RESERVED = frozenset((*W.WORDS, *W.COLOR_NAMES, *W.SHAPES, *NUMBER_WORDS))

# The evaluation's canonical categories, with the kinds of question each covers.
KINDS_OF_CATEGORY = {
    "describe": ("describe",), "count": ("count_all", "count_shape", "count_color"), "exists": ("exists",),
    "attribute": ("color_of_shape", "shape_of_color", "color_at", "shape_at", "object_at", "size"),
    "position": ("position", "position_of_shape"),
    "ocr": ("ocr_read", "ocr_row", "ocr_count"),
    "chart": ("chart_value", "chart_tallest", "chart_shortest", "chart_describe"), "structured": ("structured",),
}


def frames(kind: str, split: str) -> list[str]:
    if kind not in FRAMES:
        raise ValueError(f"kind must be one of {', '.join(FRAMES)}, got {kind!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return FRAMES[kind][split]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def fill(frame: str, **slots: str) -> str:
    """`frame` with its slots filled; {a} agrees with the colour that follows it."""
    if "color" in slots:
        slots.setdefault("a", _article(slots["color"]))
    if "shape" in slots:
        slots.setdefault("shapes", slots["shape"] + "s")
    return frame.format(**slots)


def style(text: str, rng: random.Random, split: str = "train") -> str:
    """A visitor's surface over a question: prefix, suffix, case, final punctuation, spelling."""
    prefix = rng.choice(PREFIXES[split])
    if split == "train" and rng.random() < CHATTER_RATE:
        prefix = chatter(rng)
    if split == "train" and rng.random() < REPHRASE_RATE:
        text = rephrase(text, rng)
    if split == "train" and rng.random() < NOISE_RATE:
        text = noise(text, rng)
    if prefix and not prefix.endswith(": "):
        text = text[0].lower() + text[1:]
    body = text
    suffix = rng.choice(SUFFIXES[split])
    if suffix and body[-1] in "?.":
        body = body[:-1] + suffix + body[-1]
    out = prefix + body
    r = rng.random()
    if r < 0.25:
        out = out.lower()
    if rng.random() < 0.2 and out[-1] in "?.":
        out = out[:-1]
    if rng.random() < 0.3:
        out = re.sub(r"\bcolor\b", "colour", out)
    return out


def pseudo_word(rng: random.Random) -> str:
    """A made-up word of two or three syllables ("tavoki"): the model must learn to read past unknown words.
    Never one of the world's words (RESERVED), nor a word only held-out texts have ("mona")."""
    while True:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
        if word not in RESERVED and word not in heldout_vocabulary():
            return word


def made_up_word(rng: random.Random) -> str:
    """A made-up word: syllables ("tavoki") or clustered ("brost", "quelm"). Never a world word (RESERVED) nor a
    word only held-out questions or replies have (`heldout_vocabulary`)."""
    while True:
        if rng.random() < 0.5:
            word = pseudo_word(rng)
        else:
            word = "".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) + rng.choice(_CODAS)
                           for _ in range(rng.randint(1, 2)))
        if word not in RESERVED and word not in heldout_vocabulary():
            return word


def rephrase(text: str, rng: random.Random) -> str:
    """`text` with its verb of seeing swapped, or a place tail put before its final mark ("How many stars?" ->
    "How many stars in this picture?"); a result that reads like a held-out frame is refused (the original
    comes back)."""
    lower = text.lower()
    verb = next((v for v in SEEING if v in lower), None)
    if verb is not None and rng.random() < 0.5:
        out = re.sub(re.escape(verb), rng.choice([v for v in SEEING if v != verb]), text, count=1, flags=re.I)
        out = (out[0].upper() + out[1:]) if text[:1].isupper() else out
    elif re.search(r"\b(in|on) (the|this) (image|picture)\b|\bhere\b", lower):
        return text
    else:
        body, mark = (text[:-1], text[-1]) if text[-1:] in "?." else (text, "")
        out = body + rng.choice(PLACE_TAILS) + mark
    return text if matches_heldout(out) else out


def noise(text: str, rng: random.Random) -> str:
    """`text` with one or two filler or made-up words inserted, some small words dropped, and a contraction
    made or undone; a result that reads like a held-out frame is refused (the original comes back)."""
    words = text.split(" ")
    for _ in range(rng.randint(1, 2)):
        word = rng.choice(FILLERS) if rng.random() < 0.5 else pseudo_word(rng)
        words.insert(rng.randint(0, len(words)), word)
    words = [w for w in words if not (w.lower() in DROPPABLE and rng.random() < 0.2)]
    out = " ".join(words)  # never empty: the inserted words are not droppable
    for full, short in CONTRACTIONS:
        if rng.random() < 0.5:
            out = re.sub(rf"\b{full}\b", short, out, flags=re.I) if full in out.lower() else re.sub(
                rf"\b{re.escape(short)}\b", full, out, flags=re.I)
    if text[:1].isupper():
        out = out[0].upper() + out[1:]
    return text if matches_heldout(out) else out


def _normal(text: str) -> str:
    """Lower case, British spelling undone, any prefix and "please" removed, only letters, digits and spaces."""
    text = re.sub(r"\bcolour\b", "color", text.lower())
    for prefix in PREFIXES["train"] + PREFIXES["heldout"]:
        if prefix and text.startswith(prefix.lower()):
            text = text[len(prefix):]
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]", "", text.replace(" please", ""))).strip()


def _heldout_patterns() -> list[re.Pattern]:
    pats = []
    for kind in FRAMES:
        for frame in FRAMES[kind]["heldout"]:
            body = _normal(re.sub(r"\{\w+\}", "slotx", frame))  # a slot survives _normal's lower case
            pats.append(re.compile("^" + re.escape(body).replace("slotx", "[a-z0-9 ]+?") + "$"))
    return pats


_HELDOUT = _heldout_patterns()


def matches_heldout(question: str) -> bool:
    """Whether a question reads as one of the held-out frames (any slot values, prefix, case, punctuation)."""
    return any(p.match(_normal(question)) for p in _HELDOUT)


def chatter(rng: random.Random) -> str:
    """One or two training openers, each closed by a comma or a colon: "Hmm, one more: ", "Brost quelm: "."""
    words = [" ".join(made_up_word(rng) for _ in range(rng.randint(1, 2))) if rng.random() < MADE_UP_OPENER_RATE
             else rng.choice(CHATTER_WORDS) for _ in range(rng.randint(1, 2))]
    return "".join(w[0].upper() + w[1:] + rng.choice((", ", ": ", ", ")) for w in words)


def phrase(kind: str, rng: random.Random, split: str = "train", styled: bool = True, **slots: str) -> str:
    """One phrasing of a question of `kind`, drawn from `split`'s frames and styles."""
    frame = rng.choice(frames(kind, split))
    if VERB_SLOT in frame:
        slots = {**slots, "verb": made_up_word(rng)}
    text = fill(frame, **slots)
    if frame.startswith(VERB_SLOT):
        text = text[0].upper() + text[1:]
    return style(text, rng, split) if styled else text


def words_of(texts) -> set[str]:
    return {w for t in texts for w in re.findall(r"[a-z']+", t.lower())}


@functools.lru_cache(maxsize=1)
def heldout_vocabulary() -> frozenset:
    """Every word that only held-out texts have: question frames and prefixes, and replies' held-out texts."""
    from . import replies  # replies builds on this module; by the first call both are loaded

    return frozenset(heldout_words() | replies.heldout_only_words())


def training_words() -> set[str]:
    """Every word of a training question frame, prefix, suffix or opener."""
    return words_of(f for k in FRAMES for f in FRAMES[k]["train"]) | words_of(
        PREFIXES["train"] + SUFFIXES["train"] + CHATTER_WORDS)


def heldout_words() -> set[str]:
    """Words that appear only in held-out frames or prefixes (never in a training question)."""
    held = words_of(f for k in FRAMES for f in FRAMES[k]["heldout"]) | words_of(PREFIXES["heldout"])
    return held - training_words()
