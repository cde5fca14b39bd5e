"""Draw a Trajectory as HTML: the live response canvas and the finished answer.

Owns the visual language of the studio: how a masked slot, a token committed
in this step (coloured by its confidence), an earlier token, a structure-prior
(locked) token and an end/padding token look; the legend; the step counter;
the answer coloured by the step that committed each token, with hover titles
giving step, confidence and the top alternatives. Also the small stats cards.
On the canvas each frame also carries its step's narration (app/narration.py)
and ghosts: still-masked slots show the model's best guess, scored slots a
confidence bar against the threshold (their look is app/ghost_view.py's; a canvas of
DENSE_FROM positions or more is drawn lean, one element per slot, app/dense_view.py).

It reads only the Trajectory record (and its `token_text`); it knows nothing of
tokenizers, tensors or Gradio. Every function returns a self-contained HTML
string; the CSS lives in CANVAS_CSS (installed on the HTML components).
"""

from __future__ import annotations

import html
from typing import Container, Optional

from . import blocks as block_view, dense as dense_view
from .ghost import GHOST_CSS, bar, ghost_slot, narration_line, tokens_open
from .colours import confidence_colour, confidence_ramp_css, confidence_unit, step_colour, step_ramp_css
from .narration import narrate
from dimple.ghosts import ghosts_at, threshold_of

MASK_GLYPH = "\u2591\u2591"  # the look of a masked slot
ALG_LABEL = {
    "maskgit_plus": "probability",
    "topk_margin": "top1-top2 margin",
    "entropy": "exp(-entropy)",
    "origin": "probability",
    "autoregressive": "probability",
}

CANVAS_CSS = """
.dm-card { font-family: ui-sans-serif, system-ui, sans-serif; background: #fbfbfd; border: 1px solid #e3e5ec;
  border-radius: 12px; padding: 12px 14px; color: #1f2330; }
.dm-head { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 8px; font-size: 13px; color: #4b5160; }
.dm-badge { background: #eef0f6; border-radius: 999px; padding: 2px 10px; font-weight: 600; color: #2b3140; }
.dm-badge.dm-step { background: #3b4cca; color: #fff; }
.dm-badge.dm-warn { background: #ffe8c2; color: #8a4b00; }
.dm-badge.dm-done { background: #d7f5e3; color: #106b3a; }
.dm-tokens { line-height: 2.1; font-size: 17px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.dm-tok { display: inline-block; padding: 0 3px; margin: 1px 1px; border-radius: 5px; white-space: pre;
  border: 1px solid transparent; min-width: 0.6em; text-align: center; vertical-align: middle; line-height: 1.6; }
.dm-mask { background: #e6e8ef; color: #9aa0b2; border: 1px dashed #b9bfd0; letter-spacing: -2px; }
.dm-new { color: #101010; font-weight: 700; border: 1px solid #3b3b3b55; box-shadow: 0 0 0 2px #ffffffaa inset; }
.dm-old { background: #ffffff; color: #30343f; border: 1px solid #dfe2ea; }
.dm-lock { background: #e9e3ff; color: #4a2fb3; border: 1px solid #b6a6f5; font-weight: 600; }
.dm-end { background: #f1f1f1; color: #9a9a9a; border: 1px dotted #c9c9c9; font-size: 12px; font-style: italic; }
.dm-end.dm-new { outline: 2px solid #3b4cca55; }
.dm-legend { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 10px; font-size: 12px; color: #5a6070; align-items: center; }
.dm-legend .dm-tok { font-size: 12px; line-height: 1.4; }
.dm-li { display: inline-flex; gap: 5px; align-items: center; white-space: nowrap; }
.dm-ramp { display: inline-block; width: 90px; height: 12px; border-radius: 4px; vertical-align: middle; }
.dm-empty { color: #8a90a0; font-style: italic; padding: 18px 4px; }
.dm-stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(110px, 1fr)); gap: 8px; }
.dm-stat { background: #fbfbfd; border: 1px solid #e3e5ec; border-radius: 10px; padding: 8px 10px; }
.dm-stat b { display: block; font-size: 20px; color: #1f2330; font-family: ui-sans-serif, system-ui, sans-serif; }
.dm-stat span { font-size: 11px; color: #6a7080; text-transform: uppercase; letter-spacing: .04em; }
.dm-note { font-size: 12px; color: #6a7080; margin-top: 6px; }
.dm-preview .dm-tok { font-size: 14px; }
.dm-error { color: #b00020; background: #fff0f2; border: 1px solid #f3b8c2; border-radius: 8px; padding: 6px 10px; font-size: 13px; }
.dm-warnings { color: #8a4b00; font-size: 12px; margin-top: 4px; }
""" + GHOST_CSS + dense_view.DENSE_CSS + block_view.BLOCK_CSS

