"""The large live canvas in a real browser (Playwright + Debian Chromium): a 1,024-slot run drawn on the grid,
scrubbed from its film without the server, drawing what the server would, and clickable. Skips only without
Chromium. Its speed is scripts/measure_canvas.py's (a benchmark, not a test). With STUDIO_SCREENSHOTS=folder it
keeps canvas-1024.png there (a step of the grid; docs/canvas-1024.png)."""

from __future__ import annotations

import os

import pytest

import studio_server
from standin_assistant import StandInAssistant

sync_api = studio_server.require_chromium()
pytestmark = pytest.mark.slow

STEPS = 40


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    assistant = StandInAssistant(step_seconds=0.0)
    assistant.default_config = assistant.default_config.with_(steps=STEPS)
    with studio_server.studio_page(tmp_path_factory.mktemp("canvas"), assistant=assistant) as (page, _):
        page.fill("#dm-prompt textarea", "Describe the image.")
        page.click("#dm-send")
        page.wait_for_function("document.querySelector('#dm-status').innerText.includes('done after')",
                               timeout=120_000)
        page.wait_for_function(f"Number(document.querySelector('#dm-replay input[type=number]').value) === {STEPS}",
                               timeout=30_000)
        traj = None
        for traj in assistant.stream(None, "x", assistant.default_config):
            pass
        yield page, traj


def test_a_large_run_is_drawn_on_one_grid_element_at_its_last_step(studio):
    page, traj = studio
    box = page.locator("#dm-canvas .dm-tokens.dm-dense")
    assert box.get_attribute("data-step") == str(traj.nfe)
    assert page.locator("#dm-canvas .dm-tokens canvas.dm-grid").count() == 1
    assert page.locator("#dm-canvas .dm-tokens span").count() == 0  # no DOM node per slot
    assert "Done: nothing is masked" in page.inner_text("#dm-canvas .dm-narration")


def test_the_film_draws_every_step_as_the_server_frame_would(studio):
    from app.canvas import client as canvas_client

    page, traj = studio
    for n in (0, 1, 2, STEPS // 2, traj.nfe):
        drawn = page.evaluate("(n) => document.querySelector('#dm-canvas .dm-host').dmFilmFrame(n)", n)
        want = canvas_client.frame(traj, n)
        for key in ("step", "cls", "txt", "unit", "bg", "head", "narr"):
            assert drawn[key] == want[key], (n, key)
    assert any("g" in c for c in canvas_client.frame(traj, 1)["cls"])  # ghosts were compared, not only masks


def test_moving_the_replay_slider_draws_that_step_before_any_server_answer(studio):
    page, _ = studio
    step = page.evaluate("""() => {
      const range = document.querySelector('#dm-replay input[type=range]');
      range.value = '3';
      range.dispatchEvent(new Event('input', {bubbles: true}));
      return document.querySelector('#dm-canvas .dm-tokens').dataset.step;  // read in the same task
    }""")
    assert step == "3"
    if os.environ.get("STUDIO_SCREENSHOTS"):
        page.evaluate("""() => { const r = document.querySelector('#dm-replay input[type=range]');
          r.value = '12'; r.dispatchEvent(new Event('input', {bubbles: true})); }""")
        os.makedirs(os.environ["STUDIO_SCREENSHOTS"], exist_ok=True)
        page.locator("#dm-canvas").screenshot(path=os.path.join(os.environ["STUDIO_SCREENSHOTS"], "canvas-1024.png"))


def test_clicking_a_grid_cell_opens_the_inspector_on_that_position(studio):
    from app.canvas import client as canvas_client

    page, _ = studio
    page.evaluate("""() => { const r = document.querySelector('#dm-replay input[type=range]');
      r.value = '1'; r.dispatchEvent(new Event('input', {bubbles: true})); }""")
    page.wait_for_timeout(canvas_client.SCRUB_HOLD_MS + 100)  # past the window in which a late server frame is ignored
    grid = page.locator("#dm-canvas canvas.dm-grid")
    grid.click(position={"x": 3, "y": 3})  # the first cell: position 0
    page.wait_for_function("document.querySelector('#dm-inspector').innerText.includes('position 0')",
                           timeout=20_000)


def test_the_compare_tab_draws_both_large_runs_on_grids_with_their_stats(studio):
    page, traj = studio
    page.get_by_role("tab", name="Compare").click()
    page.click("#dm-compare")
    page.wait_for_function("document.querySelector('#dm-verdict').innerText.includes('faster')", timeout=120_000)
    for side in "ab":
        assert page.locator(f"#dm-cmp-{side} .dm-tokens canvas.dm-grid").count() == 1
        assert page.locator(f"#dm-cmp-{side} .dm-tokens span").count() == 0
        assert "forward passes" in page.inner_text(f"#dm-cmp-stats-{side}").lower()
    assert "A: threshold" in page.inner_text("#dm-cmp-a .dm-head") and "B: threshold" in page.inner_text("#dm-cmp-b")
