"""The lessons and the first screen in a real browser (Playwright + Debian Chromium) against the shipped model.

A whole lesson (predict, run & reveal, Next), `/?lesson=2` opening lesson 2 and surviving a reload at its
reveal step, a bad lesson number's message, the question box, Send, a picture and the Lessons entry inside the
first viewport at 1400x900 and 390x844, and the canvas in view after Send on the phone. Skips only without
Chromium. With STUDIO_SCREENSHOTS=folder it keeps first-screen-1400.png, first-screen-390.png and lesson.png
there (docs/).
"""

from __future__ import annotations

import os

import pytest

import studio_server

sync_api = studio_server.require_chromium()

SHOTS = os.environ.get("STUDIO_SCREENSHOTS")
WAIT = 120_000  # the machine is shared: generous waits


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with studio_server.serving(tmp_path_factory.mktemp("studio")) as (url, _, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=studio_server.CHROMIUM, headless=True,
                                    args=studio_server.CHROMIUM_ARGS)
        yield browser, url
        browser.close()


def _open(studio, query: str = "", width: int = 1400, height: int = 900):
    browser, url = studio
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(WAIT)
    page.goto(url + query)
    page.wait_for_function("document.body.innerText.includes('device:')", timeout=WAIT)
    return page


def _in_view(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and \
        box["x"] >= 0 and box["x"] + box["width"] <= size["width"]


def _shot(page, name: str, locator=None) -> None:
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        (locator or page).screenshot(path=os.path.join(SHOTS, name))


@pytest.mark.parametrize("width,height", [(1400, 900), (390, 844)])
def test_the_first_screen_shows_a_picture_the_question_box_send_and_the_lessons(studio, width, height):
    page = _open(studio, width=width, height=height)
    page.wait_for_selector("#dm-about-card summary", timeout=WAIT)
    page.wait_for_selector("#dm-image img", timeout=WAIT)
    for selector in ("#dm-image img", "#dm-prompt textarea", "#dm-send", "#dm-lessons-open"):
        assert _in_view(page, selector), (selector, page.locator(selector).first.bounding_box())
    summary = page.locator("#dm-about-card summary").bounding_box()
    assert summary["height"] < 40 and "more" in page.inner_text("#dm-about-card summary")
    assert page.locator("#dm-about-card").get_attribute("open") is None  # folded until asked
    _shot(page, f"first-screen-{width}.png")
    page.click("#dm-about-card summary")  # the "more" toggle opens the whole card
    page.wait_for_function("document.querySelector('#dm-about-card').open === true", timeout=WAIT)
    page.close()


def test_after_send_the_canvas_is_in_view_on_a_phone(studio):
    page = _open(studio, width=390, height=844)
    page.wait_for_selector("#dm-image img", timeout=WAIT)
    page.fill("#dm-prompt textarea", "How many blue objects are there?")
    page.click("#dm-send")
    page.wait_for_selector("#dm-canvas .dm-tokens", timeout=WAIT)
    page.wait_for_timeout(500)
    box = page.locator("#dm-canvas").bounding_box()
    assert -2 <= box["y"] < 844 - 60, box  # the canvas's top is on screen without scrolling by hand
    page.close()


def test_a_whole_lesson_predict_reveal_next(studio):
    page = _open(studio)
    page.click("#dm-lessons-open")
    page.wait_for_function("document.querySelector('#dm-lesson-title')?.innerText.includes('Lesson 1 of')",
                           timeout=WAIT)
    assert _in_view(page, "#dm-lesson-title")
    assert "Predict:" in page.inner_text("#dm-lesson-predict")
    page.locator("#dm-lesson-predict label").nth(1).click()  # the prediction
    page.click("#dm-lesson-run")
    page.wait_for_function("document.querySelector('#dm-lesson-reveal')?.innerText.includes('The answer:')",
                           timeout=WAIT)
    reveal = page.inner_text("#dm-lesson-reveal")
    assert ("You predicted right." in reveal) or ("Not this time." in reveal)
    assert "forward passes" in reveal and page.locator("#dm-lesson-reveal .dm-tokens").count() == 1
    page.wait_for_function("location.search.includes('lesson=1') && location.search.includes('step=2')",
                           timeout=WAIT)
    _shot(page, "lesson.png", page.locator("#dm-lessons"))
    page.click("#dm-lesson-next")
    page.wait_for_function("document.querySelector('#dm-lesson-title')?.innerText.includes('Lesson 2 of')",
                           timeout=WAIT)
    assert page.inner_text("#dm-lesson-reveal").strip() == ""
    page.wait_for_function("location.search.includes('lesson=2') && location.search.includes('step=1')",
                           timeout=WAIT)
    page.close()


def test_lesson_2_opens_by_url_and_survives_a_reload_at_its_reveal(studio):
    page = _open(studio, "?lesson=2")
    page.wait_for_function("document.querySelector('#dm-lesson-title')?.innerText.includes('Lesson 2 of')",
                           timeout=WAIT)
    page.wait_for_function("document.title.startsWith('Lesson 2')", timeout=WAIT)
    page.locator("#dm-lesson-predict label").first.click()
    page.click("#dm-lesson-run")
    page.wait_for_function("location.search.includes('step=2') && location.search.includes('guess=0')",
                           timeout=WAIT)
    page.reload()
    page.wait_for_function("document.querySelector('#dm-lesson-title')?.innerText.includes('Lesson 2 of')",
                           timeout=WAIT)
    page.wait_for_function("document.querySelector('#dm-lesson-reveal')?.innerText.includes('The answer:')",
                           timeout=WAIT)
    assert "lesson=2" in page.url and "step=2" in page.url
    page.close()


def test_a_bad_lesson_number_gets_a_clear_message(studio):
    page = _open(studio, "?lesson=99")
    page.wait_for_function("document.querySelector('#dm-lesson-msg')?.innerText.includes('no lesson')",
                           timeout=WAIT)
    assert "1 to" in page.inner_text("#dm-lesson-msg")
    page.close()


def test_copy_link_writes_the_controls_and_a_link_sets_them(studio):
    page = _open(studio, "?threshold=0.42&q=Where%20is%20the%20blue%20square%3F")
    page.wait_for_function("document.querySelector('#dm-threshold input[type=number]').value === '0.42'",
                           timeout=WAIT)
    assert page.input_value("#dm-prompt textarea") == "Where is the blue square?"
    page.click("#dm-share")
    page.wait_for_function("location.search.includes('threshold=0.42') && location.search.includes('example=')",
                           timeout=WAIT)
    page.close()