# A perceptual sequential ramp (dark blue -> teal -> yellow), used for "which step committed this".
def token_label(text: Optional[str], is_end: bool = False, after_end: bool = False) -> str:
    """Visible text of a token: whitespace made visible, special tokens shortened.

    End-of-answer tokens read "end"; those after the answer's first end token read "pad".
    """
    if text is None:
        return "?"
    if is_end:
        return "pad" if after_end or "pad" in text.lower() else "end"
    if text.startswith("<|") and text.endswith("|>") and len(text) > 4:
        inner = text[2:-2].lower()
        return "pad" if "pad" in inner else "end" if "end" in inner else text[2:-2]
    if text == "":
        return "\u2205"
    if text.strip() == "":
        return text.replace("\n", "\u21b5").replace("\t", "\u21e5") or " "
    return text.replace("\n", "\u21b5")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _alt_text(traj, alts) -> str:
    parts = []
    for tok, prob in alts[:5]:
        parts.append(f"{traj.token_text.get(tok, f'<{tok}>')!r} {prob:.2f}")
    return " | ".join(parts)


class _Index:
    """Per-position lookups (commit step, confidence, alternatives) built once per trajectory length."""

    def __init__(self, traj):
        n = traj.length
        self.step: list[Optional[int]] = [None] * n
        self.conf: list[Optional[float]] = [None] * n
        self.alts: list[list] = [[] for _ in range(n)]
        self.fallback: list[bool] = [False] * n
        for s in traj.steps:
            for j, pos in enumerate(s.positions):
                self.step[pos] = s.index
                self.conf[pos] = s.confidences[j] if j < len(s.confidences) else None
                self.alts[pos] = s.alternatives[j] if j < len(s.alternatives) else []
                self.fallback[pos] = s.fallback


def _title(traj, idx: _Index, pos: int, alg: str, alternatives: bool = True) -> str:
    step = idx.step[pos]
    if pos in traj.chosen:
        return f"position {pos} - chosen by a person before this branch (never changed)"
    if traj.fixed[pos]:
        return f"position {pos} - fixed by the structure prior (never changed)"
    if step is None:
        carried = traj.canvas[pos] != traj.mask_token_id
        return f"position {pos} - " + ("carried over from the run this branch started from" if carried else "masked")
    text = f"position {pos} - committed at step {step + 1}"
    if idx.conf[pos] is not None:
        text += f" - {ALG_LABEL.get(alg, 'confidence')} {idx.conf[pos]:.3f}"
    text += " (schedule fallback)" if idx.fallback[pos] else ""
    if alternatives and idx.alts[pos]:
        text += " - top: " + _alt_text(traj, idx.alts[pos])
    return text


def _item(swatch: str, label: str) -> str:
    return f'<span class="dm-li">{swatch}<span>{label}</span></span>'


def legend_html(kind: str = "canvas") -> str:
    if kind == "answer":
        return (
            '<div class="dm-legend">'
            + _item(f'<span class="dm-ramp" style="background:{step_ramp_css()}"></span>', "committed at step: first \u2192 last")
            + _item('<span class="dm-tok dm-lock">locked</span>', "structure prior")
            + _item('<span class="dm-tok dm-end">end</span>', "end of answer")
            + "<span>hover a token for its step, confidence and alternatives</span></div>"
        )
    return (
        '<div class="dm-legend">'
        + _item(f'<span class="dm-tok dm-mask">{MASK_GLYPH}</span>', "masked")
        + _item(f'<span class="dm-ramp" style="background:{confidence_ramp_css()}"></span>',
                "new this step, by confidence (low \u2192 high)")
        + _item('<span class="dm-tok dm-old">abc</span>', "earlier step")
        + _item('<span class="dm-tok dm-lock">abc</span>', "structure prior (locked)")
        + _item('<span class="dm-tok dm-end">end</span>', "end / padding")
        + _item('<span class="dm-tok dm-mask dm-ghost">red<i class="dm-bar" style="--c:60%"></i></span>',
                "masked: the model's best guess; bar = confidence, line = threshold; click a slot to inspect")
        + "</div>"
    )


