"""The live canvas component: what the server sends it, and how the browser draws a large canvas.

Owns the gr.HTML that shows the response canvas (live, in replay, on Play),
the value it is sent for a frame, and the script that draws that value.
A canvas under render.DENSE_FROM positions is sent as HTML (render.py's,
with hover titles and line breaks) and put on the page as it is. A larger
one (the 7B's 1,024 slots) is sent as a frame message: JSON with the lean
slots dense.slots makes of a frame record (class letters, label, ghost bar, fresh colour,
in parallel lists), the badges, the narration and the threshold. The
browser draws it on a <canvas> as a grid of fixed cells (dense_view.GRID,
dense_view.PALETTE) and repaints only the cells whose slot changed: no DOM
node per slot, no style or layout work per frame. A click maps to its cell
(the token inspector), hovering names the slot. The component's template
never changes, so Gradio never diffs or re-renders it, and its CSS is
installed once instead of on every update.

Each frame message is self-contained (the whole canvas at that step), so
a frame the browser skips while it is busy costs nothing later. It reads
the Trajectory only through app/canvas/frames.py's records; it knows nothing
of the model.
"""

from __future__ import annotations

import functools
import json
from typing import Optional

import gradio as gr

from . import film as canvas_film, dense as dense_view, frames, render
from .colours import confidence_unit
from .ghost import CLICK_JS

HOST = '<div class="dm-host"></div>'  # the template: constant, so updates never re-render it
SCRUB_HOLD_MS = 1500  # after a scrub drawn from the film, server frames of other steps are late answers this long

