"""Accuracy against tokens per forward pass: the bench's threshold sweep as a figure for the Plots tab.

Owns finding the sweeps the bench wrote (`python -m dimple.cli bench --json`,
kept as docs/bench/<model>/bench.json; the newest model's folder first) and
drawing one of them: tokens per forward pass across, exact-match accuracy
up, one point per confidence threshold (labelled), and one token per step
for reference, so the trade-off is seen rather than described. Every number
comes from the JSON; nothing here is measured or written in advance. It
knows the bench's JSON fields (dimple/bench/sweep.py), nothing of Gradio or
the model.
"""

from __future__ import annotations

import json
from pathlib import Path

from dimple.loading import ASSETS

from .plots import BLUE, ORANGE, new_figure, empty_figure

BENCH_DIR = Path(ASSETS).parent / "docs" / "bench"  # the repository's docs/bench (absent from an install)


def sweeps(folder: Path = BENCH_DIR) -> dict[str, Path]:
    """{label: bench.json} for every sweep under `folder`, the newest model's (a subfolder) first."""
    if not folder.is_dir():
        return {}
    found = sorted(folder.rglob("bench.json"), key=lambda p: str(p.relative_to(folder)), reverse=True)
    return {str(p.relative_to(folder.parent.parent)): p for p in found}


def points(result: dict) -> tuple[list[dict], list[dict]]:
    """(one row per threshold of the plain sweep, sorted by threshold; the one-token-per-step rows)."""
    rows = result.get("threshold_sweep", [])
    plain = [r for r in rows if r.get("setting", "").startswith("threshold") and " + " not in r["setting"]]
    return sorted(plain, key=lambda r: r["alg_p_threshold"]), [r for r in rows if r.get("alg_p_threshold") == 0]


def figure(path) -> object:
    """The figure of the sweep in `path` (a message figure when there is none or it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as fh:
            result = json.load(fh)
        plain, one = points(result)
    except (OSError, ValueError, TypeError, AttributeError):
        return empty_figure("No bench sweep found: run python -m dimple.cli bench --json > docs/bench/bench.json")
    if not plain:
        return empty_figure("This bench file holds no threshold sweep.")
    fig, ax = new_figure(6.5, 3.6)
    xs, ys = [r["tokens_per_forward"] for r in plain], [100 * r["accuracy"] for r in plain]
    ax.plot(xs, ys, marker="o", color=BLUE, label="confident decoding, one point per threshold")
    for r, x, y in zip(plain, xs, ys):
        ax.annotate(f"\u03c4={r['alg_p_threshold']:g}", (x, y), fontsize=8, xytext=(4, 4), textcoords="offset points")
    for r in one:
        ax.plot([r["tokens_per_forward"]], [100 * r["accuracy"]], marker="*", markersize=11, color=ORANGE,
                linestyle="none", label="one token per step")
    settings = result.get("settings", {})
    ax.set_xlabel("tokens per forward pass")
    ax.set_ylabel("exact match (%)")
    ax.set_title(f"Accuracy against parallelism ({settings.get('limit', '?')} questions, canvas "
                 f"{settings.get('max_new_tokens', '?')})", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return fig
