"""Draw a canvas frame as HTML: the live response canvas and the finished answer.

Owns the visual language of the studio: how a masked slot, a token committed
in this step (coloured by its confidence), an earlier token, a structure-prior
(locked) token and an end/padding token look; the legend; the badges of the
head; the hover titles (step, confidence and the top alternatives); the
answer coloured by the step that committed each token. Each frame also
carries its step's narration and ghosts: still-masked slots show the model's
best guess, scored slots a confidence bar against the threshold (their look is
app/canvas/ghost.py's; a canvas of DENSE_FROM positions or more is drawn
lean, one element per slot, app/canvas/dense.py).

It draws the records of app/canvas/frames.py (which slot shows what, and
why); it does not read the Trajectory's steps, and knows nothing of
tokenizers, tensors or Gradio. Every function returns a self-contained HTML
string; the CSS lives in CANVAS_CSS (app/static/canvas.css and the parts it
names; installed on the HTML components).
"""
from __future__ import annotations

import html
from typing import Optional

from . import blocks as block_view, dense as dense_view, frames
from .. import static
from .colours import declarations, confidence_colour, confidence_ramp_css, confidence_unit, step_colour, step_ramp_css
from .frames import MASK_GLYPH, token_label
from .ghost import bar, ghost_slot, narration_line, tokens_open

ALG_LABEL = {
    "maskgit_plus": "probability",
    "topk_margin": "top1-top2 margin",
    "entropy": "exp(-entropy)",
    "origin": "probability",
    "autoregressive": "probability",
}

# The canvas's stylesheet (app/static/), its colours from the table (colours.declarations: on the component's root)
CANVAS_CSS = declarations() + static.joined("canvas.css", "ghost.css", "dense.css", "blocks.css")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _alt_text(alternatives) -> str:
    return " | ".join(f"{text!r} {prob:.2f}" for text, prob in alternatives[:5])


_BEFORE = {  # the hover title of a position no commit of this decode wrote, by where its token came from
    "chosen": "chosen by a person before this branch (never changed)",
    "template": "fixed by the structure prior (never changed)",
    "carried": "carried over from the run this branch started from",
    "padded": "padded after the end of the answer, without a forward pass",
    "masked": "masked",
}


def _title(slot, alg: str, alternatives: bool = True) -> str:
    """A slot's hover title: where its token came from, or the step, score and alternatives of its commit."""
    commit = slot.commit
    if slot.origin in _BEFORE:
        return f"position {slot.pos} - {_BEFORE[slot.origin]}"
    text = f"position {slot.pos} - committed at step {commit.step + 1}"
    if commit.confidence is not None:
        text += f" - {ALG_LABEL.get(alg, 'confidence')} {commit.confidence:.3f}"
    text += " (schedule fallback)" if commit.fallback else ""
    if alternatives and commit.alternatives:
        text += " - top: " + _alt_text(commit.alternatives)
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
DENSE_FROM = 256  # canvases this long draw lean slots (app/canvas/dense.py): the 7B's 1,024 stay usable


def _ghost_piece(slot, f, live: bool) -> str:
    """A masked slot the frame's step scored: its best guess, faded, over its confidence bar."""
    guess = slot.guess
    title = "" if live else (f"position {slot.pos} - masked - best guess {guess.text!r}, "
                             f"{ALG_LABEL.get(f.alg, 'confidence')} {guess.confidence:.3f} "
                             f"(threshold {f.threshold:.2f}) - click to inspect")
    return ghost_slot(slot.pos, guess.label, title, confidence_unit(guess.confidence, f.alg), guess.above)


def _mask_piece(slot, f, live: bool) -> str:
    piece = (_ghost_piece(slot, f, live) if slot.guess is not None else
             f'<span class="dm-tok dm-mask" data-pos="{slot.pos}" title="position {slot.pos} - masked">'
             f'{slot.label}</span>')
    if slot.active:  # the block being decoded: underlined
        piece = piece.replace('class="dm-tok dm-mask', 'class="dm-tok dm-in-active dm-mask', 1)
    return piece


_TOKEN_CLASS = {"lock": "dm-tok dm-lock", "new": "dm-tok dm-new", "end": "dm-tok dm-end", "old": "dm-tok dm-old"}


