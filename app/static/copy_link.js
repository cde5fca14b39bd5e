// "Copy link": the controls' query (app/lessons/share.py) into the address bar and onto the clipboard
// (a browser that refuses the clipboard still has the address).
(q) => {
  if (q === null || q === undefined) return;
  history.replaceState(null, '', location.pathname + q);
  try { navigator.clipboard.writeText(location.href).catch(() => {}); } catch (e) {}
}
