"""Start Dimple Studio on a free loopback port inside the test process (for API and browser tests).

Owns choosing the model for UI tests: the shipped Dimple-Tiny when its weights
are present, otherwise a random-weight checkpoint of the same architecture
(the real Assistant and engine, only the answers are nonsense), so the app is
always tested end to end against the real library.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_assistant(tmp_dir: Path):
    """(assistant, kind): Dimple-Tiny if shipped, else a random-weight checkpoint."""
    from dimple.assistant import Assistant

    try:
        return Assistant.load("tiny", device="cpu"), "tiny"
    except Exception as exc:  # weights not trained/exported yet
        from conftest import make_random_checkpoint

        print(f"[studio tests] Dimple-Tiny unavailable ({exc}); using a random-weight checkpoint", flush=True)
        folder = make_random_checkpoint(Path(tmp_dir) / "random-dimple")
        return Assistant.load(str(folder), device="cpu"), "random"


def start(assistant, concurrency: int = 2, max_size: int = 32):
    """Launch the studio; returns (demo, url). Call demo.close() when done."""
    from app.page import build_demo, launch_options

    demo = build_demo(assistant)
    demo.queue(default_concurrency_limit=concurrency, max_size=max_size)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **launch_options())
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    return demo, url


@contextlib.contextmanager
def serving(tmp_dir: Path):
    """The studio on the shipped model (or a random checkpoint) for the block: yields (url, assistant, kind)."""
    assistant, kind = load_assistant(tmp_dir)
    demo, url = start(assistant)
    try:
        yield url, assistant, kind
    finally:
        demo.close()


# ----- a browser on the studio (Playwright + Debian Chromium) ---------------------------------------
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def require_chromium():
    """The Playwright sync API, or skip the calling test module when Chromium or Playwright is missing."""
    import shutil

    import pytest

    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip("Chromium is not installed", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api")


@contextlib.contextmanager
def studio_page(tmp_dir: Path, width: int = 1400, height: int = 1000, assistant=None):
    """(page, assistant): the studio on `assistant` (default: the shipped model), open in headless Chromium once
    the header has loaded."""
    from playwright.sync_api import sync_playwright

    if assistant is None:
        assistant, _ = load_assistant(tmp_dir)
    demo, url = start(assistant)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)
            page.wait_for_function("document.body.innerText.includes('device:')", timeout=60_000)
            yield page, assistant
            browser.close()
    finally:
        demo.close()
