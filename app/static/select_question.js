// After an example or a random scene fills the question: it is selected, so Enter sends it and typing replaces it.
() => {
  const box = document.querySelector('#dm-prompt textarea');
  if (box) { box.focus(); box.select(); }
}
