"""The README's denoising GIF, made with the app's own export (`app.canvas.export.write_gif`).

    python scripts/make_gif.py [--image assets/examples/objects_1.png] [--prompt "Describe the image."]
                               [--threshold 0.9] [--model tiny] [--out docs/denoising.gif]

Decodes one question with the model's defaults at the given threshold, writes the GIF the studio's
Export tab writes, and prints what it shows (passes, tokens, the answer), for the README's caption.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/make_gif.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--image", default="assets/examples/objects_1.png")
    p.add_argument("--prompt", default="Describe the image.")
    p.add_argument("--threshold", type=float, default=0.9)
    p.add_argument("--model", default="tiny")
    p.add_argument("--out", default="docs/denoising.gif")
    args = p.parse_args(argv)
    from PIL import Image

    from app.canvas import export
    from dimple.assistant import Assistant
    from dimple.config import DecodeConfig

    assistant = Assistant.load(args.model)
    cfg = DecodeConfig(**{**assistant.default_config.__dict__, "alg_p_threshold": args.threshold})
    traj = assistant.generate(Image.open(args.image), args.prompt, cfg)
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(export.write_gif(traj, folder), args.out)
    print(f"{args.out}: {len(traj.answer_ids)} answer tokens in {traj.nfe} forward passes at threshold "
          f"{args.threshold}: {assistant.answer_text(traj)!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
