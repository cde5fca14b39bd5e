// A click on a canvas slot sends its position and the frame's step (js_on_load, after canvas.js;
// a lean large canvas, app/canvas/dense.py, has no data-pos: a slot's index among its siblings is its position).
element.addEventListener('click', (e) => {
  const slot = e.target.closest('[data-pos], .dm-dense > span');
  if (!slot) return;
  const box = slot.closest('.dm-tokens');
  const pos = slot.dataset.pos !== undefined ? Number(slot.dataset.pos) : Array.prototype.indexOf.call(box.children, slot);
  element.querySelectorAll('.dm-picked').forEach((x) => x.classList.remove('dm-picked'));
  slot.classList.add('dm-picked');
  trigger('click', {pos: pos, step: Number(box ? box.dataset.step : 0)});
});
