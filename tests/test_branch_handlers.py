"""The Branch tab's handlers without a server, on the shipped Dimple-Tiny: edit a replay step, resume, compare,
branch a branch, export and import the branches, step by hand; bad edits get a clear message."""

from __future__ import annotations

import json
from types import SimpleNamespace

import gradio as gr
import pytest

from app.branch.handlers import Brancher
from app.form import COMPARE_DEFAULTS, CONTROLS
from app.chat.handlers import Studio
from app.branch.manual import ManualStepper
from app.session import Session
from studio_server import ROOT

IMAGE = str(ROOT / "assets" / "examples" / "objects_1.png")
QUESTION = "Describe the image."


def _form(session, assistant, **overrides):
    cfg = assistant.default_config
    # threshold off: one token per pass, so the run has steps to branch from (Tiny may answer in one pass at 0.9)
    values = dict(zip(CONTROLS, (0.0, cfg.prefill, cfg.steps, cfg.max_new_tokens, cfg.alg, 0.0, 1.0,
                                 0, 0.0, 0)))
    return {**values, **COMPARE_DEFAULTS, "image": IMAGE, "prompt": QUESTION, "template": "", "session": session,
            **overrides}


@pytest.fixture()
def asked(tiny):
    session = Session()
    list(Studio(tiny).ask(_form(session, tiny)))
    assert session.trajectory is not None and session.trajectory.nfe >= 2
    return session


def _edit_and_resume(h, session, tiny, step, pos, word, label="original"):
    h.open(session, label, step)
    h.pick(session, SimpleNamespace(pos=pos))
    h.set_word(session, word)
    h.remask_rest(session)
    return list(h.resume(_form(session, tiny)))


def test_an_edit_resumed_is_a_branch_shown_beside_the_original(tiny, asked):
    h = Brancher(tiny)
    frames = _edit_and_resume(h, asked, tiny, asked.trajectory.nfe, 3, "green")
    br = asked.branches
    assert len(br.items) == 1 and br.items[0].edited == [3]
    branch = br.items[0].trajectory
    assert branch.canvas[3] == tiny.token_ids(" green")[0] and branch.response_ids[3] == branch.canvas[3]
    assert all(branch.response_ids[i] == t for i, t in enumerate(branch.canvas) if t != branch.mask_token_id)
    compare = frames[-1][1]
    assert "differ at position" in compare and "original" in compare and "branch 1" in compare
    assert f"{asked.trajectory.nfe} passes" in compare


def test_a_branch_can_be_branched_and_exports_and_imports_with_its_branches(tiny, asked, tmp_path):
    h = Brancher(tiny)
    _edit_and_resume(h, asked, tiny, asked.trajectory.nfe, 3, "green")
    _edit_and_resume(h, asked, tiny, 0, 7, "bottom", label=asked.branches.label(0))
    assert asked.branches.items[1].parent == 0
    path = Studio(tiny).export_json(asked)
    data = json.loads(open(path, encoding="utf-8").read())
    assert [b["parent"] for b in data["studio"]["branches"]] == [-1, 0]
    fresh = Session()
    Studio(tiny).import_json(path, fresh)
    assert [b.trajectory.states() for b in fresh.branches.items] == [b.trajectory.states() for b in asked.branches.items]
    canvas, compare, _ = Brancher(None).view(fresh, fresh.branches.label(1))  # no model: the replay is recorded
    assert "dm-tokens" in canvas and "taken after step 0" in compare


def test_bad_edits_are_refused_with_a_clear_message(tiny, asked):
    h = Brancher(tiny)
    with pytest.raises(gr.Error, match="Edit this step"):
        h.set_word(asked, "green")
    h.open(asked, "original", 1)
    with pytest.raises(gr.Error, match="Click a position"):
        h.remask(asked)
    last = asked.trajectory.length - 1
    h.pick(asked, SimpleNamespace(pos=last))
    with pytest.raises(gr.Error, match="tokens; from position"):
        h.set_word(asked, "green green")
    asked.question = "Read the text."  # e.g. an import whose recorded question is not the run's
    with pytest.raises(gr.Error, match="image or question differ"):
        list(h.resume(_form(asked, tiny)))


def test_stepping_by_hand_accepting_the_engine_finishes_and_picks_commit_a_persons_choice(tiny, asked):
    h = ManualStepper(tiny)
    Brancher(tiny).open(asked, "original", 0)
    html, _, note = h.start(_form(asked, tiny, prefill=False))
    manual = asked.branches.manual
    assert "dm-engine" in html and "would commit" in note and manual.proposal.default
    pos = manual.proposal.masked[-1]
    h.click(asked, SimpleNamespace(pos=pos))
    second = manual.proposal.candidates_at(pos)[1][0]
    h.choose(asked, str(second))
    h.commit(asked)
    record = asked.branches.items[manual.branch].trajectory
    assert record.steps[0].positions == [pos] and record.steps[0].tokens == [second]
    for _ in range(record.length):
        if asked.branches.manual.proposal is None:
            break
        html, _, note = h.accept(asked)
    assert "Done" in note and "dm-manual-done" in html
    assert record.mask_token_id not in record.response_ids and record.response_ids[pos] == second


def test_a_persons_choice_in_a_branch_is_labelled_chosen_not_template(tiny, asked):
    """Issue 32, bug 3: the branch's record says which fixed tokens a person chose."""
    from app.canvas.narration import narrate
    from dimple.ghosts import inspect

    _edit_and_resume(Brancher(tiny), asked, tiny, asked.trajectory.nfe, 3, "green")
    branch = asked.branches.items[0].trajectory
    assert branch.chosen == [3] and inspect(branch, 3)["rule"] == "chosen"
    assert "1 chosen by a person" in narrate(branch, 0) and "template" not in narrate(branch, 0)
