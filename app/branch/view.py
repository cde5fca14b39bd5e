"""Draw branching as HTML: the canvas being edited, a branch beside the run it came from, a manual step.

Owns the look of the Branch tab: the editor canvas (every position clickable,
`data-pos`; edited, locked, re-masked, carried and selected positions each in
their own style), the side-by-side comparison (both answers, both pass counts,
the positions where they differ highlighted in both) and the manual-stepping
canvas (the engine's choice outlined, the person's picks filled in, positions
to re-mask struck through). Its CSS is app/static/branch.css, installed with
app.render's CANVAS_CSS on the tab's HTML components.

It reads the Trajectory record, app.branch_state's Branches and a proposal's
plain fields (positions, candidates); nothing of Gradio or the model.
"""

from __future__ import annotations

import html

from ..canvas.frames import MASK_GLYPH, token_label
from ..words import count

LOCK = "\u2022"  # a locked token's mark (a glyph every monospace font has)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _label(traj, tok: int, ends: set, after_end: bool) -> str:
    return token_label(traj.token_text.get(tok), tok in ends, after_end)


def _span(pos: int, label: str, classes: str, title: str, clickable: bool = True) -> str:
    data = f' data-pos="{pos}"' if clickable else ""
    return f'<span class="dm-tok {classes}"{data} title="{_esc(title)}">{_esc(label)}</span>'


def editor_html(branches) -> str:
    """The canvas being edited: click a position to select it (then set, re-mask or lock it)."""
    if branches is None or not branches.editing:
        return ('<div class="dm-card"><div class="dm-empty">Pick a run and a replay step, then press '
                '"Edit this step".</div></div>')
    root, mask = branches.root, branches.root.mask_token_id
    ends, fixed = set(root.end_token_ids), branches.protected()
    first_end = next((i for i, t in enumerate(branches.canvas) if t in ends), len(branches.canvas))
    pieces = []
    for pos, tok in enumerate(branches.canvas):
        cls = "dm-bt"
        if tok == mask:
            label, cls, title = MASK_GLYPH, cls + " dm-mask", f"position {pos} - masked"
            cls += " dm-remasked" if pos in branches.remasked else ""
        else:
            label = _label(root, tok, ends, pos > first_end)
            kind = ("dm-lock" if pos in fixed else "dm-edited" if pos in branches.edited
                    else "dm-locked" if pos in branches.locked else "dm-end" if tok in ends else "dm-old")
            label = (LOCK + label) if pos in branches.locked else label
            cls, title = f"{cls} {kind}", f"position {pos}" + (" - fixed by the structure prior" if pos in fixed else "")
        cls += " dm-selected" if pos == branches.selected else ""
        pieces.append(_span(pos, label, cls, title))
    masked = sum(1 for t in branches.canvas if t == mask)
    head = (f'<b>editing {_esc(branches.label(branches.source))} after step {branches.step}</b>'
            f'<span class="dm-badge">{masked} masked</span><span class="dm-badge">{len(branches.edited)} edited</span>'
            f'<span class="dm-badge">{len(branches.locked)} locked</span>'
            + (f'<span class="dm-badge dm-step">position {branches.selected} selected</span>'
               if branches.selected is not None else ""))
    legend = ('<div class="dm-legend"><span class="dm-tok dm-edited">edited</span><span class="dm-tok dm-locked">'
              f'{LOCK}locked</span><span class="dm-tok dm-old">kept</span><span class="dm-tok dm-mask dm-remasked">'
              f'{MASK_GLYPH}</span><span>re-masked</span><span>click a position to select it</span></div>')
    return (f'<div class="dm-card" id="dm-branch-editor-card"><div class="dm-head">{head}</div>'
            f'<div class="dm-tokens">{"".join(pieces)}</div>{legend}</div>')


def _answer_row(traj, title: str, passes: str, diff: set, edited: set) -> str:
    ends = set(traj.end_token_ids)
    final = traj.response_ids
    stop = min(traj.answer_end + 1, traj.length)
    pieces = []
    for pos in range(stop):
        tok = final[pos]
        cls = "dm-end" if tok in ends else "dm-edited" if pos in edited else "dm-old"
        cls += " dm-diff" if pos in diff else ""
        pieces.append(_span(pos, _label(traj, tok, ends, False), cls, f"position {pos}", clickable=False))
    text = traj.text().strip() or "(empty answer)"
    return (f'<div class="dm-card"><div class="dm-head"><b>{_esc(title)}</b><span class="dm-badge">{_esc(passes)}'
            f'</span></div><div class="dm-answer-text">{_esc(text)}</div><div class="dm-tokens">{"".join(pieces)}</div>'
            "</div>")


