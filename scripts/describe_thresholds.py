"""One question on every shipped objects example at four thresholds: passes, answer tokens, the answer.

    python scripts/describe_thresholds.py [MODEL] [QUESTION]     # defaults: tiny, "Describe the image."

How the pass count falls with the threshold, and where a low threshold breaks an answer (docs/tiny3.md).
"""

from __future__ import annotations

import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

THRESHOLDS = (0.95, 0.9, 0.7, 0.5)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from PIL import Image

    from dimple.assistant import Assistant
    from dimple.config import DecodeConfig

    assistant = Assistant.load(argv[0] if argv else "tiny")
    question = argv[1] if len(argv) > 1 else "Describe the image."
    base = assistant.default_config
    for path in sorted(glob.glob("assets/examples/objects_*.png")):
        image = Image.open(path)
        for threshold in THRESHOLDS:
            cfg = DecodeConfig(**{**base.__dict__, "alg_p_threshold": threshold})
            traj = assistant.generate(image, question, cfg)
            print(os.path.basename(path), threshold, traj.nfe, len(traj.answer_ids), repr(assistant.answer_text(traj)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
