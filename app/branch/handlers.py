"""Branch tab handlers: edit a replay step, resume from it, compare; and manual stepping.

Owns what happens when a person branches: open the canvas of a run (the
original or a branch) after one of its replay steps; select a position (a
click on the canvas) and set it to one of its recorded candidates or to a
typed word (tokenised; a word of several tokens fills the positions after it,
and is refused when it would run past the canvas or over a template's fixed
text; a typed word takes the leading space of the token it replaces); re-mask
a position, lock one (kept when "re-mask the rest" masks everything else);
"Resume from here" decodes the branch with the current settings and shows it
beside its parent. "Step by hand" decodes the edited canvas one step at a
time: each step shows the engine's choice, the person accepts it or picks
positions (and their candidates) and re-masks committed ones, then steps on.

A branch must see the run's prompt: the run's question (and earlier turns)
with the picture in the Image box; a resume whose prompt encodes differently
from the run's is refused before any forward pass (a model whose image
placeholders have a fixed count cannot tell two pictures apart by their ids,
so the picture is the person's to keep). The branches live in the
Session (`session.branches`) and go into the JSON export (`exported`,
`restore`). HTML comes from branch_view.py, the record from branch_state.py;
it knows the assistant's methods (app.protocol) and nothing of tensors.
"""

from __future__ import annotations

from typing import Optional

import gradio as gr

from . import view as branch_view
from ..canvas import render
from .state import ORIGINAL, Branches
from ..form import controls
from ..protocol import StudioAssistant
from ..request import checked, question, running, user_error
from ..words import count
from dimple.branching import differences, spaced
from dimple.trajectory import Trajectory


def _branches(session) -> Branches:
    """The session's branches of its current run (a new run or an import starts afresh)."""
    traj = getattr(session, "trajectory", None)
    if traj is None or not traj.steps:
        raise user_error("Nothing to branch yet: run a question (or import a trajectory) first.")
    if getattr(session, "branches", None) is None or session.branches.root is not traj:
        session.branches = Branches(traj)
    return session.branches


def exported(session) -> list:
    """The session's branches as the JSON export holds them (empty when they belong to another run)."""
    br = getattr(session, "branches", None)
    return br.to_list() if br is not None and br.root is session.trajectory else []


def restore(session, traj: Trajectory, studio: dict) -> None:
    """Load the branches of an imported export (ValueError when they are malformed)."""
    session.branches = Branches.from_list(traj, studio.get("branches", [])) if studio.get("branches") else None


def _alternatives(br: Branches, pos: int) -> list:
    """The recorded top candidates of a position: from the step that committed it in the source run, else in
    the runs it came from."""
    index = br.source
    while True:
        for step in br.run(index).steps:
            if pos in step.positions and step.positions.index(pos) < len(step.alternatives):
                return step.alternatives[step.positions.index(pos)]
        if index == ORIGINAL:
            return []
        index = br.items[index].parent


def candidate_choices(traj_text: dict, alts) -> gr.update:
    """The candidates menu of a position: its recorded (token, probability) pairs, labelled by text."""
    labels = [(f"{traj_text.get(tok, f'<{tok}>')!r}  p={prob:.2f}", str(tok)) for tok, prob in alts]
    return gr.update(choices=labels, value=None, interactive=bool(labels))


def branch_question(assistant, br: Branches, session, form) -> tuple:
    """(branches, config, image, prompt, history) of a branch decode: the run's question with the current
    settings, checked (app/request.py)."""
    prompt = session.question or (form["prompt"] or "").strip()
    history = session.history[:-1] if session.history and session.history[-1][0] == prompt else []
    q = question(assistant, form["image"], prompt, None, controls(form), history)
    return br, q.cfg, q.image, q.prompt, q.history


def check_same_prompt(br: Branches, prompt_ids) -> None:
    """A branch decodes with its run's prompt: refuse one whose image or question encode differently."""
    if list(prompt_ids) != br.root.prompt_ids:
        raise user_error("The image or question differ from the run's: a branch decodes with the run's prompt. "
                         "Put the run's image back in the Image box.")