# Runs once per page. It installs the canvas CSS, draws the first value and every new one, and reports a click
# on a slot (ghost_view.CLICK_JS for HTML; the grid's own hit test). `host.dmDraw(text)` draws a value directly
# (the watch goes through it, so tests/measure_canvas.py can time it); `host.dmFilmFrame(n)` is what a scrub draws.
DRAW_JS = """
const host = element.querySelector('.dm-host');
const SETTINGS = __SETTINGS__;  // dense_view.GRID, dense_view.PALETTE, render.CANVAS_CSS (not props: Gradio clones props on every update)
const G = SETTINGS.grid, P = SETTINGS.palette;
if (!document.getElementById('dm-canvas-css')) {
  const sheet = document.createElement('style');
  sheet.id = 'dm-canvas-css';
  sheet.textContent = '.dm-host {' + SETTINGS.css + '}';
  document.head.appendChild(sheet);
}
let grid = null;  // the large canvas on screen: its nodes, geometry and what each cell shows
const fitted = new Map();  // label -> the part of it that fits a cell
function fit(ctx, label) {
  let out = fitted.get(label);
  if (out !== undefined) return out;
  out = label;
  const room = G.cell_width - 4;
  if (ctx.measureText(out).width > room) {
    while (out.length > 1 && ctx.measureText(out + '\u2026').width > room) out = out.slice(0, -1);
    out += '\u2026';
  }
  fitted.set(label, out);
  return out;
}
function open(f) {
  host.innerHTML = f.shell;
  const box = host.querySelector('.dm-tokens');
  const cv = document.createElement('canvas');
  cv.className = 'dm-grid';
  box.appendChild(cv);
  grid = {box, cv, ctx: cv.getContext('2d'), head: host.querySelector('.dm-head'),
          line: host.querySelector('.dm-narration'), headHtml: '', width: box.clientWidth, cols: 0, n: 0, f: null,
          seen: [], bars: [], picked: -1};
  cv.addEventListener('click', (e) => pick(e));
  cv.addEventListener('mousemove', (e) => { const i = cellAt(e); cv.title = i < 0 ? '' :
    'position ' + i + ': ' + grid.f.txt[i] + ' \u2014 click to inspect'; });
  new ResizeObserver((entries) => {  // the width is read here, never while drawing (no forced layout per frame)
    if (!grid || grid.box !== box) return;
    grid.width = entries[0].contentRect.width;
    if (grid.f) layout(grid.f.cls.length);
  }).observe(box);
}
function layout(n) {
  const g = grid, dpr = window.devicePixelRatio || 1, sw = G.cell_width + G.gap, sh = G.cell_height + G.gap;
  const cols = Math.max(1, Math.floor((g.width + G.gap) / sw));
  if (cols === g.cols && g.n === n) return;
  g.cols = cols; g.n = n;
  const rows = Math.ceil(n / cols), w = cols * sw, h = Math.max(rows, 1) * sh;
  g.cv.style.width = w + 'px'; g.cv.style.height = h + 'px';
  g.cv.width = Math.round(w * dpr); g.cv.height = Math.round(h * dpr);
  g.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.seen = new Array(n).fill(null);
  g.bars = new Array(n).fill(null);
  if (g.f) cells(g.f);
}
function origin(i) {
  return [(i % grid.cols) * (G.cell_width + G.gap), Math.floor(i / grid.cols) * (G.cell_height + G.gap)];
}
function cell(ctx, i, cls, txt, bg, picked) {
  const [x, y] = origin(i), w = G.cell_width, h = G.cell_height, kind = cls.charAt(0), end = cls.indexOf(' e') >= 0;
  const look = P[end && kind === 'n' ? 'e' : kind];
  ctx.clearRect(x - 1, y - 1, w + 2, h + 2);
  ctx.fillStyle = bg || look.bg;
  ctx.fillRect(x, y, w, h);
  const border = kind === 'n' ? P.n.border : look.border;
  if (border) { ctx.strokeStyle = border; ctx.lineWidth = 1; ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1); }
  ctx.font = (look.font ? look.font + ' ' : '') + G.font_px + 'px ui-monospace, "DejaVu Sans Mono", monospace';
  ctx.fillStyle = look.fg;
  ctx.fillText(fit(ctx, txt), x + 2, y + h / 2);
  if (picked) { ctx.strokeStyle = P.picked.border; ctx.lineWidth = 2; ctx.strokeRect(x + 1, y + 1, w - 2, h - 2); }
}
function bar(ctx, i, unit, above, thr) {  // a ghost's confidence bar along the cell's bottom, the threshold a tick
  const [x, y] = origin(i), w = G.cell_width, h = G.cell_height, b = G.bar_px;
  ctx.fillStyle = P.bar.bg; ctx.fillRect(x, y + h - b, w, b);
  ctx.fillStyle = above ? P.above.fg : P.bar.fg; ctx.fillRect(x, y + h - b, w * unit / 100, b);
  ctx.fillStyle = P.bar.border; ctx.fillRect(x + Math.round(w * thr), y + h - b - 2, 1, b + 2);
}
function cells(f) {
  const g = grid, ctx = g.ctx;
  ctx.textBaseline = 'middle';
  for (let i = 0; i < f.cls.length; i++) {
    const key = f.cls[i] + '|' + f.txt[i] + '|' + f.bg[i] + '|' + (i === g.picked);
    const fresh = g.seen[i] !== key;
    if (fresh) { g.seen[i] = key; cell(ctx, i, f.cls[i], f.txt[i], f.bg[i], i === g.picked); }
    if (f.unit[i] >= 0 && (fresh || g.bars[i] !== f.unit[i])) bar(ctx, i, f.unit[i], f.cls[i].indexOf(' a') >= 0, f.thr);
    g.bars[i] = f.unit[i];
  }
}
function cellAt(e) {
  const g = grid, r = g.cv.getBoundingClientRect();
  const col = Math.floor((e.clientX - r.left) / (G.cell_width + G.gap));
  const i = Math.floor((e.clientY - r.top) / (G.cell_height + G.gap)) * g.cols + col;
  return col < g.cols && i >= 0 && i < g.n ? i : -1;
}
function pick(e) {
  const i = cellAt(e);
  if (i < 0) return;
  grid.picked = i;
  cells(grid.f);
  trigger('click', {pos: i, step: grid.f.step});
}
function drawFrame(f) {
  if (!grid || !grid.box.isConnected) open(f);
  const g = grid;
  if (g.headHtml !== f.head) { g.head.innerHTML = f.head; g.headHtml = f.head; }
  if (g.line.textContent !== f.narr) { g.line.textContent = f.narr; g.line.hidden = !f.narr; }
  g.box.dataset.step = String(f.step);
  if (g.f && g.f.thr !== f.thr) g.seen.fill(null);
  g.f = f;
  layout(f.cls.length);
  cells(f);
}
let film = null, local = {step: -1, at: 0};  // the finished run (app/canvas_film.py); the last step drawn from it
function filmFrame(F, n) {  // step n of the film as render.dense_slots has it (tests/test_browser_canvas.py)
  n = Math.max(0, Math.min(n, F.steps.length));
  const L = F.len, state = F.canvas.slice(), ends = new Set(F.ends);
  for (let k = 0; k < n; k++) for (const w of F.steps[k].w) state[w[0]] = w[1];
  let firstEnd = L;
  for (let i = 0; i < L; i++) if (ends.has(state[i])) { firstEnd = i; break; }
  const st = n > 0 ? F.steps[n - 1] : null, fresh = st ? st.f : {}, at = new Map();
  if (st) st.g[0].forEach((p, j) => at.set(p, j));
  const cls = new Array(L), txt = new Array(L), unit = new Array(L).fill(-1), bg = new Array(L).fill('');
  for (let i = 0; i < L; i++) {
    const tok = state[i], end = ends.has(tok);
    if (F.fixed[i]) cls[i] = end ? 'l e' : 'l';
    else if (tok === F.mask) {
      const j = at.get(i);
      if (j === undefined) { cls[i] = 'm'; txt[i] = F.mask_label; continue; }
      cls[i] = st.g[3][j] ? 'g a' : 'g'; txt[i] = F.labels[st.g[1][j]]; unit[i] = st.g[2][j];
      continue;
    } else if (fresh[i] !== undefined) { cls[i] = end ? 'n e' : 'n'; bg[i] = fresh[i]; }
    else cls[i] = end ? 'e' : 'o';
    txt[i] = end && i > firstEnd ? F.after_end[tok] : F.labels[tok];
  }
  return {step: n, thr: F.thr, head: F.heads[n], narr: F.narration[n], cls, txt, unit, bg, shell: F.shell};
}
function scrub(e) {  // the replay slider, handled here: a step of the film is drawn without asking the server
  if (!film || !e.target.matches('input') || !e.target.closest('#' + SETTINGS.replay_id)) return;
  const n = Number(e.target.value);
  if (!Number.isFinite(n)) return;
  local = {step: n, at: performance.now()};
  drawFrame(filmFrame(film, n));
}
if (SETTINGS.replay_id) document.addEventListener('input', scrub, true);  // the slider may mount after this canvas
function draw(text) {
  text = text || '';
  if (text.charAt(0) !== '{') { host.innerHTML = text; grid = null; film = null; return; }
  const msg = JSON.parse(text);
  if (msg.film) { film = msg.film; drawFrame(filmFrame(film, msg.at)); return; }
  // a server frame for another step than one just drawn from the film is a late answer to an earlier scrub
  if (film && msg.step !== local.step && performance.now() - local.at < SETTINGS.scrub_hold_ms) return;
  if (!msg.replay) film = null;  // a live frame: a new run
  drawFrame(msg);
}
host.dmDraw = draw;
host.dmFilmFrame = (n) => (film ? filmFrame(film, n) : null);  // what a scrub to step n draws (tests)
draw(props.value);
watch('value', () => host.dmDraw(props.value));
""" + CLICK_JS


