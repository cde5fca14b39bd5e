"""The small panels beside the canvas: the run's numbers, the structure-prior preview, an error line.

Owns how the stats cards (tokens up to the end of the answer, forward passes,
tokens per forward, prefill against denoising time), the template preview
(fixed tokens and slots, length, warnings) and a refusal look. It reads the
Trajectory's summary and a template's pieces; the canvas itself is render.py's.
"""

from __future__ import annotations

from typing import Optional

import html

from .frames import MASK_GLYPH, token_label


# ----- numbers ----------------------------------------------------------------
def _fmt_s(x: Optional[float]) -> str:
    if x is None:
        return "-"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def render_stats(traj, *, label: str = "") -> str:
    """Honest numbers: tokens up to the end of the answer, NFE, tokens/forward, prefill vs denoise, latency."""
    if traj is None or not traj.steps:
        return '<div class="dm-note">Numbers for the run appear here.</div>'
    s = traj.summary()  # counts only committed tokens, so a stopped run is honest too
    tps = s["tokens_per_s"]
    cards = [
        (str(s["tokens"]), "tokens generated"),
        (str(s["nfe"]), "forward passes (NFE)"),
        (f"{s['tokens_per_forward']:.2f}", "tokens / forward"),
        (_fmt_s(s["prefill_s"]), "first pass (prefill)"),
        (_fmt_s(s["denoise_s"]), "denoising"),
        (_fmt_s(s["latency_s"]), "latency"),
        ("-" if tps is None else f"{tps:.1f}", "tokens / s"),
        (str(s["fallback_steps"]), "fallback steps"),
    ]
    body = "".join(f'<div class="dm-stat"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>' for v, k in cards)
    cfg = traj.config or {}
    desc = []
    if cfg:
        thr = cfg.get("alg_p_threshold")
        desc.append(f"threshold {thr:g}" if thr else "threshold off")
        desc.append("prefilling on" if cfg.get("prefill") else "prefilling off")
        desc.append(f"alg {cfg.get('alg')}")
        desc.append(f"canvas {traj.length}")
    prefix = f"<b>{html.escape(label)}</b> - " if label else ""
    note = (f'<div class="dm-note">{prefix}{html.escape(", ".join(desc))}. Tokens are counted up to and including '
            "the end of the answer, fixed template tokens excluded"
            + ("; stopped early" if traj.stopped else "") + ".</div>")
    return f'<div class="dm-stats">{body}</div>{note}'


# ----- the structure-prior preview --------------------------------------------
def render_preview(pieces, length: int, limit: int, warnings=()) -> str:
    """Template preview: fixed tokens (locked style) and mask slots, total length and warnings."""
    spans = []
    for text, fixed in pieces:
        if fixed:
            spans.append(f'<span class="dm-tok dm-lock">{html.escape(token_label(text))}</span>')
        else:
            spans.append(f'<span class="dm-tok dm-mask">{MASK_GLYPH}</span>')
    n_fixed = sum(1 for _, f in pieces if f)
    head = (f'<div class="dm-head"><span class="dm-badge">{length} tokens</span>'
            f'<span class="dm-badge">{n_fixed} fixed</span><span class="dm-badge">{length - n_fixed} to fill</span>'
            f'<span class="dm-badge">limit {limit}</span></div>')
    warn = "".join(f"<div>\u26a0 {html.escape(w)}</div>" for w in warnings)
    warn_html = f'<div class="dm-warnings">{warn}</div>' if warn else ""
    return f'<div class="dm-card dm-preview">{head}<div class="dm-tokens">{"".join(spans)}</div>{warn_html}</div>'


def render_error(message: str) -> str:
    return f'<div class="dm-error">\u26a0 {html.escape(message)}</div>'
