"""The studio at the 7B's scale in Chromium: `python scripts/measure_canvas.py [--step-ms 50] [--json]`.

A stand-in (tests/standin_assistant.py) streams 1,024-token canvases decoded
in 300 steps, with ghosts on every masked slot, through the real studio
(handlers, app/canvas_client.py, Gradio, a headless Debian Chromium). It prints:
  1. drawing one frame: the server building a frame message plus the page's
     renderer drawing it on its grid (script, style and layout it forces),
     median and worst over frames across the run; and the time to paint;
  2. scrubbing the replay: from the slider's input event to that step drawn
     (and painted), timed inside the page, over 12 jumps;
  3. the live stream: decodes through Send, two that draw and two whose canvas
     ignores its values; drawing per step is the server's frame building plus
     the browser's extra main-thread time (Chromium's TaskDuration) over the
     runs that draw nothing, as a share of the stand-in's step (`--step-ms`,
     default 50 ms, a nominal 7B step). The page's own per-update work
     without drawing (Gradio, status, chat) is printed beside it.
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

HERE = Path(__file__).resolve().parent.parent / "tests"  # studio_server and the stand-ins live in tests/
sys.path[:0] = [str(HERE.parent), str(HERE)]

import studio_server  # noqa: E402

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
# The page's own renderer (app/canvas_client.py) draws the value; `sync` is the script, style and layout
# it forces, `paint` adds waiting for the frame to be painted (two animation frames, so it includes vsync).
PAINT = """async (value) => {
  const host = document.querySelector('#dm-canvas .dm-host');
  const t0 = performance.now();
  host.dmDraw(value);
  void host.offsetHeight;
  const t1 = performance.now();
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return [t1 - t0, performance.now() - t0];
}"""
# Live: the time from a frame's first DOM change to its paint, once per step number the canvas shows.
WATCH = """() => {
  window.__paints = [];
  const root = document.querySelector('#dm-canvas');
  let last = null;
  new MutationObserver(() => {
    const box = root.querySelector('.dm-tokens');
    const step = box ? box.dataset.step : null;
    if (step === last) return;
    last = step;
    const t0 = performance.now();
    requestAnimationFrame(() => requestAnimationFrame(() => window.__paints.push(performance.now() - t0)));
  }).observe(root, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def _stats(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values), 2), "max_ms": round(max(values), 2), "n": len(values)}


def _busy_ms(cdp) -> float:
    """Chromium's main-thread task time so far (script, style, layout, paint and Gradio's own work), in ms."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return 1000 * metrics["TaskDuration"]


NO_DRAW = """() => { const host = document.querySelector('#dm-canvas .dm-host');
  if (!host.__real) host.__real = host.dmDraw;
  host.dmDraw = () => {}; }"""
REAL_DRAW = """() => { const host = document.querySelector('#dm-canvas .dm-host');
  if (host.__real) host.dmDraw = host.__real; }"""


def live_run(page, step_s: float, draw: bool = True) -> dict:
    """One decode through Send. With draw=False the canvas ignores its values: what is left is Gradio's and
    the page's own work per update, so the difference between the two runs is what drawing costs."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.evaluate(REAL_DRAW if draw else NO_DRAW)
    page.evaluate(WATCH)
    before = page.inner_text("#dm-drawing") if page.locator("#dm-drawing").count() else ""
    page.fill("#dm-prompt textarea", "Describe the image.")
    busy0 = _busy_ms(cdp)
    page.click("#dm-send")
    page.wait_for_function("(b) => { const d = document.querySelector('#dm-drawing'); return d && d.innerText !== b; }",
                           arg=before, timeout=600_000)
    busy = _busy_ms(cdp) - busy0
    page.evaluate(REAL_DRAW)
    note = page.inner_text("#dm-drawing")
    server_ms = float(re.search(r"took ([\d.]+) ms", note).group(1))
    frames, steps = (int(x) for x in re.search(r"(\d+) frames for (\d+) steps", note).groups())
    paints = page.evaluate("window.__paints")
    return {"draw": draw, "steps": steps, "frames_sent": frames, "frames_drawn": len(paints),
            "server_ms_per_frame": server_ms, "server_ms_per_step": round(server_ms * frames / steps, 2),
            "browser_ms_per_step": round(busy / steps, 2),
            "to_paint_ms": round(statistics.median(paints), 2) if paints else None}


