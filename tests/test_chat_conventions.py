"""Chat conventions in a real browser: the app opens on a picture (so "hello" gets the greeting), Enter sends,
Shift+Enter breaks the line, the box clears and keeps focus, the card's suggestions fill the box in one click, a
new scene's or an example's question is selected so that typing replaces it (also after a click in the box), Tiny's presets are offered, the keyboard reaches
every control."""

from __future__ import annotations

import pytest

import studio_server

sync_api = studio_server.require_chromium()
pytestmark = pytest.mark.slow
EXAMPLE = str(studio_server.ROOT / "assets" / "examples" / "objects_1.png")
BOX = "#dm-prompt textarea"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with studio_server.studio_page(tmp_path_factory.mktemp("chat")) as opened:
        yield opened


def _chat_turns(page) -> int:
    return page.locator("#dm-chat .message-row, #dm-chat [data-testid='user']").count()


def test_the_app_opens_on_an_example_picture_and_hello_gets_the_greeting(app):
    from dimple.tiny import replies

    page, _ = app
    assert page.locator("#dm-image img").count() == 1  # before any upload: the first example is on screen
    page.click(BOX)
    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    forms = list(replies.REPLY_FORMS[replies.REPLIES["greeting"]])  # the shipped Dimple-Tiny's reply, in any form
    page.wait_for_function("document.querySelectorAll('#dm-chat [data-testid=bot]').length >= 1", timeout=60_000)
    page.wait_for_function(f"{forms!r}.some(f => document.querySelector('#dm-chat [data-testid=bot]').innerText"
                           ".includes(f))", timeout=60_000)
    page.click("#dm-clear")


def test_enter_sends_clears_the_box_and_keeps_its_focus(app):
    page, _ = app
    page.set_input_files("#dm-image input[type=file]", EXAMPLE)
    page.wait_for_timeout(800)
    page.click(BOX)
    page.keyboard.type("How many objects are there?")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#dm-chat').innerText.includes('How many objects')",
                           timeout=60_000)
    page.wait_for_function(f"document.querySelector('{BOX}').value === ''", timeout=30_000)
    assert page.evaluate(f"document.activeElement === document.querySelector('{BOX}')")


def test_shift_enter_starts_a_new_line_without_sending(app):
    page, _ = app
    page.click(BOX)
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    page.wait_for_timeout(300)
    assert page.input_value(BOX) == "first line\nsecond line"
    assert "second line" not in page.inner_text("#dm-chat")
    page.fill(BOX, "")


def test_a_suggestion_fills_the_box_in_one_click(app):
    page, assistant = app
    first = assistant.suggestions[0]
    page.locator("#dm-suggest button", has_text=first).first.click()
    page.wait_for_function(f"document.querySelector('{BOX}').value === {first!r}", timeout=10_000)


def test_a_new_random_scenes_question_is_selected_so_typing_replaces_it(app):
    page, _ = app
    page.fill(BOX, "")
    page.click("#dm-scene")
    page.wait_for_function(f"document.querySelector('{BOX}').value !== ''", timeout=30_000)
    page.wait_for_function(f"(() => {{ const b = document.querySelector('{BOX}'); return document.activeElement"
                           " === b && b.selectionEnd - b.selectionStart === b.value.length; })()", timeout=10_000)
    page.keyboard.type("hello")
    assert page.input_value(BOX) == "hello"
    page.fill(BOX, "")


def test_an_examples_question_is_replaced_by_typing_even_after_a_click_in_the_box(app):
    page, _ = app
    page.fill(BOX, "")
    page.locator("#dm-examples button").nth(1).click()
    page.wait_for_function(f"document.querySelector('{BOX}').value !== ''", timeout=30_000)
    offered = page.input_value(BOX)
    page.wait_for_timeout(300)
    page.click(BOX)  # a visitor clicks the box before typing
    page.keyboard.type("hello")
    assert page.input_value(BOX) == "hello", f"typed words joined the offered {offered!r}"
    page.click(BOX)  # once the visitor typed, a click places the caret as usual
    page.keyboard.press("End")
    page.keyboard.type(" there")
    assert page.input_value(BOX) == "hello there"
    page.fill(BOX, "")


def test_the_preset_menu_offers_the_models_own_presets(app):
    page, assistant = app
    page.click("text=Structure prior (template)")
    page.click("#dm-preset input")
    for name in assistant.presets:
        assert page.locator("ul[role=listbox] li", has_text=name).count() >= 1, name
    page.keyboard.press("Escape")


def test_the_keyboard_reaches_the_main_controls(app):
    page, _ = app
    page.click(BOX)
    reached = set()
    for _ in range(120):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("(() => { const e = document.activeElement;"
                                  " const host = e && e.closest('[id^=dm-]'); return host ? host.id : ''; })()"))
    for control in ("dm-send", "dm-stop", "dm-threshold", "dm-steps", "dm-replay", "dm-scene"):
        assert control in reached, (control, sorted(reached))
