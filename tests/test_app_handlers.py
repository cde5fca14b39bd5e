"""app.chat.handlers without a server: the Send path streams frame by frame, sessions stay apart, Stop/Clear/regenerate."""

from __future__ import annotations

import json
import threading
import time

import gradio as gr
import pytest

from app.canvas import render
from app.form import COMPARE_DEFAULTS, CONTROLS
from app.chat.compare import verdict
from app.chat.handlers import Studio
from app.session import Session
from fake_assistant import VOCAB, FakeAssistant, make_trajectory

SETTINGS = dict(zip(CONTROLS, (0.9, True, 16, 16, "maskgit_plus", 0.0, 1.0, 0, 0.0, 0)))


def _form(session, prompt="Where is the red circle?", template="", **overrides):
    """The named values Gradio hands a handler (app.form), with the Compare tab at its defaults."""
    return {**SETTINGS, **COMPARE_DEFAULTS, "image": None, "prompt": prompt, "template": template, "session": session,
            **overrides}


def _ask(studio, session, prompt="Where is the red circle?", template=""):
    return studio.ask(_form(session, prompt, template))


def test_ask_streams_one_frame_per_step_and_records_the_turn():
    studio, session = Studio(FakeAssistant(step_seconds=0.0)), Session()
    outputs = list(_ask(studio, session))
    canvases = [o[0] for o in outputs if isinstance(o[0], str)]
    traj = session.trajectory
    assert len(canvases) == traj.nfe + 2  # empty canvas, one per step, the final frame
    assert "step 0" in canvases[0] and "dm-mask" in canvases[0]
    assert outputs[0][1][-1]["role"] == "assistant"  # the question shows at once, before any frame
    assert session.history == [("Where is the red circle?", "The red circle is left of the blue square.")]
    assert len(session.render_seconds) == traj.nfe + 1 and not session.running


def test_bad_input_raises_before_anything_changes():
    studio, session = Studio(FakeAssistant(step_seconds=0.0)), Session()
    with pytest.raises(gr.Error, match="prompt"):
        list(_ask(studio, session, prompt="  "))
    with pytest.raises(gr.Error, match="character"):
        list(_ask(studio, session, template="Color <mask:2> <oops"))
    assert session.chat == [] and session.history == [] and not session.running


def test_regenerate_replaces_the_last_turn_and_sessions_are_separate():
    studio = Studio(FakeAssistant(step_seconds=0.0))
    a, b = Session(), Session()
    list(_ask(studio, a, "first?"))
    list(_ask(studio, b, "other?"))
    list(studio.regenerate(_form(a, prompt="")))
    assert [q for q, _ in a.history] == ["first?"] and [q for q, _ in b.history] == ["other?"]
    assert a.trajectory is not b.trajectory


def test_stop_and_clear_during_a_run():
    studio, session = Studio(FakeAssistant(step_seconds=0.01)), Session()
    run = _ask(studio, session)
    next(run), next(run), next(run)  # the question, the empty canvas, the first step
    assert session.running
    with pytest.raises(gr.Error, match="still being answered"):
        list(_ask(studio, session, "again?"))
    studio.stop(session)
    last = list(run)[-1]
    assert "stopped" in last[2] and session.trajectory.stopped and not session.running
    # Clear while a run is going: its answer does not leak into the new conversation
    run = _ask(studio, session, "second?")
    next(run), next(run)
    studio.clear(session)
    list(run)
    assert session.history == [] and session.chat == []


def test_stop_pressed_while_queued_drops_the_question():
    studio, session = Studio(FakeAssistant(step_seconds=0.0)), Session()
    studio.sent(session)  # the click registers at once; the decode waits in the queue
    studio.stop(session)
    outputs = list(_ask(studio, session))
    assert outputs[-1][2] == "stopped before it started" and session.trajectory is None and session.history == []
    # Stop while idle does not swallow the next question
    studio.stop(session)
    studio.sent(session)
    list(_ask(studio, session))
    assert len(session.history) == 1


def test_a_fault_inside_one_generation_is_reported_to_that_user_only():
    studio = Studio(FakeAssistant(step_seconds=0.0, fail_on="boom"))
    hit, other = Session(), Session()
    last = list(_ask(studio, hit, "boom?"))[-1]
    assert last[2] == "error" and "injected fault" in last[1][-1]["content"] and not hit.running
    list(_ask(studio, other))
    assert other.history and not other.trajectory.stopped
    list(_ask(studio, hit))  # the same user can go on
    assert len(hit.history) == 1


def test_compare_streams_a_then_b_under_their_own_settings_and_reports_their_forwards():
    studio, session = Studio(FakeAssistant(step_seconds=0.0)), Session()
    outs = list(studio.compare(_form(session, "Describe it.", b_threshold=0.6, b_prefill=False)))
    canvas_a, canvas_b, stats_a, stats_b, verdict_md, _ = outs[-1]
    assert "A: threshold 0.9, prefilling on" in canvas_a and "B: threshold 0.6, prefilling off" in canvas_b
    assert "dm-tokens" in canvas_a and "forward passes" in stats_a.lower() and "forward passes" in stats_b.lower()
    nfe_a = make_trajectory(16, threshold=0.9, steps=16).nfe  # the fake decodes what make_trajectory draws
    nfe_b = make_trajectory(16, threshold=0.6, steps=16).nfe
    assert nfe_a != nfe_b and f"Forward passes: A {nfe_a}, B {nfe_b}" in verdict_md
    assert "**Answers are identical.**" in verdict_md  # the fake's answer does not depend on the threshold


