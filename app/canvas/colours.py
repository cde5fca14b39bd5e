"""The studio's colour scales: confidence (as a probability, whatever the algorithm's score) and commit step.

Owns mapping an algorithm's confidence score onto [0, 1] (a probability,
a margin, or a negative entropy), the colour of a confidence and of a step,
and the CSS ramps the legend draws. It knows nothing of HTML beyond a colour.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

_STEP_RAMP = ["#30123b", "#4145ab", "#4675ed", "#39a2fc", "#1bcfd4", "#24eca6", "#61fc6c", "#a4fc3b", "#d1e834", "#f3c63a"]


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