def live(page, step_s: float, pairs: int = 2) -> dict:
    """Live drawing per step: server frame building plus the browser's extra work over a run that draws nothing."""
    runs = [live_run(page, step_s, draw) for _ in range(pairs) for draw in (True, False)]
    drawn = statistics.median(r["browser_ms_per_step"] for r in runs if r["draw"])
    baseline = statistics.median(r["browser_ms_per_step"] for r in runs if not r["draw"])
    server = statistics.median(r["server_ms_per_step"] for r in runs if r["draw"])
    browser = max(drawn - baseline, 0.0)
    return {"runs": runs, "server_ms_per_step": server, "browser_drawing_ms_per_step": round(browser, 2),
            "browser_gradio_baseline_ms_per_step": round(baseline, 2),
            "share_of_step_pct": round(100 * (server + browser) / (step_s * 1000), 1),
            "frames_sent": runs[0]["frames_sent"], "frames_drawn": runs[0]["frames_drawn"], "steps": runs[0]["steps"],
            "to_paint_ms": runs[0]["to_paint_ms"]}


def frame_costs(page, traj) -> dict:
    """Drawing one frame at steps across the run: the server's frame message, then the page's renderer."""
    from app.canvas import client as canvas_client

    server, sync, paint = [], [], []
    for n in list(range(0, traj.nfe + 1, 25)) + [traj.nfe]:
        t0 = time.perf_counter()
        value = canvas_client.value(traj, n)
        server.append(1000 * (time.perf_counter() - t0))
        drawn, painted = page.evaluate(PAINT, value)
        sync.append(drawn)
        paint.append(painted)
    return {"server": _stats(server), "browser": _stats(sync), "to_paint": _stats(paint),
            "frame": _stats([a + b for a, b in zip(server, sync)])}


# One jump, timed inside the page: the slider's range input is set and its input event fired (what dragging
# does), then the time until the canvas shows that step (its box's data-step) and the frame after it is painted.
JUMP = """(n) => new Promise((done) => {
  const root = document.querySelector('#dm-canvas');
  const range = document.querySelector('#dm-replay input[type=range]');
  const want = String(n);
  const t0 = performance.now();
  const obs = new MutationObserver(() => {
    const box = root.querySelector('.dm-tokens');
    if (!box || box.dataset.step !== want) return;
    obs.disconnect();
    const shown = performance.now() - t0;
    requestAnimationFrame(() => requestAnimationFrame(() => done([shown, performance.now() - t0])));
  });
  obs.observe(root, {subtree: true, childList: true, attributes: true});
  range.value = want;
  range.dispatchEvent(new Event('input', {bubbles: true}));
})"""


def scrub(page, nfe: int) -> dict:
    shown, painted = [], []
    for n in [1, 150, 20, 299, 75, 200, 5, 260, 120, 40, 280, 10]:
        a, b = page.evaluate(JUMP, min(n, nfe))
        shown.append(a)
        painted.append(b)
    return {**_stats(shown), "to_paint": _stats(painted)}


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
            report = {"canvas": 1024, "steps": 300, "step_ms": args.step_ms, "live": live(page, args.step_ms / 1000)}
            page.wait_for_function("Number(document.querySelector('#dm-replay input[type=number]').value) > 1",
                                   timeout=60_000)
            traj = None
            for traj in assistant.stream(None, "x", assistant.default_config):
                pass
            report["draw"] = frame_costs(page, traj)  # first: a server frame right after a scrub is skipped
            report["scrub"] = scrub(page, traj.nfe)
            browser.close()
    finally:
        demo.close()
    d, s, lv = report["draw"], report["scrub"], report["live"]
    print(f"1,024-token canvas, 300 steps (stand-in step {args.step_ms:.0f} ms), headless Chromium")
    print(f"  one frame: {d['frame']['median_ms']:.1f} ms median, {d['frame']['max_ms']:.1f} ms worst "
          f"(server {d['server']['median_ms']:.1f} + browser {d['browser']['median_ms']:.1f}); target < 30 ms; "
          f"to paint {d['to_paint']['median_ms']:.1f} ms (two animation frames, vsync included)")
    print(f"  scrubbing: {s['median_ms']:.0f} ms median, {s['max_ms']:.0f} ms worst from the slider's input to the "
          f"frame drawn, {s['to_paint']['median_ms']:.0f} ms median to painted ({s['n']} jumps); target < 100 ms")
    print(f"  live: {lv['frames_sent']} frames sent for {lv['steps']} steps, {lv['frames_drawn']} drawn; per step, "
          f"{lv['server_ms_per_step']:.1f} ms (server) + {lv['browser_drawing_ms_per_step']:.1f} ms (browser) of drawing "
          f"= {lv['share_of_step_pct']:.1f}% of a step; target < 20%")
    print(f"        the page's own work per step without drawing (Gradio's updates, status, chat): "
          f"{lv['browser_gradio_baseline_ms_per_step']:.1f} ms; a change reached the screen in {lv['to_paint_ms']} ms")
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