# ----- the canvas -----------------------------------------------------------
def slot_kinds(traj, state: list[int], new: Container[int]) -> list[str]:
    """Per canvas position, what it shows: "lock" (fixed by the structure prior), "mask", "new" (one of the
    `new` positions, written this step), "end" (an end or padding token) or "old" (committed earlier)."""
    ends = set(traj.end_token_ids)
    kinds = []
    for pos, tok in enumerate(state):
        if traj.fixed[pos]:
            kinds.append("lock")
        elif tok == traj.mask_token_id:
            kinds.append("mask")
        else:
            kinds.append("new" if pos in new else "end" if tok in ends else "old")
    return kinds


def _slot_bar(ghost, alg: str, thr: float) -> str:
    """The confidence bar of a slot this frame's step scored ("" for the others)."""
    if ghost is None:
        return ""
    return bar(confidence_unit(ghost.confidence, alg), thr > 0 and ghost.confidence > thr)


DENSE_FROM = 256  # canvases this long draw lean slots (app/dense_view.py): the 7B's 1,024 stay usable


def _ghost_piece(traj, pos: int, ghost, alg: str, thr: float, live: bool) -> str:
    guess = traj.token_text.get(ghost.token)
    title = "" if live else (f"position {pos} - masked - best guess {guess!r}, {ALG_LABEL.get(alg, 'confidence')} "
                             f"{ghost.confidence:.3f} (threshold {thr:.2f}) - click to inspect")
    ends = set(traj.end_token_ids)
    return ghost_slot(pos, token_label(guess, ghost.token in ends), title, confidence_unit(ghost.confidence, alg),
                      thr > 0 and ghost.confidence > thr)


def commit_confidences(record) -> dict:
    """{position: confidence} of the positions a step committed (None where the record has no score)."""
    return {p: (record.confidences[j] if j < len(record.confidences) else None) for j, p in enumerate(record.positions)}


def seen_canvas(traj, record, state: list[int]) -> list[int]:
    """The canvas a step's forward pass saw: `state` (after the step) with the step's writes masked again."""
    before = list(state)
    for pos, _ in record.writes(traj.pad_token_id):
        before[pos] = traj.mask_token_id
    return before


def _frame(traj, n: int, state: list[int]) -> tuple[dict, dict]:
    """This frame's step: {position: confidence} of its commits, and the ghosts of the positions it scored
    (the best guess of those still masked, dimple.ghosts) on the canvas its forward saw."""
    if n <= 0:
        return {}, {}
    record = traj.steps[n - 1]
    return commit_confidences(record), ghosts_at(traj, n, seen_canvas(traj, record, state))


def _frame_context(traj, n: int, state: list[int]):
    """(end ids, new confidences, ghosts, threshold, first end position) that every slot of a frame reads."""
    ends = set(traj.end_token_ids)
    new_conf, ghosts = _frame(traj, n, state)
    first_end = next((i for i, t in enumerate(state) if t in ends), len(state))
    return ends, new_conf, ghosts, threshold_of(traj), first_end


