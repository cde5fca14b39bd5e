"""A real browser (Playwright + Debian Chromium) drives the studio like a person would.

Upload an image, ask, watch the canvas stream (frames with masked slots, then a
final frame with none), scrub the replay slider, use the structure-prior
editor, and take screenshots. Skips only when Chromium is not installed.
"""

from __future__ import annotations

import os
import re
import shutil
import time

import pytest

import studio_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("Chromium is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

EXAMPLE = str(studio_server.ROOT / "assets" / "examples" / "objects_1.png")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
SHOTS = os.environ.get("STUDIO_SCREENSHOTS")  # keep screenshots here if set
# Issue 4: the first frame is on screen within 1 s of Send (on an otherwise idle CPU).
FIRST_FRAME_BUDGET_MS = float(os.environ.get("STUDIO_FIRST_FRAME_BUDGET_MS", "1000"))

# Records every canvas frame the page shows: (ms since send, masked slots, step badge text).
OBSERVER = """() => {
  window.__frames = [];
  const root = document.querySelector('#dm-canvas');
  const snap = () => {
    const toks = root.querySelector('.dm-tokens');
    const step = root.querySelector('.dm-step');
    window.__frames.push({t: performance.now() - (window.__sent || 0),
                          masked: toks ? toks.querySelectorAll('.dm-mask').length : -1,
                          step: step ? step.textContent : '', done: !!root.querySelector('.dm-done')});
  };
  new MutationObserver(snap).observe(root, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with studio_server.serving(tmp_path_factory.mktemp("studio")) as (url, _, _):
        yield url


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto(server)
        pg.wait_for_selector("#dm-send", timeout=60_000)
        pg.wait_for_function("document.body.innerText.includes('device:')", timeout=60_000)
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = SHOTS or str(tmp_path_factory.mktemp("screenshots"))
    os.makedirs(folder, exist_ok=True)
    return folder


def _send_and_watch(page, prompt: str, timeout_s: float = 90) -> list[dict]:
    page.evaluate(OBSERVER)
    page.fill("#dm-prompt textarea", prompt)
    page.evaluate("window.__sent = performance.now()")
    page.click("#dm-send")
    page.wait_for_function("window.__frames.some(f => f.done)", timeout=timeout_s * 1000)
    return page.evaluate("window.__frames")


def _set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def _wait_replay_loaded(page) -> None:
    """The results handler runs after the canvas/status update: wait until it has set the replay slider."""
    page.wait_for_function("(() => { const b = document.querySelector('#dm-replay input[type=number]');"
                           " return b && Number(b.value) > 0; })()", timeout=30_000)


def test_live_trajectory_then_replay(page, shots):
    page.set_input_files("#dm-image input[type=file]", EXAMPLE)
    page.wait_for_selector("#dm-image img", timeout=20_000)
    _set_number(page, "dm-threshold", 0)  # threshold off: a few tokens per step, so many frames
    frames = _send_and_watch(page, "Describe the image.")
    live = [f for f in frames if f["masked"] > 0]
    assert live, frames
    first = live[0]
    first_step = next((f for f in frames if f["step"] and not f["step"].startswith("step 0")), None)
    print(f"\n[browser] first frame (masked canvas) {first['t']:.0f} ms after Send; first step "
          f"{first_step['t'] if first_step else float('nan'):.0f} ms; {len(frames)} frames; final {frames[-1]['t']:.0f} ms")
    assert first["t"] < FIRST_FRAME_BUDGET_MS, f"first frame after {first['t']:.0f} ms"
    assert any(f["masked"] > 0 and not f["step"].startswith("step 0") for f in frames), frames  # mid-decode frames
    assert frames[-1]["masked"] == 0 and frames[-1]["done"]
    # the frames arrived one by one while decoding, not all at once at the end
    steps_seen = {f["step"] for f in frames}
    assert len(steps_seen) >= 3, steps_seen
    page.screenshot(path=os.path.join(shots, "final.png"), full_page=True)

    # stats and the drawing-cost note (< 20% of a step's compute)
    page.wait_for_selector("#dm-drawing", timeout=30_000)
    note = page.inner_text("#dm-drawing")
    share = float(re.search(r"\(([\d.]+)% of a step", note).group(1))
    print(f"[browser] {note}")
    assert share < 20, note
    assert "tokens generated" in page.inner_text("#dm-stats").lower()

    # scrub the replay slider back to step 1
    total = int(re.search(r"step (\d+)", frames[-1]["step"]).group(1))
    _set_number(page, "dm-replay", 1)
    page.wait_for_function("document.querySelector('#dm-canvas .dm-step').textContent.startsWith('step 1 ')",
                           timeout=10_000)
    masked = page.locator("#dm-canvas .dm-tokens .dm-mask").count()
    assert total == 1 or masked > 0
    page.screenshot(path=os.path.join(shots, "replay.png"), full_page=False)
    # answer coloured by commit step, with hover titles
    page.get_by_role("tab", name="Answer by step").click()
    title = page.locator("#dm-answer .dm-tok").first.get_attribute("title")
    assert "step" in title


def test_template_editor_preview_error_and_locked_tokens(page, shots):
    page.get_by_text("Structure prior (template)").click()
    editor = page.locator("#dm-template textarea")
    editor.fill("Color: <mask:2>. Shape: <mask:x>")
    page.wait_for_function("document.querySelector('#dm-template-error').innerText.includes('character')",
                           timeout=15_000)
    editor.fill("Color: <mask:2>. Shape: <mask:3>.<eos>")
    page.wait_for_function("document.querySelectorAll('#dm-template-preview .dm-mask').length === 5",
                           timeout=15_000)
    assert page.inner_text("#dm-template-error").strip() == ""
    assert page.locator("#dm-template-preview .dm-lock").count() > 0
    page.screenshot(path=os.path.join(shots, "template.png"), full_page=True)
    _set_number(page, "dm-threshold", 0.9)
    frames = _send_and_watch(page, "What color is the object at the center?")
    assert frames[-1]["masked"] == 0
    assert page.locator("#dm-canvas .dm-tokens .dm-lock").count() > 0
    page.screenshot(path=os.path.join(shots, "template-run.png"), full_page=True)
    editor.fill("")


def test_compare_export_import_and_stop(page, shots, tmp_path):
    # Compare: threshold 0.9 vs off, side by side, with a verdict
    page.fill("#dm-prompt textarea", "Describe the image.")
    page.get_by_role("tab", name="Compare").click()
    page.click("#dm-compare")
    page.wait_for_function("document.querySelector('#dm-verdict').innerText.includes('faster')", timeout=90_000)
    verdict = page.inner_text("#dm-verdict")
    assert "Forward passes" in verdict and ("identical" in verdict or "differ" in verdict)
    assert page.locator("#dm-cmp-a .dm-done").count() == 1 and page.locator("#dm-cmp-b .dm-done").count() == 1
    page.screenshot(path=os.path.join(shots, "compare.png"), full_page=True)

    # Export JSON and GIF, then import the JSON back and replay it
    page.get_by_role("tab", name="Export / import").click()
    page.click("#dm-export-json")
    link = page.locator("#dm-json-file a[href]").first
    link.wait_for(timeout=30_000)
    body = page.request.get(link.get_attribute("href")).body()
    assert b'"dimple-trajectory"' in body
    page.click("#dm-export-gif")
    gif = page.locator("#dm-gif-file a[href]").first
    gif.wait_for(timeout=30_000)
    assert page.request.get(gif.get_attribute("href")).body()[:6] in (b"GIF89a", b"GIF87a")
    saved = tmp_path / "run.json"
    saved.write_bytes(body)
    page.click("#dm-clear")
    page.wait_for_function("document.querySelectorAll('#dm-canvas .dm-tokens').length === 0", timeout=10_000)
    page.set_input_files("#dm-import input[type=file]", str(saved))
    page.wait_for_function("document.querySelector('#dm-status').innerText.includes('imported')", timeout=30_000)
    assert page.locator("#dm-canvas .dm-done").count() == 1
    _wait_replay_loaded(page)
    _set_number(page, "dm-replay", 0)
    page.wait_for_function("document.querySelector('#dm-canvas .dm-step').textContent.startsWith('step 0 ')",
                           timeout=10_000)
    page.screenshot(path=os.path.join(shots, "import.png"), full_page=True)

    # Stop: a long run (threshold off, 128 slots) is cut short and says so
    _set_number(page, "dm-threshold", 0)
    _set_number(page, "dm-max-new", 128)
    _set_number(page, "dm-steps", 128)
    page.evaluate(OBSERVER)
    # press Stop from inside the page as soon as the first decoded step is on screen
    page.evaluate("""() => new MutationObserver((_, obs) => {
        const step = document.querySelector('#dm-canvas .dm-step');
        if (step && /^step [1-9]/.test(step.textContent)) { obs.disconnect(); document.querySelector('#dm-stop').click(); }
    }).observe(document.querySelector('#dm-canvas'), {subtree: true, childList: true})""")
    page.fill("#dm-prompt textarea", "Describe the image.")
    page.click("#dm-send")
    page.wait_for_function("document.querySelector('#dm-status').innerText.includes('stopped')", timeout=30_000)
    assert page.locator("#dm-canvas .dm-tokens .dm-mask").count() > 0
    assert "stopped" in page.inner_text("#dm-canvas")
    page.screenshot(path=os.path.join(shots, "stopped.png"), full_page=False)



def test_two_users_regenerate_random_scene_and_play(page, server, shots):
    """A second browser session has its own conversation; regenerate, random scene and play work."""
    browser = page.context.browser
    other = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    other.goto(server)
    other.wait_for_function("document.body.innerText.includes('device:')", timeout=60_000)
    other.click("#dm-scene")  # a fresh scene from the world generator, with a question
    other.wait_for_selector("#dm-image img", timeout=30_000)
    other.wait_for_function("document.querySelector('#dm-prompt textarea').value.length > 0", timeout=30_000)
    question = other.input_value("#dm-prompt textarea")
    _set_number(page, "dm-threshold", 0.9)
    page.fill("#dm-prompt textarea", "Is there a green square?")
    page.evaluate("window.__sent = performance.now()")
    page.click("#dm-send")
    other.click("#dm-send")
    for pg in (page, other):
        pg.wait_for_selector("#dm-canvas .dm-done", timeout=90_000)
        pg.wait_for_function("document.querySelector('#dm-status').innerText.includes('done')", timeout=30_000)
    mine, theirs = page.inner_text("#dm-chat"), other.inner_text("#dm-chat")
    assert "Is there a green square?" in mine and question not in mine
    assert question in theirs and "Is there a green square?" not in theirs

    # regenerate replaces the last answer instead of adding a turn
    other.evaluate(OBSERVER)
    other.click("#dm-regen")
    other.wait_for_function("window.__frames.some(f => f.step.startsWith('step 0 ')) && "
                            "window.__frames.some(f => f.done)", timeout=90_000)
    other.wait_for_function("document.querySelector('#dm-status').innerText.includes('done')", timeout=30_000)
    assert other.inner_text("#dm-chat").count(question) == 1

    # play animates the replay slider from step 0 up to the last step
    last = other.inner_text("#dm-canvas .dm-step").split(" /")[0]  # "step N" of the finished run
    other.evaluate(OBSERVER)
    other.click("#dm-play")
    other.wait_for_function(f"""() => {{
        const fr = window.__frames, i = fr.findIndex(f => f.step.startsWith('step 0 '));
        return i >= 0 && fr.slice(i).some(f => f.step.startsWith('{last} '));
    }}""", timeout=90_000)
    other.screenshot(path=os.path.join(shots, "second-user.png"), full_page=True)
    other.context.close()
