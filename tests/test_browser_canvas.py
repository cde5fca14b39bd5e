"""The large live canvas in a real browser (Playwright + Debian Chromium): a 1,024-slot run drawn on the grid,
scrubbed from its film without the server, drawing what the server would, and clickable. Skips only without
Chromium. A semi-autoregressive decode (`?block=64`, a second page on the same studio) draws a bar at the left of
every cell that starts a block, read back from the grid's pixels, through incremental repaints. Its speed is
scripts/measure_canvas.py's (a benchmark, not a test). With STUDIO_SCREENSHOTS=folder it keeps canvas-1024.png
and blocks-large-canvas.png there (steps of the grid; docs/)."""

from __future__ import annotations

import os

import pytest

import studio_server
from standin_assistant import StandInAssistant

sync_api = studio_server.require_chromium()
pytestmark = pytest.mark.slow

STEPS = 40
BLOCK = 64  # the 1,024-slot canvas in 16 blocks


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


# The colour 1 px inside the left of each cell in args.pos, at mid height and on its bottom row (where a ghost's bar
# lies), as [r, g, b] from the grid's pixels; the grid's columns from its CSS width.
PIXELS = """(args) => {
  const cv = document.querySelector('#dm-canvas canvas.dm-grid'), G = args.grid, ctx = cv.getContext('2d');
  const sw = G.cell_width + G.gap, sh = G.cell_height + G.gap, width = parseFloat(cv.style.width);
  const cols = Math.round(width / sw), dpr = cv.width / width;
  const at = (i, dy) => Array.from(ctx.getImageData(Math.floor(((i % cols) * sw + 1) * dpr),
    Math.floor((Math.floor(i / cols) * sh + dy) * dpr), 1, 1).data.slice(0, 3));
  return args.pos.map(i => [at(i, G.cell_height / 2), at(i, G.cell_height - 1)]);
}"""


def _scrub(page, n: int) -> None:
    page.evaluate("""(n) => { const r = document.querySelector('#dm-replay input[type=range]');
      r.value = String(n); r.dispatchEvent(new Event('input', {bubbles: true})); }""", n)


@pytest.fixture(scope="module")
def blocks(studio):
    """A second page on the studio, opened with ?block=64, after one decode there; (page, its Trajectory)."""
    page, _ = studio
    assistant = StandInAssistant(step_seconds=0.0)
    traj = None
    for traj in assistant.stream(None, "x", assistant.default_config.with_(steps=STEPS, block_length=BLOCK)):
        pass
    second = page.context.browser.new_page(viewport=page.viewport_size)
    second.goto(page.url.split("?")[0] + f"?block={BLOCK}")
    second.wait_for_function("document.body.innerText.includes('device:')", timeout=60_000)
    second.wait_for_function(f"document.querySelector('#dm-block-length input').value === '{BLOCK}'", timeout=30_000)
    second.fill("#dm-prompt textarea", "Describe the image.")
    second.click("#dm-send")
    second.wait_for_function("document.querySelector('#dm-status').innerText.includes('done after')", timeout=120_000)
    second.wait_for_function(f"Number(document.querySelector('#dm-replay input[type=number]').value) === {traj.nfe}",
                             timeout=30_000)
    yield second, traj
    second.close()


def _cell_pixels(page, positions):
    from app.canvas import dense as dense_view

    return page.evaluate(PIXELS, {"grid": dense_view.GRID, "pos": positions})


def test_a_block_decode_on_a_large_canvas_draws_a_bar_at_each_block_start_and_at_no_other_cell(blocks):
    from app.canvas.colours import rgb

    page, traj = blocks
    starts = [lo for lo, _ in traj.block_bounds()[1:]]
    assert starts == list(range(BLOCK, 1024, BLOCK))
    bar = list(rgb("block"))
    for n in (traj.nfe, 1, 12, 13):  # the last step, then scrubs: each repaints only the cells that changed
        if n != traj.nfe:
            _scrub(page, n)
        box = page.locator("#dm-canvas .dm-tokens.dm-dense")
        assert box.get_attribute("data-step") == str(n)
        assert box.get_attribute("data-edges") == " ".join(map(str, starts)), n
        drawn = _cell_pixels(page, starts + [s + 1 for s in starts] + [0, BLOCK - 1])
        edges, others = drawn[:len(starts)], drawn[len(starts):]
        assert all(mid == bar and bottom == bar for mid, bottom in edges), (n, edges[:3])
        assert not any(mid == bar or bottom == bar for mid, bottom in others), (n, others[:3])


def test_a_large_block_canvas_shows_the_block_badge_of_each_step(blocks):
    page, traj = blocks
    _scrub(page, 12)
    active = traj.steps[11].block  # the block step 12 decoded: still active after it, or the next one is
    assert page.inner_text("#dm-canvas .dm-head .dm-block") in (f"block {active + 1} / 16", f"block {active + 2} / 16")
    if os.environ.get("STUDIO_SCREENSHOTS"):
        os.makedirs(os.environ["STUDIO_SCREENSHOTS"], exist_ok=True)
        page.locator("#dm-canvas").screenshot(path=os.path.join(os.environ["STUDIO_SCREENSHOTS"],
                                                                 "blocks-large-canvas.png"))
    _scrub(page, traj.nfe)
    assert page.inner_text("#dm-canvas .dm-head .dm-block") == "16 blocks"


def test_a_large_block_canvas_tints_the_masked_cells_of_the_active_block_only(blocks):
    from app.canvas import client as canvas_client
    from app.canvas.colours import rgb

    page, traj = blocks
    _scrub(page, 12)
    want = canvas_client.frame(traj, 12)
    lo, hi = want["active"]
    masked = [i for i, c in enumerate(want["cls"]) if c[0] in "mg" and i % BLOCK]  # not a block's first cell
    inside, outside = [i for i in masked if lo <= i < hi], [i for i in masked if i >= hi]
    assert inside and outside
    tint = list(rgb("block-badge"))
    drawn = _cell_pixels(page, inside[:5] + outside[:5])
    assert [mid for mid, _ in drawn] == [tint] * len(inside[:5]) + [list(rgb("mask"))] * len(outside[:5])