def test_a_large_comparison_is_sent_as_frames_the_page_draws():
    studio, session = Studio(FakeAssistant(step_seconds=0.0)), Session()
    studio.assistant.max_new_tokens_limit = render.DENSE_FROM
    outs = list(studio.compare(_form(session, "Describe it.", max_new_tokens=render.DENSE_FROM, steps=12)))
    first_a, final_a, final_b = outs[0][0], json.loads(outs[-1][0]), json.loads(outs[-1][1])
    assert json.loads(first_a)["replay"] is False and len(final_a["cls"]) == render.DENSE_FROM
    assert final_a["replay"] and "A: threshold 0.9" in final_a["head"] and "B: threshold" in final_b["head"]
    assert final_a["step"] > 0 and "m" not in final_a["cls"]  # the finished canvas: every slot decided


def test_verdict_names_the_faster_run_and_shows_differing_answers():
    a, b = make_trajectory(8, seed=1), make_trajectory(8, seed=2, threshold=0.0)
    a.total_seconds, b.total_seconds = 0.2, 0.1
    b.steps[-1].tokens = [VOCAB[" green"]] * len(b.steps[-1].tokens)  # B ends on other words
    text = verdict(a, b, "the red one", "the green one")
    assert "**B is 2.00x faster**" in text
    assert "**Answers differ:** A: `the red one` · B: `the green one`" in text


@pytest.mark.slow  # Play animates at its real pace
def test_replay_frames_and_preview():
    studio, session = Studio(FakeAssistant(step_seconds=0.0)), Session()
    assert "Nothing to replay" in studio.replay_frame(0, session)
    list(_ask(studio, session))
    assert "step 1 " in studio.replay_frame(1, session)
    frames = list(studio.play(session))
    assert [n for n, _ in frames] == list(range(session.trajectory.nfe + 1))
    preview, error = studio.preview("The<mask:3>.<eos>")
    assert preview.count("dm-mask") == 3 and error == ""
    _, error = studio.preview("The <mask:x>")
    assert "dm-error" in error


def test_pause_ends_play_after_the_frame_on_screen_and_play_starts_again():
    studio, session = Studio(FakeAssistant(step_seconds=0.0)), Session()
    list(_ask(studio, session))
    assert session.trajectory.nfe >= 3
    frames = studio.play(session, "0.25x")  # 2 s a frame: Pause must not wait for the interval
    assert next(frames)[0] == 0
    studio.pause(session)
    t0 = time.monotonic()
    assert list(frames) == [] and time.monotonic() - t0 < 1.0
    assert [n for n, _ in studio.play(session, "100x")] == list(range(session.trajectory.nfe + 1))


def test_the_random_scene_button_shows_only_for_a_model_that_draws_scenes():
    assert Studio(FakeAssistant()).card_choices()[2]["visible"] is True

    class NoScenes(FakeAssistant):  # the 7B's card names no scene generator
        draws_scenes = False

    assert Studio(NoScenes()).card_choices()[2]["visible"] is False


def test_many_sessions_at_once_keep_their_own_trajectories():
    studio = Studio(FakeAssistant(step_seconds=0.001))
    sessions = [Session() for _ in range(6)]
    threads = [threading.Thread(target=lambda s=s, i=i: list(_ask(studio, s, f"question {i}?")))
               for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, s in enumerate(sessions):
        assert s.history[0][0] == f"question {i}?" and s.trajectory is not None
    assert len({id(s.trajectory) for s in sessions}) == 6


def _resume_unedited(assistant, session):
    """The Branch tab: open the run after its first step and resume it unedited -> (frames, the branch)."""
    from app.branch.handlers import Brancher

    h = Brancher(assistant)
    h.open(session, "original", 1)
    frames = list(h.resume(_form(session)))
    return frames, session.branches.items[-1].trajectory


def test_after_stop_or_clear_a_branch_resume_still_decodes(tmp_path):
    """Issue 32, bug 1: neither Stop nor Clear leaves a flag set that the next decode obeys."""
    studio, session = Studio(FakeAssistant(step_seconds=0.01)), Session()
    run = _ask(studio, session)
    next(run), next(run), next(run), next(run)
    studio.stop(session)
    list(run)
    assert session.trajectory.stopped
    _, branch = _resume_unedited(studio.assistant, session)
    assert branch.nfe > 0 and not branch.stopped
    list(_ask(studio, session))
    path = studio.export_json(session)
    studio.clear(session)
    studio.import_json(path, session)
    _, branch = _resume_unedited(studio.assistant, session)
    assert branch.nfe > 0 and not branch.stopped


def test_stop_stops_a_comparison_and_a_branch_resume():
    """Issue 32, bug 2: every decode a session starts is running while it runs, and Stop stops it."""
    studio, session = Studio(FakeAssistant(step_seconds=0.01)), Session()
    outs = studio.compare(_form(session, "Describe it.", b_threshold=0.0))
    next(outs), next(outs)
    assert session.running
    with pytest.raises(gr.Error, match="still being answered"):
        list(_ask(studio, session, "again?"))
    studio.stop(session)
    rest = list(outs)
    assert not session.running and "stopped" in rest[-1][4].lower()
    list(_ask(studio, session))
    from app.branch.handlers import Brancher

    h = Brancher(studio.assistant)
    h.open(session, "original", 1)
    frames = h.resume(_form(session))
    next(frames)
    assert session.running
    studio.stop(session)
    list(frames)
    assert session.branches.items[-1].trajectory.stopped and not session.running
