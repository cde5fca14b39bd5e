"""A real browser branches a decode: edit a replay step, resume, see the branch beside the original; and step
by hand. Screenshots go to $STUDIO_SCREENSHOTS when set (docs/branch.png is `branch.png`)."""

from __future__ import annotations

import os

import pytest

import studio_server
from test_browser import EXAMPLE, _set_number, _wait_replay_loaded  # noqa: F401 - test_browser skips without Chromium


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with studio_server.studio_page(tmp_path_factory.mktemp("studio")) as (pg, _assistant):
        yield pg


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = os.environ.get("STUDIO_SCREENSHOTS") or str(tmp_path_factory.mktemp("screenshots"))
    os.makedirs(folder, exist_ok=True)
    return folder


def _ask(page, prompt: str, image: str = EXAMPLE) -> None:
    page.set_input_files("#dm-image input[type=file]", image)
    page.wait_for_selector("#dm-image img", timeout=20_000)
    page.fill("#dm-prompt textarea", prompt)
    page.click("#dm-send")
    page.wait_for_selector("#dm-canvas .dm-done", timeout=90_000)
    _wait_replay_loaded(page)


def _open_step(page, step: int) -> None:
    page.get_by_role("tab", name="Branch").click()
    page.wait_for_selector("#dm-branch-open", timeout=10_000)
    _set_number(page, "dm-branch-step", step)
    page.click("#dm-branch-open")
    page.wait_for_selector("#dm-branch-editor .dm-bt", timeout=15_000)


def test_edit_resume_and_the_branch_is_shown_beside_the_original(page, shots):
    _ask(page, "Describe the image.", EXAMPLE.replace("objects_1", "objects_0"))  # docs/branching.md's example
    total = int(page.input_value("#dm-replay input[type=number]"))
    _open_step(page, total)
    page.click('#dm-branch-editor [data-pos="11"]')
    page.wait_for_selector('#dm-branch-editor .dm-selected[data-pos="11"]', timeout=10_000)
    page.fill("#dm-branch-word textarea", "circle")
    page.click("#dm-branch-set-word")
    page.wait_for_selector('#dm-branch-editor .dm-edited[data-pos="11"]', timeout=10_000)
    page.click("#dm-branch-remask-rest")
    page.wait_for_function("document.querySelectorAll('#dm-branch-editor .dm-mask').length > 5", timeout=10_000)
    page.click("#dm-branch-resume")
    page.wait_for_selector("#dm-branch-compare #dm-branch-diff", timeout=90_000)
    compare = page.inner_text("#dm-branch-compare")
    assert "original" in compare and "branch 1" in compare and "passes" in compare
    assert page.locator("#dm-branch-compare .dm-diff").count() >= 2  # highlighted in both answers
    assert page.locator("#dm-branch-live .dm-done").count() == 1
    page.locator("#dm-branch-tab").screenshot(path=os.path.join(shots, "branch.png"))


def test_manual_stepping_shows_the_engines_choice_and_steps_to_the_end(page, shots):
    if page.locator("#dm-canvas .dm-done").count() == 0:
        _ask(page, "Describe the image.")
    _open_step(page, 0)
    page.click("#dm-manual-start")
    page.wait_for_selector("#dm-manual .dm-tokens .dm-engine", timeout=30_000)
    assert "would commit" in page.inner_text("#dm-manual-message")
    # pick a masked position the engine did not choose, commit it, then accept the engine's choices
    free = page.locator("#dm-manual .dm-tokens .dm-mask:not(.dm-engine)")
    if free.count():
        free.first.click()
        page.wait_for_selector("#dm-manual .dm-tokens .dm-pick", timeout=10_000)
        page.click("#dm-manual-commit")
        page.wait_for_function("document.querySelector('#dm-manual-message').innerText.includes('Step')",
                               timeout=30_000)
    for _ in range(60):
        if page.locator("#dm-manual-done").count():
            break
        before = page.inner_text("#dm-manual .dm-head")
        page.click("#dm-manual-accept")
        page.wait_for_function(f"document.querySelector('#dm-manual .dm-head').innerText !== {before!r}",
                               timeout=30_000)
    assert page.locator("#dm-manual-done").count() == 1
    assert page.locator("#dm-manual .dm-tokens .dm-mask").count() == 0
    page.locator("#dm-manual").screenshot(path=os.path.join(shots, "manual.png"))