class Brancher:
    def __init__(self, assistant: StudioAssistant) -> None:
        self.assistant = assistant

    # ----- which run, which step -------------------------------------------------
    def refresh(self, session, replay_step):
        """On opening the tab: (run menu, step slider at the main replay's step, editor, branch menu, message)."""
        try:
            br = _branches(session)
        except gr.Error:
            return (gr.update(choices=["original"], value="original"), gr.update(value=0, maximum=1),
                    branch_view.editor_html(None), gr.update(choices=[], value=None), "Run a question first.")
        labels = br.labels()
        step = min(int(replay_step or 0), br.run(br.source).nfe)
        return (gr.update(choices=labels, value=br.label(br.source)),
                gr.update(value=step, maximum=max(br.run(br.source).nfe, 1)), branch_view.editor_html(br),
                gr.update(choices=labels[1:]), "")

    def source_changed(self, session, label):
        br = _branches(session)
        traj = br.run(br.index_of(label))
        return gr.update(value=traj.nfe, maximum=max(traj.nfe, 1))

    def open(self, session, label, step):
        """Start editing the chosen run's canvas after `step` -> (editor, candidates, message)."""
        br = _branches(session)
        br.open(br.index_of(label), int(step or 0))
        return (branch_view.editor_html(br), candidate_choices({}, []),
                f"Editing {br.label(br.source)} after step {br.step}: click a position.")

    # ----- edits ------------------------------------------------------------------------
    def _editing(self, session) -> Branches:
        br = _branches(session)
        if not br.editing:
            raise user_error('Press "Edit this step" first.')
        return br

    def _selected(self, br: Branches) -> int:
        if br.selected is None:
            raise user_error("Click a position of the canvas first.")
        return br.selected

    def pick(self, session, evt: gr.EventData):
        """A click on the editor canvas -> (editor, the position's candidates, message)."""
        br = self._editing(session)
        pos = int(getattr(evt, "pos", -1))
        if not 0 <= pos < len(br.canvas):
            return gr.skip(), gr.skip(), gr.skip()
        br.selected = pos
        alts = _alternatives(br, pos)
        return branch_view.editor_html(br), candidate_choices(br.run(br.source).token_text, alts), (
            f"Position {pos} selected" + ("" if alts else " (no recorded candidates: type a word)") + ".")

    def set_candidate(self, session, choice):
        br = self._editing(session)
        pos = self._selected(br)
        if choice in (None, ""):
            raise user_error("Choose one of the candidates first.")
        tok = int(choice)
        br.root.token_text.setdefault(tok, br.run(br.source).token_text.get(tok, ""))
        return self._after(br, br.set_tokens, pos, [tok])

    def set_word(self, session, word):
        br = self._editing(session)
        pos = self._selected(br)
        replaced = br.root.token_text.get(br.canvas[pos], "") if br.canvas[pos] != br.root.mask_token_id else ""
        try:
            ids = self.assistant.token_ids(spaced((word or "").strip(), replaced))
        except ValueError as exc:
            raise user_error(f"Type a word first ({exc}).") from None
        br.root.token_text.update(self.assistant.token_texts(ids))
        return self._after(br, br.set_tokens, pos, ids)

    def remask(self, session):
        br = self._editing(session)
        return self._after(br, br.remask, self._selected(br))

    def lock(self, session):
        br = self._editing(session)
        return self._after(br, br.toggle_lock, self._selected(br))

    def remask_rest(self, session):
        br = self._editing(session)
        return self._after(br, br.remask_rest)

    @staticmethod
    def _after(br: Branches, action, *args):
        try:
            out = action(*args)
        except ValueError as exc:
            raise user_error(str(exc)) from None
        note = {"set_tokens": lambda: f"Set position(s) {out}.", "remask": lambda: "Masked again.",
                "toggle_lock": lambda: "Locked." if out else "Unlocked.",
                "remask_rest": lambda: f"Masked {out} position(s); edited and locked ones kept."}
        return branch_view.editor_html(br), note[action.__name__]()

    # ----- resume -----------------------------------------------------------------------
    def _question(self, session, form) -> tuple:
        return branch_question(self.assistant, self._editing(session), session, form)

    def resume(self, form):
        """Decode the edited canvas -> yields (live canvas, comparison, branch menu, run menu, branch replay
        slider, message)."""
        session = form["session"]
        br, cfg, image, prompt, history = self._question(session, form)
        kw = br.resume_keywords()
        traj = None
        with running(session) as should_stop, checked():
            for traj in self.assistant.branch(image, prompt, cfg, **kw, history=history, should_stop=should_stop):
                if not traj.steps:
                    check_same_prompt(br, traj.prompt_ids)
                    traj.chosen = br.chosen_positions()
                yield (render.render_canvas(traj, live=True, title="branch"), gr.skip(), gr.skip(), gr.skip(),
                       gr.skip(), f"decoding the branch: step {traj.nfe}")
        index = br.add(traj)
        yield (render.render_canvas(traj, title=br.label(index)), self._compare(br, index),
               *self._menus(br, index), gr.update(value=traj.nfe, maximum=max(traj.nfe, 1)),
               f"{br.label(index)}: {count(traj.nfe, 'pass')} after step {br.step}.")

    @staticmethod
    def _compare(br: Branches, index: int) -> str:
        b = br.items[index]
        parent = br.run(b.parent)
        return branch_view.compare_html(br, index, differences(parent.response_ids, b.trajectory.response_ids,
                                                               parent.end_token_ids))

    @staticmethod
    def _menus(br: Branches, index: int):
        labels = br.labels()
        return (gr.update(choices=labels[1:], value=br.label(index)),
                gr.update(choices=labels, value=br.label(br.source)))

    def view(self, session, label, n: Optional[int] = None):
        """A branch chosen in the menu -> (its canvas, the comparison, replay slider); no model needed."""
        br = _branches(session)
        index = br.index_of(label)
        if index == ORIGINAL:
            return gr.skip(), gr.skip(), gr.skip()
        traj = br.items[index].trajectory
        return (render.render_canvas(traj, title=label), self._compare(br, index),
                gr.update(value=traj.nfe, maximum=max(traj.nfe, 1)))

    def replay(self, session, label, n):
        br = _branches(session)
        index = br.index_of(label)
        if index == ORIGINAL:
            return gr.skip()
        return render.render_canvas(br.items[index].trajectory, int(n or 0), title=label)
