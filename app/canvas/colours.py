"""The studio's colours: the one table of named colours, and the scales of confidence and commit step.

Owns every colour the studio shows: COLOURS (name -> hex), which the
stylesheets read as CSS custom properties `--dm-<name>` (`declarations`),
the browser's grid and the GIF read by name (`rgb`), and the plots by name;
mapping an algorithm's confidence score onto [0, 1] (a probability, a
margin, or a negative entropy), the colour of a confidence and of a step,
and the CSS ramps the legend draws. It knows nothing of HTML beyond a colour
and nothing of which element wears which colour (the stylesheets in
app/static/ and their readers decide that).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

# name -> colour. One entry per colour, named by its main use; the stylesheets say var(--dm-<name>).
COLOURS = {
    # text, darkest first
    "ink-strong": "#101010",     # a token committed this step
    "ink": "#1f2330",            # card text, numbers, a confidence bar's threshold line
    "ink-heading": "#2b3140",    # badges, a branch's answer text
    "ink-token": "#30343f",      # a token committed at an earlier step
    "ink-soft": "#4b5160",       # card heads, the "what it knows" card
    "ink-muted": "#5a6070",      # legends, the page's subtitle
    "ink-faint": "#6a7080",      # notes, stat labels, the GIF's legend
    "ink-empty": "#8a90a0",      # an empty card's message
    "ghost": "#8f95aa",          # a masked slot's best guess
    "mask-ink": "#9aa0b2",       # a masked slot's glyph, a bar below the threshold, the plots' reference lines
    "end-ink": "#9a9a9a",        # an end / padding token
    # surfaces and edges
    "white": "#ffffff",
    "white-glaze": "#ffffffaa",  # a fresh token's inner highlight
    "card": "#fbfbfd",           # a card's background (and the GIF's)
    "card-edge": "#e3e5ec",
    "rule": "#eceef4",           # table rows
    "badge": "#eef0f6",
    "narration": "#eef0fb",
    "track": "#dfe2ea",          # an earlier token's edge, a confidence bar's track
    "mask": "#e6e8ef",           # a masked slot
    "mask-edge": "#b9bfd0",
    "end": "#f1f1f1",            # an end / padding token
    "end-edge": "#c9c9c9",
    "new-edge": "#3b3b3b",       # the grid's and the GIF's edge of a fresh token
    "new-edge-soft": "#3b3b3b55",
    "plot-empty": "#f4f5f8",     # heatmap cells with no score
    "plot-dot": "#111111",       # heatmap: where a position was committed
    # indigo, the accent: the step badge, a picked slot, the plots' first series
    "accent": "#3b4cca",
    "accent-soft": "#3b4cca55",
    "accent-hover": "#3b4cca88",
    # violet: the structure prior (locked), the "what it knows" card, the lessons
    "lock": "#e9e3ff",
    "lock-ink": "#4a2fb3",
    "lock-edge": "#b6a6f5",
    "violet": "#7c6cf0",
    "violet-wash": "#f3f1ff",
    "violet-link": "#5b4bd6",
    "lesson": "#fbfaff",
    "lesson-rule": "#d8d4f5",
    "plot-lock": "#6a4bd8",      # heatmap: a locked position
    # green: confident, done, right, chosen
    "above": "#1f9d55",          # a bar above the threshold
    "done": "#d7f5e3",
    "done-ink": "#106b3a",
    "right": "#17803d",
    "engine": "#1f8a4c",         # the engine's choice when stepping by hand
    "pick": "#c9f2d9",           # a person's pick when stepping by hand
    "pick-ink": "#0d4f2a",
    "pick-edge": "#2ea868",
    # orange: blocks, warnings, edits, the plots' second series
    "block": "#f28e2b",
    "block-ink": "#b05a00",
    "block-badge": "#fde7d2",
    "warn": "#ffe8c2",
    "warn-ink": "#8a4b00",
    "edited": "#ffe2b8",
    "edited-ink": "#6b3a00",
    "edited-edge": "#f0a040",
    "wrong": "#b4441b",
    # red: errors and re-masking
    "error": "#b00020",
    "error-wash": "#fff0f2",
    "error-edge": "#f3b8c2",
    "remask": "#d04050",
    "unmask": "#ffe0e4",
    "unmask-ink": "#a0202e",
    # yellow: where two answers differ
    "diff": "#fff3a0",
    "diff-edge": "#d8b400",
}

_STEP_RAMP = ["#30123b", "#4145ab", "#4675ed", "#39a2fc", "#1bcfd4", "#24eca6", "#61fc6c", "#a4fc3b", "#d1e834", "#f3c63a"]


def declarations() -> str:
    """The table as CSS custom properties (`--dm-<name>: <colour>;`): put first in a component's css_template (they
    land on its root) or inside `:root { ... }` for the page."""
    return "".join(f"--dm-{name}: {colour}; " for name, colour in COLOURS.items()) + "\n"


def rgb(name: str) -> tuple[int, int, int]:
    """A table colour as (r, g, b) for drawing with PIL (an alpha channel is dropped)."""
    return _hex(COLOURS[name])


# ----- small helpers ---------------------------------------------------------
def as_probability(score: float, alg: str) -> float:
    """An algorithm's confidence score on the scale of a probability: `entropy` scores -entropy (<= 0), and
    exp maps it into (0, 1]; the other algorithms' scores (a probability, a top1-top2 margin) already are."""
    return math.exp(max(score, -50.0)) if alg == "entropy" else score


def confidence_unit(conf: Optional[float], alg: str = "maskgit_plus") -> float:
    """Map an algorithm's confidence score into [0, 1] for colouring."""
    if conf is None or not isinstance(conf, (int, float)) or math.isnan(conf):
        return 0.0
    return min(max(float(as_probability(conf, alg)), 0.0), 1.0)


def confidence_percents(confs, alg: str = "maskgit_plus") -> list[int]:
    """round(100 * confidence_unit(c, alg)) for many scores at once (a film holds ~150k of them)."""
    c = np.asarray(confs, dtype=np.float64)
    p = np.exp(np.maximum(c, -50.0)) if alg == "entropy" else c
    return np.rint(100 * np.clip(np.nan_to_num(p, nan=0.0), 0.0, 1.0)).astype(int).tolist()


def confidence_colour(unit: float) -> str:
    """Red (unsure) -> amber -> green (confident), pastel so the text stays readable."""
    hue = 4 + 126 * min(max(unit, 0.0), 1.0)
    return f"hsl({hue:.0f},78%,72%)"


def _hex(c: str) -> tuple[int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


def step_colour(step: int, n_steps: int) -> tuple[str, str]:
    """(background, text colour) for a token committed at `step` of `n_steps`."""
    frac = 0.0 if n_steps <= 1 else step / (n_steps - 1)
    x = frac * (len(_STEP_RAMP) - 1)
    i = min(int(x), len(_STEP_RAMP) - 2)
    t = x - i
    a, b = _hex(_STEP_RAMP[i]), _hex(_STEP_RAMP[i + 1])
    rgb = tuple(round(a[k] + (b[k] - a[k]) * t) for k in range(3))
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return "#%02x%02x%02x" % rgb, ("#ffffff" if luma < 140 else "#111111")


def step_ramp_css(n: int = 10) -> str:
    stops = ", ".join(step_colour(i, n)[0] for i in range(n))
    return f"linear-gradient(90deg, {stops})"


def confidence_ramp_css() -> str:
    return "linear-gradient(90deg, " + ", ".join(confidence_colour(u / 4) for u in range(5)) + ")"
