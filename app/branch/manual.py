"""Manual stepping handlers: decode the Branch tab's edited canvas one step at a time, by hand.

Owns the manual decode's events: start it from the editor's canvas (a manual
branch, recorded like any other), show the engine's choice for the next step
(`StudioAssistant.propose`: one forward pass, the candidates of every masked
position and the positions the confident-decoding rule would commit), take
the person's clicks (a masked position toggles a pick, with a candidate of
theirs chosen from the list; a committed position toggles a re-mask), then
step: accept the engine's choice, or commit the picks, and re-mask. A re-mask
changes the canvas under the record, so the decode continues as a new manual
branch from that point (each branch stays a plain Trajectory that replays).

It knows app.branch_state's records, the assistant's methods and
branch_view's HTML; nothing of tensors.
"""

from __future__ import annotations

import gradio as gr

from . import view as branch_view
from .state import Branches, Manual
from .handlers import branch_question, candidate_choices, check_same_prompt
from ..request import running, user_error
from ..words import count
from dimple.branching import resume_point
from dimple.config import DecodeConfig
from dimple.trajectory import Trajectory


class ManualStepper:
    """Manual stepping: the Branch tab's question and prompt checks (branch_question, check_same_prompt)."""

    def __init__(self, assistant) -> None:
        self.assistant = assistant

    def _manual(self, session) -> tuple[Branches, Manual]:
        br = getattr(session, "branches", None)
        if br is None or br.manual is None or br.root is not session.trajectory:
            raise user_error('Press "Step by hand" first.')
        return br, br.manual

    def _new_record(self, br: Branches, cfg: DecodeConfig, canvas: list[int], fixed: list[int], start_step: int,
                    start_masked: int) -> Trajectory:
        root = br.root
        return Trajectory(prompt_ids=list(root.prompt_ids), canvas=list(canvas),
                          fixed=[i in fixed for i in range(len(canvas))], mask_token_id=root.mask_token_id,
                          end_token_ids=list(root.end_token_ids), config=cfg.to_dict(), token_text=dict(root.token_text),
                          pad_token_id=root.pad_token_id, start_step=start_step, start_masked=start_masked,
                          chosen=br.chosen_positions())

    def start(self, form):
        """From the editor's canvas -> (manual canvas, candidates, message)."""
        session = form["session"]
        br = getattr(session, "branches", None)
        if br is None or not br.editing or br.root is not session.trajectory:
            raise user_error('Press "Edit this step" first.')
        br, cfg, image, prompt, history = branch_question(self.assistant, br, session, form)
        kw = br.resume_keywords()
        if br.root.mask_token_id not in kw["canvas"]:
            raise user_error("Nothing is masked on this canvas: re-mask some positions (or edit an earlier step) first.")
        record = self._new_record(br, cfg, **kw)
        br.manual = Manual(branch=br.add(record, manual=True), request=(image, prompt, history, cfg))
        with running(session):
            return self._propose(br)

    def _propose(self, br: Branches):
        manual = br.manual
        traj = br.items[manual.branch].trajectory
        manual.picks, manual.remasks, manual.selected = {}, set(), None
        if traj.mask_token_id not in traj.response_ids:
            manual.proposal = None
            return branch_view.manual_html(br), candidate_choices({}, []), f"Done after {count(traj.nfe, 'manual step')}."
        image, prompt, history, cfg = manual.request
        fixed = [i for i, f in enumerate(traj.fixed) if f]
        try:
            point = resume_point(traj, traj.nfe)  # with blocks: the denominator of the block active now
            proposal = self.assistant.propose(image, prompt, cfg, point["canvas"], fixed, point["start_step"],
                                              point["start_masked"], history=history)
        except ValueError as exc:
            raise user_error(str(exc)) from None
        check_same_prompt(br, proposal.prompt_ids)
        ids = {t for alts in proposal.candidates for t, _ in alts} | set(proposal.tokens)
        traj.token_text.update(self.assistant.token_texts(sorted(ids - traj.token_text.keys())))
        manual.proposal = proposal
        kind = "the schedule's fallback" if proposal.fallback else "above the threshold"
        return (branch_view.manual_html(br), candidate_choices({}, []),
                f"Step {proposal.iteration}: the engine would commit {len(proposal.default)} position(s) ({kind}).")

    def click(self, session, evt: gr.EventData):
        """A click on the manual canvas: a masked position toggles a pick, a committed one a re-mask."""
        br, manual = self._manual(session)
        traj = br.items[manual.branch].trajectory
        pos = int(getattr(evt, "pos", -1))
        if manual.proposal is None or not 0 <= pos < traj.length:
            return gr.skip(), gr.skip(), gr.skip()
        if pos in manual.proposal.masked:
            if pos in manual.picks:
                del manual.picks[pos]
            else:
                manual.picks[pos] = manual.proposal.tokens[manual.proposal.masked.index(pos)]
            manual.selected = pos
            alts = manual.proposal.candidates_at(pos)
            return branch_view.manual_html(br), candidate_choices(traj.token_text, alts), f"Position {pos}: choose a candidate."
        if traj.fixed[pos]:
            raise user_error(f"Position {pos} is fixed in this branch; it cannot be masked.")
        manual.remasks ^= {pos}
        return branch_view.manual_html(br), gr.skip(), f"Position {pos} will be masked again after this step."

    def choose(self, session, choice):
        """A candidate for the selected pick."""
        br, manual = self._manual(session)
        if manual.selected is None or choice in (None, ""):
            return gr.skip(), gr.skip()
        manual.picks[manual.selected] = int(choice)
        return branch_view.manual_html(br), f"Position {manual.selected} will get the chosen candidate."

    def accept(self, session):
        """Commit the engine's choice (the picks are ignored), then propose the next step."""
        br, manual = self._manual(session)
        manual.picks = {}
        with running(session):
            return self._step(br, None)

    def commit(self, session):
        """Commit the picks (and re-mask the marked positions), then propose the next step."""
        br, manual = self._manual(session)
        if not manual.picks and not manual.remasks:
            raise user_error("Click masked positions to pick them (or press Accept for the engine's choice).")
        with running(session):
            return self._step(br, dict(manual.picks))

    def _step(self, br: Branches, picks):
        manual = br.manual
        if manual.proposal is None:
            raise user_error("This manual decode is finished; edit a step to start another.")
        traj = br.items[manual.branch].trajectory
        if picks != {}:
            try:
                step = manual.proposal.step(traj.nfe, None if picks is None else sorted(picks), picks)
            except ValueError as exc:
                raise user_error(str(exc)) from None
            traj.steps.append(step)
        if manual.remasks:
            self._continue_remasked(br, traj, sorted(manual.remasks))
        return self._propose(br)

    def _continue_remasked(self, br: Branches, traj: Trajectory, positions: list[int]) -> None:
        """A re-mask changes the canvas: go on in a new manual branch from the current state."""
        br.source, br.step = br.manual.branch, traj.nfe
        br.canvas = traj.response_ids
        br.edited, br.locked, br.remasked = set(), set(), set()
        for pos in positions:
            br.remask(pos)
        kw = br.resume_keywords()
        record = self._new_record(br, DecodeConfig.from_dict(traj.config), **kw)
        br.manual = Manual(branch=br.add(record, manual=True), request=br.manual.request)
