"""The teaching tools in the studio (FakeAssistant): ghosts and narration on the canvas, the inspector and
grounding on a click, the explorer's table, and the clear errors of the new endpoints."""

from __future__ import annotations

import re

import gradio as gr
import pytest
from PIL import Image

from app.canvas import render
from app.teaching.explorer import parse_thresholds, render_explorer
from app.form import COMPARE_DEFAULTS, CONTROLS
from app.teaching.inspector import heatmap, render_inspector
from app.session import Session
from app.teaching.handlers import Teaching
from app.teaching.api import TeachingApi, grounding_positions
from dimple.ghosts import inspect
from fake_assistant import FakeAssistant, make_trajectory

EXAMPLE = "assets/examples/objects_1.png"


class Click:
    """What Gradio hands a handler for the canvas's trigger('click', {pos, step})."""

    def __init__(self, pos, step):
        self.pos, self.step = pos, step


def _form(session, **kw):
    values = dict(zip(CONTROLS, (0.9, True, 16, 16, "maskgit_plus", 0.0, 1.0, 0, 0.0, 0)))
    values.update(image=EXAMPLE, prompt="Describe the image.", template="", session=session, **COMPARE_DEFAULTS)
    values.update(kw)
    return values


def test_a_mid_decode_frame_shows_each_masked_slots_guess_and_bar_and_the_narration():
    traj = make_trajectory(16, threshold=0.8)
    html = render.render_canvas(traj, 1, live=True).split('<div class="dm-legend">')[0]  # the canvas, no legend
    still = [p for p in range(16) if p not in traj.steps[0].positions]
    ghosts = re.findall(r'class="dm-tok dm-mask dm-ghost" data-pos="(\d+)"', html)
    assert [int(p) for p in ghosts] == still
    assert html.count('class="dm-bar') == 16  # every position that step scored has a bar
    assert html.count("dm-bar dm-above") == len(traj.steps[0].positions)  # the committed ones are above the line
    assert 'data-step="1"' in html and "--thr:80.0%" in html
    assert "Step 1: " in html and "above 0.80, committed." in html
    assert "dm-ghost" not in render.render_canvas(traj, 0).split('<div class="dm-legend">')[0]  # before any forward pass: no guesses yet


def test_a_click_opens_the_inspector_and_grounding_draws_a_heatmap():
    teaching, session = Teaching(FakeAssistant()), Session()
    session.trajectory = make_trajectory(16, threshold=0.8)
    late = session.trajectory.steps[-1].positions[0]
    html, session = teaching.inspect(session, Click(late, 1))
    assert f'data-pos="{late}"' in html and "Top candidates at step 1" in html and "committed at step" in html
    image, caption = teaching.ground(EXAMPLE, session)
    assert image.size == (252, 252) and "Peak: row" in caption
    assert teaching.ground(None, session) == (None, "Grounding needs the run's image: this run has none on screen.")


def test_the_explorer_marks_changes_and_answers_that_differ_from_the_schedule():
    teaching, session = Teaching(FakeAssistant()), Session()
    (html,) = list(teaching.explore(_form(session), "0.3, 0.5, 0.99"))
    assert html.count("<tr") == 5 and "off (schedule)" in html and 'id="dm-explore-time"' in html
    with pytest.raises(gr.Error, match="not a number"):
        list(teaching.explore(_form(session), "0.3, high"))
    with pytest.raises(gr.Error, match="prompt"):
        list(teaching.explore(_form(session, prompt=""), ""))
    result = {"rows": [{"threshold": 0.5, "nfe": 2, "text": "a", "tokens_per_forward": 1.0, "changed": True,
                        "differs_from_reference": True}],
              "reference": {"threshold": 0.0, "nfe": 8, "text": "b", "tokens_per_forward": 0.5}, "seconds": 0.2}
    table = render_explorer(result)
    assert "answer changes here" in table and "differs from the schedule-only answer" in table


def test_parse_thresholds_reads_a_comma_list_and_refuses_the_rest():
    assert parse_thresholds("0.9, 0.1,0.5") == [0.1, 0.5, 0.9]
    assert parse_thresholds("")[0] == 0.05
    for bad in ("0", "1.5", "x", ", ,"):
        with pytest.raises(ValueError, match="threshold"):
            parse_thresholds(bad)


def test_the_heatmap_is_hottest_on_the_peak_cell():
    grid = [[0.0] * 3 for _ in range(3)]
    grid[2][0] = 1.0
    img = heatmap(Image.new("RGB", (90, 90), "white"), grid)
    w = img.width // 3
    hot, cold = img.getpixel((w // 2, 2 * w + w // 2)), img.getpixel((2 * w + w // 2, w // 2))
    assert hot[1] < cold[1] and hot[2] < cold[2]  # red-orange over white vs nearly white


def test_the_inspector_panel_names_the_rule_for_a_template_token():
    from fake_assistant import MASK, VOCAB

    traj = make_trajectory(template=[VOCAB["Answer"]] + [MASK] * 6)
    html = render_inspector(inspect(traj, 0))
    assert "the template (fixed)" in html and "No candidates recorded" in html


@pytest.mark.parametrize("call, words", [
    (lambda api, t: api.inspect(t, 99, 1), "position"),
    (lambda api, t: api.inspect(t, 0, 42), "step"),
    (lambda api, t: api.inspect("not json", 0, 1), "JSON"),
    (lambda api, t: api.ground(None, t, 0), "image"),
    (lambda api, t: api.ground(EXAMPLE, t, 500), "position"),
    (lambda api, t: api.explore(EXAMPLE, "Describe.", thresholds="7"), "threshold"),
])
def test_bad_input_to_the_teaching_endpoints_is_a_clear_error(call, words):
    api, traj = TeachingApi(FakeAssistant()), make_trajectory(16).to_dict()
    with pytest.raises(gr.Error, match=words):
        call(api, traj)


def test_grounding_positions_of_the_answer_skip_the_template_and_padding():
    traj = make_trajectory(16)
    positions = grounding_positions("answer", traj)
    assert positions == list(range(traj.answer_end))
    assert grounding_positions("0, 3", traj) == [0, 3]
    with pytest.raises(ValueError, match="outside"):
        grounding_positions("16", traj)
