"""Description accuracy under several decoding orders: are the wrong descriptions the parallel decoding's fault?

    python scripts/describe_orders.py MODEL [N]     # N held-out describe questions (default 40), 96 slots

Decodes the same N held-out "describe" samples (the evaluation split) at thresholds 0.9, 0.95 and 0.99, one token
per pass in confidence order (threshold off, as many steps as slots), one token per pass left to right, in
semi-autoregressive blocks of 8 and 32 (LLaDA's decoding, `dimple.blocks`) and with the margin confidence
(`topk_margin`), and scores each by meaning (`dimple.tiny.score.same_meaning`). If one token a pass scores no
better than 0.9, the errors are in what the model knows, not in committing several slots at once (docs/tiny3.md).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CANVAS = 96  # Tiny 3's training canvas


def held_out_describes(argv: list[str]):
    """(assistant, samples) from a command line `MODEL [N]`: the model on one thread, and the first N (default 40)
    "describe" samples of the evaluation split (the description scripts all measure on these)."""
    import torch

    from dimple.assistant import Assistant
    from dimple.tiny import world

    torch.set_num_threads(1)
    n = int(argv[1]) if len(argv) > 1 else 40
    return Assistant.load(argv[0]), [world.make_sample(seed, "describe") for seed in world.split_seeds("eval", n)]


def main(argv=None) -> int:
    from dimple.tiny import score

    assistant, samples = held_out_describes(sys.argv[1:] if argv is None else argv)
    n = len(samples)
    base = assistant.default_config.with_(max_new_tokens=CANVAS, steps=CANVAS)
    orders = {"threshold 0.9": base.with_(alg_p_threshold=0.9), "threshold 0.95": base.with_(alg_p_threshold=0.95),
              "threshold 0.99": base.with_(alg_p_threshold=0.99),
              "one token a pass, most confident first": base.with_(alg_p_threshold=0.0),
              "one token a pass, left to right": base.with_(alg="autoregressive", alg_p_threshold=0.0),
              "blocks of 8 left to right, 0.9 within": base.with_(block_length=8),
              "blocks of 32 left to right, 0.9 within": base.with_(block_length=32),
              "top-1 minus top-2 margin, 0.9": base.with_(alg="topk_margin")}
    for name, cfg in orders.items():
        right = passes = 0
        start = time.perf_counter()
        for sample in samples:
            traj = assistant.generate(sample.image, sample.question, cfg)
            right += score.same_meaning(assistant.answer_text(traj), sample.answer)
            passes += traj.nfe
        print(f"{name}: right {right}/{n} ({right / n:.3f}), {passes / n:.1f} passes per answer, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
