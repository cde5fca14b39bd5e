// The Branch tab's clickable canvases (js_on_load): a click on a position (data-pos) sends the custom event 'pick'.
element.addEventListener('click', (e) => {
  const t = e.target.closest('[data-pos]');
  if (t) { trigger('pick', {pos: Number(t.dataset.pos)}); }
});