def _canvas_pieces(traj, n: int, state: list[int], alg: str, live: bool) -> list[str]:
    """One span per position (and a line break after a newline token). Positions the frame's step scored
    carry its ghost: the best guess of those still masked, and a confidence bar under each."""
    idx = _Index(traj)
    ends, new_conf, ghosts, thr, first_end = _frame_context(traj, n, state)
    found = block_view.bounds(traj)
    edges, active = block_view.edges(found), block_view.active(found, state, traj.mask_token_id)
    live_block = range(*found[active]) if active is not None else range(0)
    pieces = []
    for pos, (tok, kind) in enumerate(zip(state, slot_kinds(traj, state, new_conf))):
        is_end, style = tok in ends, ""
        if pos in edges:
            pieces.append(edges[pos])
        if kind == "mask":
            ghost = ghosts.get(pos)
            piece = (_ghost_piece(traj, pos, ghost, alg, thr, live) if ghost is not None else
                     f'<span class="dm-tok dm-mask" data-pos="{pos}" title="position {pos} - masked">'
                     f'{MASK_GLYPH}</span>')
            if pos in live_block:  # the block being decoded: underlined
                piece = piece.replace('class="dm-tok dm-mask', 'class="dm-tok dm-in-active dm-mask', 1)
            pieces.append(piece)
            continue
        label = token_label(traj.token_text.get(tok), is_end, pos > first_end)
        cls = {"lock": "dm-tok dm-lock" + (" dm-end" if is_end else ""),
               "new": "dm-tok dm-new" + (" dm-end" if is_end else ""),
               "end": "dm-tok dm-end", "old": "dm-tok dm-old"}[kind]
        if kind == "new" and not is_end:
            style = f' style="background:{confidence_colour(confidence_unit(new_conf[pos], alg))}"'
        hover = _esc(_title(traj, idx, pos, alg, alternatives=not live))  # live frames: lighter titles
        extra = _slot_bar(ghosts.get(pos), alg, thr) if kind == "new" else ""
        pieces.append(f'<span class="{cls}"{style} data-pos="{pos}" title="{hover}">{_esc(label)}{extra}</span>')
        if "\n" in (traj.token_text.get(tok) or "") and tok != traj.mask_token_id:
            pieces.append("<br>")
    return pieces


def dense_slots(traj, n: int, state: list[int], alg: str) -> list[tuple[str, str, str]]:
    """A large canvas: one lean (class, label, style) per position (app/dense_view.py), no titles, no line
    breaks; drawn as HTML here or by the browser (app/canvas_client.py)."""
    ends, new_conf, ghosts, thr, first_end = _frame_context(traj, n, state)
    pieces = []
    for pos, (tok, kind) in enumerate(zip(state, slot_kinds(traj, state, new_conf))):
        ghost = ghosts.get(pos) if kind == "mask" else None
        if ghost is not None:
            unit = confidence_unit(ghost.confidence, alg)
            pieces.append(dense_view.slot("ghost", token_label(traj.token_text.get(ghost.token), ghost.token in ends),
                                          unit=unit, above=thr > 0 and ghost.confidence > thr))
        elif kind == "mask":
            pieces.append(dense_view.slot("mask", MASK_GLYPH))
        else:
            is_end = tok in ends
            bg = confidence_colour(confidence_unit(new_conf[pos], alg)) if kind == "new" and not is_end else ""
            pieces.append(dense_view.slot(kind, token_label(traj.token_text.get(tok), is_end, pos > first_end),
                                          end=is_end, background=bg))
    return pieces


def canvas_head(traj, n: int, state: list[int], title: str = "", live: bool = False) -> str:
    """The badges: step counter, masked count, this step's commits and the run's state."""
    this_step = traj.steps[n - 1] if n > 0 else None
    masked_left = sum(1 for i, t in enumerate(state) if t == traj.mask_token_id and not traj.fixed[i])
    max_steps = traj.config.get("steps")
    head = [f'<span class="dm-badge dm-step">step {n}' + (f" / max {max_steps}" if max_steps else "") + "</span>"]
    head.append(f'<span class="dm-badge">{masked_left} masked</span>')
    if this_step is not None:
        head.append(f'<span class="dm-badge">+{len(this_step.positions)} this step</span>')
        if this_step.fallback:
            head.append('<span class="dm-badge dm-warn" title="no masked position passed the threshold; '
                        'the schedule chose the top-k">fallback</span>')
    found = block_view.bounds(traj)
    if found:
        head.append(block_view.badge(found, block_view.active(found, state, traj.mask_token_id)))
    if masked_left == 0 and n > 0:
        head.append('<span class="dm-badge dm-done">done</span>')
    elif traj.stopped and n == len(traj.steps):
        head.append('<span class="dm-badge dm-warn">stopped</span>')
    elif live:
        head.append('<span class="dm-badge">decoding\u2026</span>')
    if title:
        head.insert(0, f"<b>{_esc(title)}</b>")
    return "".join(head)


