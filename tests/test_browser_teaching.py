"""The teaching tools in a real browser (Playwright + Debian Chromium): ghosts and narration while decoding live,
the token inspector in replay, a grounding heatmap, and the threshold explorer. Skips only without Chromium.

With STUDIO_SCREENSHOTS=folder it keeps teaching.png there (the ghost view beside the inspector; docs/teaching.png).
"""

from __future__ import annotations

import os

import pytest

import studio_server

sync_api = studio_server.require_chromium()

EXAMPLE = str(studio_server.ROOT / "assets" / "examples" / "objects_1.png")
SHOTS = os.environ.get("STUDIO_SCREENSHOTS")

# Records, for every canvas frame the page shows: ghost slots, confidence bars, the narration line, done.
OBSERVER = """() => {
  window.__frames = [];
  const root = document.querySelector('#dm-canvas');
  new MutationObserver(() => {
    const toks = root.querySelector('.dm-tokens');
    const line = root.querySelector('.dm-narration');
    window.__frames.push({ghosts: toks ? toks.querySelectorAll('.dm-ghost').length : 0,
                          bars: toks ? toks.querySelectorAll('.dm-bar').length : 0,
                          line: line ? line.textContent : '', done: !!root.querySelector('.dm-done')});
  }).observe(root, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with studio_server.studio_page(tmp_path_factory.mktemp("studio"), height=1100) as (pg, _assistant):
        pg.set_input_files("#dm-image input[type=file]", EXAMPLE)
        pg.wait_for_selector("#dm-image img", timeout=20_000)
        yield pg


def _set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def test_ghosts_and_narration_show_during_a_live_decode(page):
    _set_number(page, "dm-threshold", 0)  # threshold off: a few commits per step, many frames with ghosts
    page.evaluate(OBSERVER)
    page.fill("#dm-prompt textarea", "Describe the image.")
    page.click("#dm-send")
    page.wait_for_function("window.__frames.some(f => f.done)", timeout=120_000)
    frames = page.evaluate("window.__frames")
    live = [f for f in frames if f["ghosts"] > 0 and not f["done"]]
    assert live, frames[:5]
    assert all(f["bars"] >= f["ghosts"] for f in live)
    assert any(f["line"].startswith("Step ") and "the schedule commits" in f["line"] for f in live)
    assert "Done: nothing is masked" in frames[-1]["line"]


def test_the_inspector_opens_in_replay_and_shows_a_grounding_heatmap(page):
    page.wait_for_function("Number(document.querySelector('#dm-replay input[type=number]').value) > 1",
                           timeout=30_000)
    _set_number(page, "dm-replay", 1)
    page.wait_for_function("document.querySelector('#dm-canvas .dm-tokens').dataset.step === '1'", timeout=15_000)
    page.locator("#dm-canvas .dm-tokens .dm-ghost").nth(2).click()
    page.wait_for_function("document.querySelector('#dm-inspector').innerText.includes('Top candidates at step 1')",
                           timeout=15_000)
    text = page.inner_text("#dm-inspector")
    assert "committed at step" in text and "best guess" in text
    page.wait_for_selector("#dm-grounding img", timeout=30_000)
    assert "Peak: row" in page.inner_text("#dm-grounding-note")
    shot = page.locator("#dm-canvas").locator("xpath=ancestor::div[contains(@class,'column')][1]")
    path = os.path.join(SHOTS, "teaching.png") if SHOTS else None
    if path:
        os.makedirs(SHOTS, exist_ok=True)
        shot.screenshot(path=path)


def test_the_explorer_decodes_every_threshold_and_says_how_long(page):
    _set_number(page, "dm-threshold", 0.9)
    page.get_by_role("tab", name="Threshold explorer").click()
    page.click("#dm-explore")
    page.wait_for_selector("#dm-explore-time", timeout=60_000)
    rows = page.locator("#dm-explore-out tr").count()
    assert rows == 1 + 1 + 12  # header, the schedule-only reference, twelve thresholds
    seconds = float(page.inner_text("#dm-explore-time").split()[0])
    print(f"\n[browser] threshold explorer: {seconds:.2f} s for 12 thresholds + off")
    assert "off (schedule)" in page.inner_text("#dm-explore-out")
