// After Send: the live canvas scrolled into view (on a phone it sits under the question column).
() => {
  const c = document.querySelector('#dm-canvas');
  if (c && c.getBoundingClientRect().top > window.innerHeight - 120) c.scrollIntoView({block: 'start', behavior: 'instant'});
}