def frame_at(traj, n_steps: Optional[int]) -> tuple[int, str, list[int]]:
    """(the step a frame shows, `n_steps` clamped to the record (None: the last), the confidence algorithm,
    the canvas after that step)."""
    total = len(traj.steps)
    n = total if n_steps is None else max(0, min(int(n_steps), total))
    return n, str(traj.config.get("alg", "maskgit_plus")), traj.state_at(n)


def render_canvas(traj, n_steps: Optional[int] = None, *, title: str = "", live: bool = False) -> str:
    """The response canvas after `n_steps` iterations (default: all recorded so far)."""
    if traj is None:
        return empty_canvas()
    n, alg, state = frame_at(traj, n_steps)
    thr = confidence_unit(threshold_of(traj), alg)
    if traj.length >= DENSE_FROM:
        box = dense_view.tokens(n, thr, dense_slots(traj, n, state, alg))
    else:
        box = tokens_open(n, thr) + "".join(_canvas_pieces(traj, n, state, alg, live))
    line = narration_line(narrate(traj, n))
    return card(canvas_head(traj, n, state, title, live), line, box)


def card(head: str, narration: str, box: str) -> str:
    """The canvas card around an opened token box (its slots already in it, or none yet)."""
    return f'<div class="dm-card"><div class="dm-head">{head}</div>{narration}{box}</div>{legend_html()}</div>'


def render_answer(traj, *, title: str = "Answer by commit step") -> str:
    """The finished answer, each token coloured by the step that committed it (hover for details)."""
    if traj is None or not traj.steps:
        return empty_canvas("The answer, coloured by the step that committed each token, appears here.")
    alg = str(traj.config.get("alg", "maskgit_plus"))
    idx = _Index(traj)
    final = traj.response_ids
    ends = set(traj.end_token_ids)
    stop = min(traj.answer_end + 1, traj.length)  # include the end token, then stop
    n_steps = max(traj.nfe, 1)
    pieces = []
    for pos in range(stop):
        tok = final[pos]
        is_end = tok in ends
        label = _esc(token_label(traj.token_text.get(tok), is_end))
        hover = _esc(_title(traj, idx, pos, alg))
        if traj.fixed[pos]:
            pieces.append(f'<span class="dm-tok dm-lock" title="{hover}">{label}</span>')
        elif is_end or idx.step[pos] is None:
            pieces.append(f'<span class="dm-tok dm-end" title="{hover}">{label}</span>')
        else:
            bg, fg = step_colour(idx.step[pos], n_steps)
            pieces.append(f'<span class="dm-tok" style="background:{bg};color:{fg}" title="{hover}">{label}</span>')
    hidden = traj.length - stop
    note = f'<div class="dm-note">{hidden} padding position(s) after the end are hidden.</div>' if hidden > 0 else ""
    head = (f'<div class="dm-head"><b>{_esc(title)}</b><span class="dm-badge">{traj.nfe} steps</span>'
            f'<span class="dm-badge">{traj.n_generated} tokens</span></div>')
    return f'<div class="dm-card">{head}<div class="dm-tokens">{"".join(pieces)}</div>{legend_html("answer")}{note}</div>'


def canvas_text(traj, n_steps: Optional[int] = None, mask: str = "\u2592") -> str:
    """Plain-text view of the canvas (for the chat bubble while decoding): masks as a shade glyph."""
    n = len(traj.steps) if n_steps is None else n_steps
    state = traj.state_at(n)
    ends = set(traj.end_token_ids)
    out = []
    for tok in state:
        if tok == traj.mask_token_id:
            out.append(mask)
        elif tok in ends:
            break
        else:
            out.append(traj.token_text.get(tok, ""))
    return "".join(out).strip()


def empty_canvas(message: str = "Ask a question: the response canvas starts as masked slots and fills in step by step.") -> str:
    return f'<div class="dm-card"><div class="dm-empty">{_esc(message)}</div>{legend_html()}</div>'
