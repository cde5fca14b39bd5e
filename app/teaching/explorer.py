"""The threshold explorer's table: one row per threshold, its forward passes and its answer.

Owns drawing a sweep (`dimple.explore.Exploration.to_dict`'s JSON) as HTML:
thresholds from low to high, a bar of the forward passes each needed, the
answer, a mark where the answer changes from the row below it and a warning
where it differs from the schedule-only reference (threshold off), which is
shown first; plus the sweep's wall time; and parsing the thresholds a person
types ("0.05, 0.1, 0.5-0.9 step 0.1" is not supported: a comma list). It reads
JSON only; no model, no Gradio.
"""

from __future__ import annotations

import html

from dimple.explore import DEFAULT_THRESHOLDS, check_thresholds

DEFAULT_TEXT = ", ".join(f"{t:g}" for t in DEFAULT_THRESHOLDS)


def parse_thresholds(text) -> list[float]:
    """'0.05, 0.1, 0.9' (or a list of numbers, or empty for the default sweep) -> sorted thresholds; ValueError."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return list(DEFAULT_THRESHOLDS)
    if isinstance(text, str):
        values = []
        for part in text.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            try:
                values.append(float(part))
            except ValueError:
                raise ValueError(f"thresholds: {part!r} is not a number; give a comma list such as "
                                 f"{DEFAULT_TEXT}") from None
        text = values
    return check_thresholds(text)


def empty_explorer() -> str:
    return ('<div class="dm-card dm-explore"><div class="dm-empty">One click decodes the current question at '
            "every threshold below (in one batch) and with the threshold off, and shows the forward passes and "
            "the answer of each.</div></div>")


def _row(r: dict, widest: int, reference: bool = False) -> str:
    label = "off (schedule)" if reference else f"{r['threshold']:.2f}"
    marks = []
    if r.get("changed") and not reference:
        marks.append("answer changes here")
    if r.get("differs_from_reference") and not reference:
        marks.append('<span class="dm-differs">differs from the schedule-only answer</span>')
    cls = ' class="dm-changed"' if r.get("changed") and not reference else ""
    width = 120 * r["nfe"] / max(widest, 1)
    return (f'<tr{cls}><td>{label}</td><td><span class="dm-nfe" style="width:{width:.0f}px"></span> {r["nfe"]}</td>'
            f'<td>{r["tokens_per_forward"]:.2f}</td><td>{html.escape(r["text"]) or "<i>(empty)</i>"}</td>'
            f'<td>{" · ".join(marks)}</td></tr>')


def render_explorer(result: dict) -> str:
    """The sweep's table: the reference first, then the thresholds in ascending order."""
    rows, ref = result["rows"], result["reference"]
    widest = max([ref["nfe"]] + [r["nfe"] for r in rows])
    body = _row(ref, widest, reference=True) + "".join(_row(r, widest) for r in rows)
    changes = sum(1 for r in rows if r["changed"])
    differ = sum(1 for r in rows if r["differs_from_reference"])
    head = (f'<div class="dm-head"><span class="dm-badge">{len(rows)} thresholds + off</span>'
            f'<span class="dm-badge" id="dm-explore-time">{result["seconds"]:.2f} s</span>'
            f'<span class="dm-badge">{changes} change(s)</span>'
            f'<span class="dm-badge{" dm-warn" if differ else " dm-done"}">{differ} differ from the schedule</span></div>')
    return (f'<div class="dm-card dm-explore">{head}<table><tr><th>threshold</th><th>forward passes</th>'
            f'<th>tokens / forward</th><th>answer</th><th></th></tr>{body}</table></div>')
