"""Exports of a run: the Trajectory as JSON, the denoising as an animated GIF, and JSON import.

Owns the files a person downloads or uploads: where they are written (a
private temporary folder per session, never a path a user chose), their names,
the GIF drawing (PIL only, no browser) and reading a JSON export back into a
Trajectory with a clear message when it is not one. It reads only the
Trajectory record; it knows nothing of Gradio or the model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from functools import lru_cache
from typing import Optional

from PIL import Image, ImageDraw, ImageFont

from .colours import rgb
from dimple.trajectory import Trajectory

MAX_IMPORT_BYTES = 32 * 1024 * 1024
MAX_GIF_FRAMES = 120
# GIF colours (fill, outline, text) of a slot by its kind (app.render.slot_kinds), as colours.COLOURS names, the
# canvas's looks; "new" is filled by its confidence
_SLOT_COLOURS = {
    "lock": ("lock", "lock-edge", "lock-ink"),
    "mask": ("mask", "mask-edge", "mask-ink"),
    "end": ("end", "end-edge", "end-ink"),
    "old": ("white", "track", "ink-token"),
    "new": (None, "new-edge", "ink-strong"),
}
_FONT_PATHS = ("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", "DejaVuSansMono.ttf")


# ----- per-session folders ------------------------------------------------------
def new_session_dir() -> str:
    """A fresh private folder (mode 0700) for one session's exports."""
    return tempfile.mkdtemp(prefix="dimple-session-")


def remove_session_dir(path: Optional[str]) -> None:
    if path and os.path.basename(path).startswith("dimple-session-") and os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)


def prune(folder: str, max_age_s: float = 900.0) -> None:
    """Delete this folder's exports older than `max_age_s` (the server has copied them to its cache by then)."""
    now = time.time()
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith("dimple-"):
            path = os.path.join(folder, name)
            try:
                if now - os.path.getmtime(path) > max_age_s:
                    os.remove(path)
            except OSError:
                pass


def _stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + f"-{time.perf_counter_ns() % 1000000:06d}"


# ----- JSON -------------------------------------------------------------------
def write_json(traj: Trajectory, folder: str, extra: Optional[dict] = None) -> str:
    """Write the Trajectory export (plus optional context such as the question) and return its path."""
    data = traj.to_dict()
    if extra:
        data["studio"] = extra
    path = os.path.join(folder, f"dimple-trajectory-{_stamp()}.json")
    import json

    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
    return path


def read_json(path: str) -> Trajectory:
    """Load an uploaded export; ValueError with a clear message when it is not a Dimple trajectory."""
    if not path or not os.path.isfile(path):
        raise ValueError("no file was uploaded")
    size = os.path.getsize(path)
    if size > MAX_IMPORT_BYTES:
        raise ValueError(f"the file is {size / 1e6:.1f} MB; a trajectory export is at most {MAX_IMPORT_BYTES // 2**20} MB")
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text, so it is not a trajectory JSON export") from None
    return Trajectory.from_json(text)


# ----- GIF --------------------------------------------------------------------
@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont:
    for path in _FONT_PATHS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _rgb(colour: str) -> tuple[int, int, int]:
    """CSS hsl()/hex colours from app.render as RGB."""
    if colour.startswith("#"):
        return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
    import colorsys

    h, s, light = colour[4:-1].split(",")
    r, g, b = colorsys.hls_to_rgb(float(h) / 360, float(light.strip("%")) / 100, float(s.strip("%")) / 100)
    return round(r * 255), round(g * 255), round(b * 255)


def _layout(labels: list[str], font, width: int, margin: int, top: int) -> tuple[list[tuple[int, int, int]], int]:
    """Fixed token boxes (x, y, w) wide enough for the final token, so nothing moves between frames."""
    boxes, x, y, line_h = [], margin, top, font.size + 14
    for label in labels:
        w = max(int(font.getlength(label)) + 10, 26)
        if x + w > width - margin and x > margin:
            x, y = margin, y + line_h
        boxes.append((x, y, w))
        x += w + 4
    return boxes, y + line_h


def gif_frames(traj: Trajectory, width: int = 760) -> list[Image.Image]:
    """One frame per recorded step (subsampled past MAX_GIF_FRAMES) plus the starting canvas."""
    from .colours import confidence_colour, confidence_unit
    from .frames import slot_kinds, token_label

    font, small = _font(17), _font(12)
    ends = set(traj.end_token_ids)
    final = traj.response_ids
    first_end = next((i for i, t in enumerate(final) if t in ends), len(final))
    labels = [token_label(traj.token_text.get(t), t in ends, i > first_end) for i, t in enumerate(final)]
    margin, top = 14, 44
    boxes, bottom = _layout(labels, font, width, margin, top)
    height = bottom + 34
    alg = str(traj.config.get("alg", "maskgit_plus"))
    committed = traj.committed_at()
    conf_by_pos = traj.confidence_of()
    n_total = len(traj.steps)
    wanted = list(range(n_total + 1))
    if len(wanted) > MAX_GIF_FRAMES:
        stride = len(wanted) / MAX_GIF_FRAMES
        wanted = sorted({round(i * stride) for i in range(MAX_GIF_FRAMES)} | {n_total})
    frames = []
    for n in wanted:
        img = Image.new("RGB", (width, height), rgb("card"))
        d = ImageDraw.Draw(img)
        state = traj.state_at(n)
        masked = sum(1 for i, t in enumerate(state) if t == traj.mask_token_id and not traj.fixed[i])
        head = f"Dimple - step {n}/{n_total} - {masked} masked"
        if n > 0 and traj.steps[n - 1].fallback:
            head += " - fallback"
        d.text((margin, 12), head, font=font, fill=rgb("ink"))
        new = {pos for pos, step in enumerate(committed) if step == n - 1}
        for pos, ((x, y, w), kind) in enumerate(zip(boxes, slot_kinds(traj, state, new))):
            h = font.size + 8
            fill, outline, fg = (rgb(name) if name else None for name in _SLOT_COLOURS[kind])
            if kind == "new":
                fill = _rgb(confidence_colour(confidence_unit(conf_by_pos[pos], alg)))
            label = "" if kind == "mask" else labels[pos]
            d.rounded_rectangle([x, y, x + w, y + h], radius=5, fill=fill, outline=outline)
            if label:
                d.text((x + 5, y + 3), label, font=font, fill=fg)
        d.text((margin, height - 24), "grey: masked   colour: new this step (red unsure, green sure)   "
               "white: earlier   purple: locked", font=small, fill=rgb("ink-faint"))
        frames.append(img)
    return frames


def write_gif(traj: Trajectory, folder: str, frame_ms: int = 450) -> str:
    """Animated GIF of the denoising; the last frame holds for two seconds."""
    if not traj.steps:
        raise ValueError("the trajectory has no steps to animate")
    frames = gif_frames(traj)
    durations = [frame_ms] * len(frames)
    durations[0] = max(frame_ms, 700)
    durations[-1] = 2000
    path = os.path.join(folder, f"dimple-denoising-{_stamp()}.gif")
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=False)
    return path