def component(value: str, replay_id: str = "", **kw) -> gr.HTML:
    """The live canvas: a constant template drawn by DRAW_JS; its slots report clicks to the inspector.
    `replay_id`: the elem_id of the replay slider, whose moves it draws from a finished run's film."""
    settings = json.dumps({"grid": dense_view.GRID, "palette": dense_view.PALETTE, "css": render.CANVAS_CSS,
                           "replay_id": replay_id, "scrub_hold_ms": SCRUB_HOLD_MS})
    return gr.HTML(value, html_template=HOST, css_template="", js_on_load=DRAW_JS.replace("__SETTINGS__", settings),
                   **kw)


@functools.lru_cache(maxsize=1)
def _shell() -> str:
    """The empty card the page draws a large canvas into (constant: built once)."""
    return render.card("", '<div class="dm-narration" hidden></div>', dense_view.tokens(0, 0.0))


def frame(traj, n_steps: Optional[int] = None, *, live: bool = False, title: str = "") -> dict:
    """A large canvas after `n_steps` iterations (default: all so far) as the browser draws it."""
    f = frames.frame(traj, n_steps, live=live)
    slots = dense_view.slots(f)
    return {"step": f.step, "thr": round(confidence_unit(f.threshold, f.alg), 4), "replay": not live,
            "head": render.canvas_head(f.badges, title), "narr": f.narration,
            "cls": [s.cls for s in slots], "txt": [s.label for s in slots],
            "unit": [-1 if s.unit is None else round(100 * s.unit) for s in slots], "bg": [s.background for s in slots],
            "shell": _shell()}


def _json(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def value(traj, n_steps: Optional[int] = None, *, live: bool = False, title: str = "") -> str:
    """What the canvas is sent for one frame (live, replay, Play): HTML for a small canvas, a frame message
    for a large one."""
    if not is_large(traj):
        return render.render_canvas(traj, n_steps, live=live, title=title)
    return _json(frame(traj, n_steps, live=live, title=title))


def finished(traj) -> str:
    """What the canvas is sent when a run ends or is imported: for a large one, its film (app/canvas_film.py),
    drawn at its last step, from which the page replays any step by itself."""
    if not is_large(traj):
        return render.render_canvas(traj)
    return _json({"film": {**canvas_film.film(traj), "shell": _shell()}, "at": len(traj.steps)})


LIVE_FRAME_EVERY_S = 0.1  # a large canvas is sent live at most ten times a second


def due(traj, since_last_s: float) -> bool:
    """Whether a live frame of `traj` should be sent, `since_last_s` after the last one: always for a small
    canvas and for the step-0 canvas, otherwise at most every LIVE_FRAME_EVERY_S (the browser's work per
    update, Gradio's included, would otherwise outgrow the step; the replay shows every step)."""
    return not is_large(traj) or not traj.steps or since_last_s >= LIVE_FRAME_EVERY_S


def is_large(traj) -> bool:
    return traj is not None and traj.length >= render.DENSE_FROM
