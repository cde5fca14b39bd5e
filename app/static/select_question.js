// An example or a random scene offered a question (its text arrives as `question`). The box is focused with the
// text selected, so Enter sends it and typing replaces it. A visitor usually clicks the box first, and a click
// would put the caret inside the offered text (their words then join it): the first click on an untouched
// offer selects it all again; typing, or a second click, behave as usual.
(question) => {
  const box = document.querySelector('#dm-prompt textarea');
  if (!box) return;
  if (!box.dataset.offerWired) {
    box.dataset.offerWired = '1';
    box.addEventListener('mouseup', (e) => {
      if (box.dataset.offered !== '1') return;
      delete box.dataset.offered;
      e.preventDefault();
      box.select();
    });
    box.addEventListener('input', () => { delete box.dataset.offered; });
  }
  // Gradio writes the new value after this runs: wait for it (at most about a second).
  let tries = 40;
  const offer = () => {
    if (box.value !== question && tries-- > 0) { setTimeout(offer, 25); return; }
    box.focus();
    box.select();
    box.dataset.offered = '1';
  };
  offer();
}