def _token_piece(slot, f, live: bool) -> str:
    """A written slot; one committed this step shows its confidence as its colour and the step's bar."""
    cls = _TOKEN_CLASS[slot.kind] + (" dm-end" if slot.end and slot.kind in ("lock", "new") else "")
    style = extra = ""
    if slot.kind == "new" and not slot.end:
        style = f' style="background:{confidence_colour(confidence_unit(slot.commit.confidence, f.alg))}"'
    if slot.kind == "new" and slot.guess is not None:
        extra = bar(confidence_unit(slot.guess.confidence, f.alg), slot.guess.above)
    hover = _esc(_title(slot, f.alg, alternatives=not live))  # live frames: lighter titles
    return f'<span class="{cls}"{style} data-pos="{slot.pos}" title="{hover}">{_esc(slot.label)}{extra}</span>'


def _canvas_pieces(f, live: bool) -> list[str]:
    """One span per position, a block's edge before its first, a line break after a newline token."""
    pieces = []
    for slot in f.slots:
        if slot.edge:
            pieces.append(block_view.edge(f.badges.blocks, slot.block))
        pieces.append(_mask_piece(slot, f, live) if slot.kind == "mask" else _token_piece(slot, f, live))
        if slot.newline:
            pieces.append("<br>")
    return pieces


_STATE_BADGE = {
    "done": '<span class="dm-badge dm-done">done</span>',
    "stopped": '<span class="dm-badge dm-warn">stopped</span>',
    "decoding": '<span class="dm-badge">decoding\u2026</span>',
    "": "",
}


def canvas_head(badges, title: str = "") -> str:
    """The badges (app/canvas/frames.py's record): step counter, masked count, this step's commits, the
    block being decoded and the run's state."""
    max_steps = f" / max {badges.max_steps}" if badges.max_steps else ""
    head = [f'<span class="dm-badge dm-step">step {badges.step}{max_steps}</span>',
            f'<span class="dm-badge">{badges.masked} masked</span>']
    if badges.commits is not None:
        head.append(f'<span class="dm-badge">+{badges.commits} this step</span>')
        if badges.fallback:
            head.append('<span class="dm-badge dm-warn" title="no masked position passed the threshold; '
                        'the schedule chose the top-k">fallback</span>')
    if badges.blocks:
        head.append(block_view.badge(badges.blocks, badges.active_block))
    head.append(_STATE_BADGE[badges.state])
    if title:
        head.insert(0, f"<b>{_esc(title)}</b>")
    return "".join(head)


def render_canvas(traj, n_steps: Optional[int] = None, *, title: str = "", live: bool = False) -> str:
    """The response canvas after `n_steps` iterations (default: all recorded so far)."""
    if traj is None:
        return empty_canvas()
    f = frames.frame(traj, n_steps, live=live)
    thr = confidence_unit(f.threshold, f.alg)
    if len(f.slots) >= DENSE_FROM:
        box = dense_view.tokens(f.step, thr, dense_view.slots(f))
    else:
        box = tokens_open(f.step, thr) + "".join(_canvas_pieces(f, live))
    return card(canvas_head(f.badges, title), narration_line(f.narration), box)


def card(head: str, narration: str, box: str) -> str:
    """The canvas card around an opened token box (its slots already in it, or none yet)."""
    return f'<div class="dm-card"><div class="dm-head">{head}</div>{narration}{box}</div>{legend_html()}</div>'


def _answer_piece(slot, alg: str, n_steps: int) -> str:
    """An answer token, coloured by the step that committed it (the answer's labels read no "pad" by place)."""
    label, hover = _esc(token_label(slot.text, slot.end)), _esc(_title(slot, alg))
    if slot.kind == "lock":
        return f'<span class="dm-tok dm-lock" title="{hover}">{label}</span>'
    if slot.end or slot.commit is None:
        return f'<span class="dm-tok dm-end" title="{hover}">{label}</span>'
    bg, fg = step_colour(slot.commit.step, n_steps)
    return f'<span class="dm-tok" style="background:{bg};color:{fg}" title="{hover}">{label}</span>'


def render_answer(traj, *, title: str = "Answer by commit step") -> str:
    """The finished answer, each token coloured by the step that committed it (hover for details)."""
    if traj is None or not traj.steps:
        return empty_canvas("The answer, coloured by the step that committed each token, appears here.")
    f = frames.frame(traj)
    stop = min(traj.answer_end + 1, traj.length)  # include the end token, then stop
    pieces = [_answer_piece(slot, f.alg, max(traj.nfe, 1)) for slot in f.slots[:stop]]
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
