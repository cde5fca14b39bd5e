// The live canvas's js_on_load (app/canvas/client.py): draws the HTML or frame message it is sent; a large
// canvas as a grid on a <canvas> (a semi-autoregressive decode's block boundaries as bars at the left of the cells
// that start a block, the active block's masked cells tinted); a scrub of the replay slider from the film.
// __SETTINGS__ is replaced by client.component's settings (JSON).
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
const fitted = new Map();  // room (px) -> label -> the part of it that fits there
function fit(ctx, label, room) {
  if (!fitted.has(room)) fitted.set(room, new Map());
  const known = fitted.get(room);
  let out = known.get(label);
  if (out !== undefined) return out;
  out = label;
  if (ctx.measureText(out).width > room) {
    while (out.length > 1 && ctx.measureText(out + '\u2026').width > room) out = out.slice(0, -1);
    out += '\u2026';
  }
  known.set(label, out);
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
          seen: [], bars: [], picked: -1, edges: new Set(), edgesKey: '', edged: [], edgedText: ''};
  cv.addEventListener('click', (e) => pick(e));
  cv.addEventListener('mousemove', (e) => { const i = cellAt(e); cv.title = i < 0 ? '' :
    'position ' + i + blockOf(i) + ': ' + grid.f.txt[i] + ' \u2014 click to inspect'; });
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
  g.edged = new Array(n).fill(false);
  if (g.f) cells(g.f);
}
function origin(i) {
  return [(i % grid.cols) * (G.cell_width + G.gap), Math.floor(i / grid.cols) * (G.cell_height + G.gap)];
}
function blockOf(i) {  // ' (block k of n)' for a decode with blocks, from the frame's block starts
  const edges = grid.f.edges || [];
  if (!edges.length) return '';
  let k = 0;
  while (k < edges.length && edges[k] <= i) k++;
  return ' (block ' + (k + 1) + ' of ' + (edges.length + 1) + ')';
}
function edgeBar(ctx, i) {  // a block's boundary: a bar along the left of the cell that starts it
  const [x, y] = origin(i);
  ctx.fillStyle = P.block.fg;
  ctx.fillRect(x, y, G.edge_px, G.cell_height);
}
function cell(ctx, i, cls, txt, bg, picked, edge, active) {
  const [x, y] = origin(i), w = G.cell_width, h = G.cell_height, kind = cls.charAt(0), end = cls.indexOf(' e') >= 0;
  const look = P[end && kind === 'n' ? 'e' : kind], inset = edge ? G.edge_px : 0;
  ctx.clearRect(x - 1, y - 1, w + 2, h + 2);
  ctx.fillStyle = bg || (active ? P.block.bg : look.bg);
  ctx.fillRect(x, y, w, h);
  const border = kind === 'n' ? P.n.border : look.border;
  if (border) { ctx.strokeStyle = border; ctx.lineWidth = 1; ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1); }
  ctx.font = (look.font ? look.font + ' ' : '') + G.font_px + 'px ui-monospace, "DejaVu Sans Mono", monospace';
  ctx.fillStyle = look.fg;
  ctx.fillText(fit(ctx, txt, w - 4 - inset), x + 2 + inset, y + h / 2);
  if (picked) { ctx.strokeStyle = P.picked.border; ctx.lineWidth = 2; ctx.strokeRect(x + 1, y + 1, w - 2, h - 2); }
  if (edge) edgeBar(ctx, i);
  grid.edged[i] = edge;
}
function bar(ctx, i, unit, above, thr, edge) {  // a ghost's confidence bar along the cell's bottom, the threshold a tick
  const [x, y] = origin(i), w = G.cell_width, h = G.cell_height, b = G.bar_px;
  ctx.fillStyle = P.bar.bg; ctx.fillRect(x, y + h - b, w, b);
  ctx.fillStyle = above ? P.above.fg : P.bar.fg; ctx.fillRect(x, y + h - b, w * unit / 100, b);
  ctx.fillStyle = P.bar.border; ctx.fillRect(x + Math.round(w * thr), y + h - b - 2, 1, b + 2);
  if (edge) edgeBar(ctx, i);  // a bar repainted alone must not cut the boundary
}
function cells(f) {  // repaints the cells whose look changed (a block edge and the active block are part of it)
  const g = grid, ctx = g.ctx, lo = f.active ? f.active[0] : 0, hi = f.active ? f.active[1] : 0;
  ctx.textBaseline = 'middle';
  for (let i = 0; i < f.cls.length; i++) {
    const edge = g.edges.has(i), act = i >= lo && i < hi && 'mg'.indexOf(f.cls[i].charAt(0)) >= 0;
    const key = f.cls[i] + '|' + f.txt[i] + '|' + f.bg[i] + '|' + (i === g.picked) + '|' + edge + '|' + act;
    const fresh = g.seen[i] !== key;
    if (fresh) { g.seen[i] = key; cell(ctx, i, f.cls[i], f.txt[i], f.bg[i], i === g.picked, edge, act); }
    if (f.unit[i] >= 0 && (fresh || g.bars[i] !== f.unit[i])) {
      bar(ctx, i, f.unit[i], f.cls[i].indexOf(' a') >= 0, f.thr, edge);
    }
    g.bars[i] = f.unit[i];
  }
  const edged = [];
  g.edged.forEach((on, i) => { if (on) edged.push(i); });
  const text = edged.join(' ');  // the boundaries on screen, for tests and tools: data-edges of the token box
  if (text !== g.edgedText) { g.edgedText = text; g.box.dataset.edges = text; }
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
  const edgesKey = (f.edges || []).join(' ');
  if (edgesKey !== g.edgesKey) { g.edgesKey = edgesKey; g.edges = new Set(f.edges || []); }
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
  return {step: n, thr: F.thr, head: F.heads[n], narr: F.narration[n], cls, txt, unit, bg,
          edges: F.edges || [], active: F.active ? F.active[n] : null, shell: F.shell};
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
