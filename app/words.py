"""Counts in the studio's sentences: "1 forward pass", "3 forward passes", "1 slot".

Owns the one rule for a count and its noun, so that no view writes "1 passes".
Every sentence the app builds with a number in it asks `count`; the lessons'
prose, written with "{n} passes" placeholders, goes through `agree`. What this
file does not know: which numbers a view shows, or any HTML.
"""

from __future__ import annotations

import re

def plural(noun: str) -> str:
    """"step" -> "steps", "forward pass" -> "forward passes" (the last word takes the plural)."""
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def inflect(n: int, noun: str) -> str:
    """The noun in the number `n` needs, without the number (for a sentence that styles the number itself)."""
    return noun if n == 1 else plural(noun)


def count(n: int, noun: str) -> str:
    """`n` and the noun in the number it needs: count(1, "forward pass") -> "1 forward pass"."""
    return f"{n} {inflect(n, noun)}"


# A count written into a fixed sentence: "{n} forward passes" or "{n} slot(s)" with n filled in.
_WRITTEN = re.compile(r"\b(\d+) (forward passes|passes|slot\(s\))")
_SINGULAR = {"forward passes": "forward pass", "passes": "pass", "slot(s)": "slot"}


def agree(sentence: str) -> str:
    """A sentence whose counts were filled into plural nouns, with each count and noun agreeing:
    "1 forward passes" -> "1 forward pass", "1 slot(s)" -> "1 slot", "3 slot(s)" -> "3 slots"."""
    def fix(m: re.Match) -> str:
        return count(int(m.group(1)), _SINGULAR[m.group(2)])
    return _WRITTEN.sub(fix, sentence)
