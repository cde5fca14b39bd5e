"""The studio at the 7B's scale in Chromium: `python tests/measure_canvas.py [--step-ms 50] [--json]`.

A stand-in (tests/standin_assistant.py) streams 1,024-token canvases decoded
in 300 steps, with ghosts on every masked slot, through the real studio
(handlers, render, Gradio, a headless Debian Chromium). It prints:
  1. drawing one frame: the server's render_canvas (Python) plus the browser
     putting that HTML on screen (innerHTML, style, layout, paint: two
     animation frames), median and worst over frames across the run;
  2. scrubbing the replay: from typing a step into the replay box to that
     frame on screen, median and worst over 12 jumps;
  3. the live stream: a whole decode through Send; the server's drawing per
     frame (the studio's own note) and the browser's per frame, as a share of
     the stand-in's step (`--step-ms`, default 50 ms, a nominal 7B step).
Targets (issue 15): a frame under 30 ms, scrubbing without visible lag
(under 100 ms), live drawing under 20 % of a step. Benchmark numbers, not a test.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import studio_server  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
PAINT = """async (html) => {
  const el = document.querySelector('#dm-canvas .dm-card').parentElement;
  const t0 = performance.now();
  el.innerHTML = html;
  void el.offsetHeight;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return performance.now() - t0;
}"""
WATCH = """() => {
  window.__paints = [];
  const root = document.querySelector('#dm-canvas');
  new MutationObserver(() => {
    const t0 = performance.now();
    requestAnimationFrame(() => requestAnimationFrame(() => window.__paints.push(performance.now() - t0)));
  }).observe(root, {subtree: true, childList: true});
}"""


def _stats(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values), 2), "max_ms": round(max(values), 2), "n": len(values)}


def _set_number(page, elem_id: str, value) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def live_run(page, step_s: float) -> dict:
    page.evaluate(WATCH)
    page.fill("#dm-prompt textarea", "Describe the image.")
    page.click("#dm-send")
    page.wait_for_selector("#dm-drawing", timeout=600_000)
    note = page.inner_text("#dm-drawing")
    server_ms = float(re.search(r"took ([\d.]+) ms", note).group(1))
    paints = page.evaluate("window.__paints")
    browser = statistics.median(paints)
    return {"frames": len(paints), "server_ms": server_ms, "browser_ms": round(browser, 2),
            "share_of_step_pct": round(100 * (server_ms + browser) / (step_s * 1000), 1), "note": note}


def frame_costs(page, traj) -> dict:
    from app import render

    server, browser = [], []
    for n in list(range(0, traj.nfe + 1, 25)) + [traj.nfe]:
        t0 = time.perf_counter()
        html = render.render_canvas(traj, n)
        server.append(1000 * (time.perf_counter() - t0))
        browser.append(page.evaluate(PAINT, html))
    total = [s + b for s, b in zip(server, browser)]
    return {"server": _stats(server), "browser": _stats(browser), "frame": _stats(total)}


def scrub(page, nfe: int) -> dict:
    seen = []
    for n in [1, 150, 20, 299, 75, 200, 5, 260, 120, 40, 280, 10]:
        n = min(n, nfe)
        page.evaluate("(n) => { window.__t0 = performance.now(); window.__want = String(n); }", n)
        page.evaluate("""() => { const root = document.querySelector('#dm-canvas');
            const obs = new MutationObserver(() => { const t = root.querySelector('.dm-tokens');
              if (t && t.dataset.step === window.__want) { window.__seen = performance.now() - window.__t0;
                obs.disconnect(); } });
            obs.observe(root, {subtree: true, childList: true}); }""")
        _set_number(page, "dm-replay", n)
        page.wait_for_function(f"document.querySelector('#dm-canvas .dm-tokens').dataset.step === '{n}'",
                               timeout=30_000)
        seen.append(page.evaluate("window.__seen"))
    return _stats(seen)


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--step-ms", type=float, default=50.0, help="the stand-in's compute per step")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from standin_assistant import StandInAssistant

    assistant = StandInAssistant(step_seconds=args.step_ms / 1000)
    demo, url = studio_server.start(assistant)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.wait_for_function("document.body.innerText.includes('device:')", timeout=60_000)
            page.wait_for_function("Number(document.querySelector('#dm-max-new input[type=number]').value) === 1024",
                                   timeout=30_000)
            report = {"canvas": 1024, "steps": 300, "step_ms": args.step_ms, "live": live_run(page, args.step_ms / 1000)}
            page.wait_for_function("Number(document.querySelector('#dm-replay input[type=number]').value) > 1",
                                   timeout=60_000)
            traj = None
            for traj in assistant.stream(None, "x", assistant.default_config):
                pass
            report["scrub"] = scrub(page, traj.nfe)
            report["draw"] = frame_costs(page, traj)
            browser.close()
    finally:
        demo.close()
    d, s, lv = report["draw"], report["scrub"], report["live"]
    print(f"1,024-token canvas, 300 steps (stand-in step {args.step_ms:.0f} ms), headless Chromium")
    print(f"  one frame: {d['frame']['median_ms']:.1f} ms median, {d['frame']['max_ms']:.1f} ms worst "
          f"(server {d['server']['median_ms']:.1f} + browser {d['browser']['median_ms']:.1f}); target < 30 ms")
    print(f"  scrubbing: {s['median_ms']:.0f} ms median, {s['max_ms']:.0f} ms worst from input to frame on screen "
          f"({s['n']} jumps); target < 100 ms")
    print(f"  live: {lv['frames']} frames; drawing {lv['server_ms']:.1f} ms (server) + {lv['browser_ms']:.1f} ms "
          f"(browser) per frame = {lv['share_of_step_pct']:.1f}% of a step; target < 20%")
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
