"""A real browser (Playwright + Debian Chromium) on issue 33's views: block edges on the canvas, the live race,
and the playback speed setting the frame interval.

No pass counts are written in advance (the shipped model changes): the edges
expected follow from the canvas length the page shows and the block length
chosen; the race is live when both sides change before either is done; the
speed test compares the intervals between Play's frames at 0.25x and 4x.
"""

from __future__ import annotations

import math
import statistics

import pytest

import studio_server

sync_api = studio_server.require_chromium()
WAIT_MS = 120_000  # the machine is shared: generous waits, never "networkidle"

# Records every change of the given canvases: (ms, element id, step badge text, masked slots, done, race side state).
OBSERVER = """(ids) => {
  window.__seen = [];
  for (const id of ids) {
    const root = document.querySelector('#' + id);
    const snap = () => {
      const step = root.querySelector('.dm-step'), side = root.querySelector('.dm-race-side');
      window.__seen.push({t: performance.now(), id, step: step ? step.textContent : '',
                          masked: root.querySelectorAll('.dm-mask').length, done: !!root.querySelector('.dm-done'),
                          nfe: side ? Number(side.dataset.nfe) : -1, state: side ? side.dataset.state : ''});
    };
    new MutationObserver(snap).observe(root, {subtree: true, childList: true, characterData: true, attributes: true});
  }
}"""


# Play has shown steps 0, 1 and 2 (a frame of the decode that ended just before may still land first)
PLAYED_THREE = """() => { const s = window.__seen, i = s.findIndex(f => f.step.startsWith('step 0 '));
  return i >= 0 && new Set(s.slice(i).map(f => f.step)).size >= 3; }"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with studio_server.serving(tmp_path_factory.mktemp("studio")) as (url, _, _), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=studio_server.CHROMIUM, headless=True,
                                    args=studio_server.CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(WAIT_MS)
        pg.goto(url)
        pg.wait_for_selector("#dm-send", timeout=WAIT_MS)
        pg.wait_for_function("document.body.innerText.includes('device:')", timeout=WAIT_MS)
        yield pg
        browser.close()


def _choose(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input").first
    box.click()
    box.fill(value)
    box.press("Enter")
    page.locator("body").click(position={"x": 5, "y": 5})


def _ask(page, prompt="Describe the image.") -> None:
    page.evaluate(OBSERVER, ["dm-canvas"])
    page.fill("#dm-prompt textarea", prompt)
    page.click("#dm-send")
    # the new decode's step 0, then its finished frame (the canvas and status of the run before say done too)
    page.wait_for_function("""() => { const s = window.__seen, i = s.findIndex(f => f.step.startsWith('step 0 '));
      return i >= 0 && s.slice(i).some(f => f.done); }""", timeout=WAIT_MS)
    page.wait_for_function("document.querySelector('#dm-status').innerText.includes('done')", timeout=WAIT_MS)


def test_block_decoding_draws_its_boundaries(page):
    _choose(page, "dm-block-length", "8")
    _ask(page)
    canvas = int(page.eval_on_selector("#dm-canvas", "r => r.querySelectorAll('[data-pos]').length"))
    edges = page.eval_on_selector_all("#dm-canvas .dm-block-edge", "es => es.map(e => Number(e.dataset.block))")
    assert edges == list(range(1, math.ceil(canvas / 8)))  # one edge before every block after the first
    first = page.eval_on_selector("#dm-canvas .dm-block-edge", "e => e.nextElementSibling.dataset.pos")
    assert int(first) == 8
    assert "blocks" in page.inner_text("#dm-canvas .dm-block")


def test_playback_speed_changes_the_frame_interval(page):
    _choose(page, "dm-speed", "auto")
    _choose(page, "dm-block-length", "4")  # blocks of 4: a decode of many passes, whatever the model, to play back
    _ask(page)
    intervals = {}
    for speed in ("0.25x", "4x"):
        _choose(page, "dm-speed", speed)
        page.evaluate(OBSERVER, ["dm-canvas"])
        page.click("#dm-play")
        page.wait_for_function(PLAYED_THREE, timeout=WAIT_MS)
        page.click("#dm-pause")
        seen = page.evaluate("window.__seen")
        seen = seen[next(i for i, f in enumerate(seen) if f["step"].startswith("step 0 ")):]
        changes = [seen[0]["t"]] + [f["t"] for a, f in zip(seen, seen[1:]) if f["step"] != a["step"]]
        intervals[speed] = statistics.median(b - a for a, b in zip(changes, changes[1:]))
    assert intervals["0.25x"] > 3 * intervals["4x"], intervals
    assert intervals["0.25x"] >= 1500  # 0.25x: 2 s a step (app/pace.py), less what a busy machine shaves off


def test_the_race_runs_live_on_both_sides(page):
    _choose(page, "dm-speed", "auto")
    _choose(page, "dm-block-length", "off (whole canvas)")
    page.click("#dm-race-tab-button") if page.locator("#dm-race-tab-button").count() else \
        page.get_by_role("tab", name="Race").click()
    page.evaluate(OBSERVER, ["dm-race-a", "dm-race-b", "dm-race-stats-a", "dm-race-stats-b"])
    page.click("#dm-race")
    page.wait_for_function("window.__seen.some(f => f.id === 'dm-race-stats-b' && f.state === 'done')",
                           timeout=WAIT_MS)
    seen = page.evaluate("window.__seen")
    slow = [f for f in seen if f["id"] == "dm-race-stats-b" and f["nfe"] >= 0]
    fast = [f for f in seen if f["id"] == "dm-race-stats-a" and f["nfe"] >= 0]
    b_done = next(f["t"] for f in slow if f["state"] == "done")
    assert any(f["t"] < b_done for f in fast)  # the confident side showed its counters while the other still ran
    nfes = [f["nfe"] for f in slow if f["state"] == "decoding\u2026"]
    assert len(set(nfes)) >= 3 and nfes == sorted(nfes)  # one token per step: its counter climbs live
    assert slow[-1]["nfe"] > max(f["nfe"] for f in fast)
    assert page.locator("#dm-race-a .dm-done").count() and page.locator("#dm-race-b .dm-done").count()
    assert "forward pass" in page.inner_text("#dm-race-verdict")  # "1 forward pass" or "N forward passes"
