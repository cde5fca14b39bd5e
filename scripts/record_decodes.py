"""Record decodes of the shipped Dimple-Tiny to JSON, to compare before and after a refactor.

`python scripts/record_decodes.py OUT.json` decodes one example with every algorithm and
option (alg, prefill on/off, thresholds, sampling, templates, padding skip, response cache,
a branch resume) and 24 Tiny questions across the example images, and writes each run's
answer ids, forward passes and per-iteration commits. `--compare A.json B.json` prints the
runs that differ. It uses the library's public API only; timings are not recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout: the repository's dimple/, not an installed copy
EXAMPLES = ROOT / "assets" / "examples"
OPTION_SETS = [  # DecodeConfig overrides, each decoded on the first example
    *[dict(alg=a, alg_p_threshold=t, prefill=p)
      for a in ("maskgit_plus", "topk_margin", "entropy", "origin", "autoregressive")
      for t in (0.0, 0.5, 0.9) for p in (True, False)],
    dict(temperature=0.7, top_p=0.9, seed=3), dict(temperature=1.0, top_k=5, seed=4),
    dict(alg_temp=0.5, alg_p_threshold=0.0, seed=5), dict(use_original_confidence=False, temperature=0.5, top_p=0.8),
    dict(skip_padding=True), dict(response_cache=2), dict(max_new_tokens=8, steps=4), dict(steps=3),
]
TEMPLATES = ["<mask:6><eos>", "Color: <mask:2>. Shape: <mask:3>.<eos>", "<mask:3>, <mask:3><eos>"]


def _run(traj) -> dict:
    return {"response_ids": traj.response_ids, "nfe": traj.nfe, "stopped": traj.stopped,
            "steps": [[s.positions, s.tokens, s.fallback, s.padded] for s in traj.steps]}


def record() -> dict:
    from PIL import Image

    from dimple.assistant import Assistant

    assistant = Assistant.load("tiny")
    base = assistant.default_config
    index = json.loads((EXAMPLES / "index.json").read_text())
    images = {e["file"]: Image.open(EXAMPLES / e["file"]).convert("RGB") for e in index}
    first = index[0]
    out = {"defaults": base.to_dict()}
    for n, opts in enumerate(OPTION_SETS):
        traj = assistant.generate(images[first["file"]], first["question"], base.with_(**opts))
        out[f"option {n} {json.dumps(opts, sort_keys=True)}"] = _run(traj)
    for template in TEMPLATES:
        traj = assistant.generate(images[first["file"]], first["question"], base, template=template)
        out[f"template {template}"] = _run(traj)
    cfg = base.with_(alg_p_threshold=0.0, prefill=False, max_new_tokens=16, steps=16)
    whole = assistant.generate(images[first["file"]], first["question"], cfg)
    for k in (2, 4):
        branch = None
        for branch in assistant.branch(images[first["file"]], first["question"], cfg, whole.states()[k - 1],
                                       start_step=k):
            pass
        out[f"branch after step {k}"] = _run(branch)
    questions = [e["question"] for e in index]
    for i, e in enumerate(index):  # 3 questions per image: its own and the next two categories'
        for q in (questions[i], questions[(i + 3) % len(index)], questions[(i + 5) % len(index)]):
            traj = assistant.generate(images[e["file"]], q, base)
            out[f"question {e['file']} {q}"] = dict(_run(traj), text=assistant.answer_text(traj))
    return out


def compare(a: dict, b: dict) -> int:
    differ = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    for k in differ:
        print(f"DIFFERS: {k}\n  before: {json.dumps(a.get(k))[:400]}\n  after:  {json.dumps(b.get(k))[:400]}")
    print(f"{len(set(a) | set(b)) - len(differ)} identical, {len(differ)} differ")
    return 1 if differ else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", help="JSON file to write")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = p.parse_args(argv)
    if args.compare:
        return compare(*(json.loads(Path(f).read_text()) for f in args.compare))
    Path(args.out).write_text(json.dumps(record(), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
