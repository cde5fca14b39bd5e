"""Matplotlib figures of a Trajectory: how parallel the decoding was.

Owns three views of one run: tokens committed per step (fallback steps
marked), cumulative committed tokens against forward passes next to the
one-token-per-forward line of autoregressive decoding, and the confidence
heatmap (step x position). Plus a comparison of two runs on the cumulative
view. It reads only the Trajectory record; it knows nothing of Gradio.

Figures are built with `matplotlib.figure.Figure` (not pyplot), so nothing is
registered globally and a figure is freed as soon as the UI drops it; that
keeps concurrent sessions and long uptimes from leaking memory.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from .colours import COLOURS, as_probability  # noqa: E402
from ..words import count  # noqa: E402

BLUE = COLOURS["accent"]
ORANGE = COLOURS["block"]
GREY = COLOURS["mask-ink"]


def new_figure(width: float = 6.0, height: float = 3.0) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def empty_figure(message: str = "Run a question to see this plot.") -> Figure:
    fig, ax = new_figure(6.0, 2.2)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", color=GREY, fontsize=11, transform=ax.transAxes)
    return fig


def _generated_counts(traj) -> list[int]:
    """Per step: how many positions it committed (structure-prior tokens are never committed)."""
    return [len(s.positions) for s in traj.steps]


def commits_per_step(traj) -> Figure:
    """Bar chart of tokens committed at each step; schedule-fallback steps in orange."""
    if traj is None or not traj.steps:
        return empty_figure()
    fig, ax = new_figure()
    xs = [s.index + 1 for s in traj.steps]
    counts = _generated_counts(traj)
    colours = [ORANGE if s.fallback else BLUE for s in traj.steps]
    ax.bar(xs, counts, color=colours, width=0.8)
    ax.set_xlabel("step (forward pass)")
    ax.set_ylabel("tokens committed")
    thr = (traj.config or {}).get("alg_p_threshold")
    ax.set_title(f"Tokens committed per step (threshold {thr:g})" if thr else "Tokens committed per step (threshold off)",
                 fontsize=11)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=BLUE, label="above threshold"), Patch(color=ORANGE, label="schedule fallback")],
              fontsize=8, frameon=False, loc="upper right")
    if len(xs) <= 30:
        ax.set_xticks(xs)
    ax.tick_params(labelsize=8)
    return fig


def _cumulative(traj) -> tuple[list[int], list[int]]:
    xs, ys, total = [0], [0], 0
    for s in traj.steps:
        total += len(s.positions)
        xs.append(s.index + 1)
        ys.append(total)
    return xs, ys


def cumulative_vs_forward(traj) -> Figure:
    """Committed tokens after each forward pass, against autoregressive decoding's one token per pass."""
    if traj is None or not traj.steps:
        return empty_figure()
    fig, ax = new_figure()
    xs, ys = _cumulative(traj)
    to_fill = sum(1 for f in traj.fixed if not f)
    ax.plot(xs, ys, marker="o", ms=3.5, color=BLUE, label="Dimple (this run)")
    top = max(to_fill, xs[-1])
    ax.plot([0, top], [0, top], ls="--", color=GREY, label="one token per forward (autoregressive)")
    ax.axhline(traj.n_generated, color=ORANGE, lw=1, ls=":", label=f"answer incl. end: {traj.n_generated} tokens")
    ax.set_xlim(0, max(xs[-1], 1) * 1.05 + 0.5)
    ax.set_ylim(0, to_fill * 1.08 + 0.5)
    ax.set_xlabel("forward passes")
    ax.set_ylabel("tokens committed")
    ax.set_title(f"{traj.tokens_per_forward:.2f} answer tokens per forward pass", fontsize=11)
    ax.legend(fontsize=8, frameon=False, loc="best")
    ax.tick_params(labelsize=8)
    return fig


def confidence_heatmap(traj) -> Figure:
    """Confidence of every masked position at every step (rows: steps, columns: positions); dots = committed."""
    if traj is None or not traj.steps:
        return empty_figure()
    import numpy as np

    n_pos, n_steps = traj.length, len(traj.steps)
    grid = np.full((n_steps, n_pos), np.nan)
    alg = (traj.config or {}).get("alg", "maskgit_plus")
    state = list(traj.canvas)
    mask_id = traj.mask_token_id
    for r, step in enumerate(traj.steps):
        masked = [i for i, t in enumerate(state) if t == mask_id and not traj.fixed[i]]
        if len(step.masked_confidence) == len(masked):
            for i, c in zip(masked, step.masked_confidence):
                grid[r, i] = as_probability(c, alg)
        else:  # no per-position scores recorded: show the committed ones
            for i, c in zip(step.positions, step.confidences):
                grid[r, i] = as_probability(c, alg)
        for pos, tok in zip(step.positions, step.tokens):
            state[pos] = tok
    width = min(max(6.0, 0.22 * n_pos + 2.0), 12.0)
    height = min(max(2.4, 0.22 * n_steps + 1.6), 8.0)
    fig, ax = new_figure(width, height)
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad=COLOURS["plot-empty"])
    img = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest",
                    extent=(-0.5, n_pos - 0.5, n_steps + 0.5, 0.5))
    cx = [p for s in traj.steps for p in s.positions]
    cy = [s.index + 1 for s in traj.steps for _ in s.positions]
    ax.scatter(cx, cy, s=10, c=COLOURS["plot-dot"], marker="o")
    fixed_x = [i for i, f in enumerate(traj.fixed) if f]
    if fixed_x:
        ax.scatter(fixed_x, [0.6] * len(fixed_x), s=14, c=COLOURS["plot-lock"], marker="s")
    final = traj.response_ids
    if n_pos <= 40:
        ax.set_xticks(range(n_pos))
        labels = [traj.token_text.get(t, "?").replace("\n", "\\n")[:8] for t in final]
        ax.set_xticklabels(labels, rotation=70, fontsize=7)
    else:
        ax.set_xlabel("response position")
    ax.set_ylabel("step")
    ax.set_title("Confidence of masked positions  (\u25cf committed, \u25a0 locked)", fontsize=10)
    fig.colorbar(img, ax=ax, shrink=0.85, label="confidence" if alg != "entropy" else "exp(-entropy)")
    return fig


def compare_cumulative(traj_a, traj_b, label_a: str = "A", label_b: str = "B") -> Figure:
    """Two runs on the committed-tokens vs forward-passes view, with latency in the legend."""
    if traj_a is None or traj_b is None or not traj_a.steps or not traj_b.steps:
        return empty_figure("Run a comparison to see this plot.")
    fig, ax = new_figure(6.0, 3.0)
    top = 0
    for traj, label, colour in ((traj_a, label_a, BLUE), (traj_b, label_b, ORANGE)):
        xs, ys = _cumulative(traj)
        ax.plot(xs, ys, marker="o", ms=3, color=colour,
                label=f"{label}: {count(traj.nfe, 'pass')}, {traj.total_seconds * 1000:.0f} ms")
        top = max(top, xs[-1], ys[-1])
    ax.plot([0, top], [0, top], ls="--", color=GREY, label="one token per forward")
    ax.set_xlabel("forward passes")
    ax.set_ylabel("tokens committed")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.tick_params(labelsize=8)
    return fig