def compare_html(branches, index: int, diff: list[int]) -> str:
    """A branch beside the run it was taken from: both answers, both pass counts, where they differ."""
    if branches is None or not 0 <= index < len(branches.items):
        return '<div class="dm-card"><div class="dm-empty">Resume from an edited step to see a branch here.</div></div>'
    b = branches.items[index]
    parent = branches.run(b.parent)
    shared = b.trajectory.start_step - parent.start_step
    where = (f"differ at position{'s' if len(diff) > 1 else ''} {', '.join(map(str, diff))}" if diff
             else "the answers are the same")
    rows = (_answer_row(parent, branches.label(b.parent), count(parent.nfe, "pass"), set(diff), set())
            + _answer_row(b.trajectory, branches.label(index),
                          f"{shared} shared + {b.trajectory.nfe} new = {count(shared + b.trajectory.nfe, 'pass')}",
                          set(diff), set(b.edited)))
    return (f'<div id="dm-branch-compare-card"><div class="dm-head"><span class="dm-badge dm-warn" '
            f'id="dm-branch-diff">{_esc(where)}</span><span class="dm-badge">taken after step {b.at_step}</span>'
            f'<span class="dm-badge">{len(b.edited)} edited, {len(b.remasked)} re-masked, {len(b.locked)} locked'
            f'</span></div><div class="dm-rows">{rows}</div></div>')


def manual_html(branches) -> str:
    """The canvas of a manual decode: masked positions show the engine's choice (outlined) or the person's
    pick (filled in); committed positions marked for re-masking are struck through."""
    manual = None if branches is None else branches.manual
    if manual is None:
        return ('<div class="dm-card"><div class="dm-empty">Press "Step by hand" to decode the edited canvas one '
                "step at a time.</div></div>")
    traj = branches.items[manual.branch].trajectory
    state, mask, ends = traj.response_ids, traj.mask_token_id, set(traj.end_token_ids)
    proposal, default = manual.proposal, set(manual.proposal.default) if manual.proposal else set()
    pieces = []
    for pos, tok in enumerate(state):
        if tok == mask:
            j = proposal.masked.index(pos) if proposal else None
            engine_tok = proposal.tokens[j] if proposal else None
            if pos in manual.picks:
                label, cls = _label(traj, manual.picks[pos], ends, False), "dm-bt dm-pick"
            else:
                label, cls = MASK_GLYPH, "dm-bt dm-mask"
            cls += " dm-engine" if pos in default else ""
            hint = f" - engine: {traj.token_text.get(engine_tok, engine_tok)!r}" if engine_tok is not None else ""
            pieces.append(_span(pos, label, cls, f"position {pos} - masked{hint}"))
        else:
            cls = "dm-bt " + ("dm-unmask" if pos in manual.remasks else "dm-end" if tok in ends else "dm-old")
            pieces.append(_span(pos, _label(traj, tok, ends, False), cls, f"position {pos} - click to re-mask"))
    step = traj.start_step + traj.nfe
    head = (f'<b>manual decode: step {step} / max {traj.config.get("steps")}</b>'
            f'<span class="dm-badge">{sum(1 for t in state if t == mask)} masked</span>'
            f'<span class="dm-badge">{len(manual.picks)} to commit</span>'
            + ('<span class="dm-badge dm-done" id="dm-manual-done">done</span>' if mask not in state else "")
            + ('<span class="dm-badge dm-warn">engine: schedule fallback</span>' if proposal and proposal.fallback
               else ""))
    legend = ('<div class="dm-legend"><span class="dm-tok dm-mask dm-engine">engine</span><span>the engine\'s '
              'choice</span><span class="dm-tok dm-pick">pick</span><span>committed at the next step</span>'
              '<span class="dm-tok dm-unmask">abc</span><span>re-masked after it</span></div>')
    return (f'<div class="dm-card" id="dm-manual-card"><div class="dm-head">{head}</div>'
            f'<div class="dm-tokens">{"".join(pieces)}</div>{legend}</div>')
