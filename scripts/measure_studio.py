"""Measure the studio's live drawing against the engine: `python scripts/measure_studio.py [--model tiny]`.

For a few questions and settings it runs the app's own `Studio.ask` handler
(the code path a browser's Send takes, minus the network) and prints, per run:
time from the call to the first canvas frame and to the first decoded step,
the mean time to draw one frame (render_canvas + chat text), the mean engine
step time, and drawing as a share of a step's compute (issue 4: under 20%).
The browser-side figure (Send to first frame on screen) is printed by
tests/test_browser.py when run with -s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="tiny")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    from dimple.assistant import Assistant

    from app.form import COMPARE_DEFAULTS, CONTROLS
    from app.chat.handlers import Studio
    from app.session import Session

    assistant = Assistant.load(args.model, device="cpu")
    studio = Studio(assistant)
    image = str(ROOT / "assets" / "examples" / "objects_1.png")
    runs = [
        ("Describe the image.", "", 0.9, True),
        ("Describe the image.", "", 0.0, True),
        ("Describe the image.", "", 0.9, False),
        ("How many blue objects are there?", "", 0.9, True),
        ("What color is the object at the center?", "Color: <mask:3>.<eos>", 0.9, True),
    ]
    print(f"model {assistant.name} on {assistant.device}")
    print(f"{'question':42s} {'thr':>4s} {'pre':>4s} {'steps':>5s} {'1st frame':>9s} {'1st step':>9s} "
          f"{'draw/frame':>10s} {'step':>8s} {'draw/step':>9s}")
    shares = []
    for question, template, thr, prefill in runs:
        for _ in range(args.repeat):
            session = Session()
            t0 = time.perf_counter()
            first = first_step = None
            form = dict(zip(CONTROLS, (thr, prefill, 48, 48, "maskgit_plus", 0.0, 1.0, 0, 0.0, 0)), image=image,
                        prompt=question, template=template, session=session, **COMPARE_DEFAULTS)
            for out in studio.ask(form):
                traj = session.trajectory
                if traj is not None and first is None and not isinstance(out[0], dict):
                    first = time.perf_counter() - t0
                if traj is not None and traj.steps and first_step is None:
                    first_step = time.perf_counter() - t0
            traj = session.trajectory
            draw = statistics.mean(session.render_seconds[1:] or session.render_seconds)
            step = statistics.mean(s.seconds for s in traj.steps)
            shares.append(draw / step)
        label = (question + (" [template]" if template else ""))[:42]
        print(f"{label:42s} {thr:4.1f} {'on' if prefill else 'off':>4s} {traj.nfe:5d} {first * 1000:7.1f}ms "
              f"{first_step * 1000:7.1f}ms {draw * 1000:8.2f}ms {step * 1000:6.1f}ms {draw / step * 100:8.1f}%")
    print(f"drawing / step compute: mean {statistics.mean(shares) * 100:.1f}%, max {max(shares) * 100:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
