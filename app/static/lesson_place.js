// The lesson's place ("?lesson=N&step=S&guess=K") into the address bar and the page title; none: both cleared
// (a reload reads them back: app/lessons/handlers.py Lessons.from_url).
(q) => {
  if (!q) {
    if (/lesson=/.test(location.search)) history.replaceState(null, '', location.pathname);
    document.title = 'Dimple Studio';
    return;
  }
  if (location.search !== q) history.replaceState(null, '', location.pathname + q);
  document.title = 'Lesson ' + /lesson=(\d+)/.exec(q)[1] + ' \u2013 Dimple Studio';
}
