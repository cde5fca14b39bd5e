"""First contact: the "What it knows" card folded to one line, a compact first screen, the canvas in view after Send.

Owns what a newcomer meets before anything runs: `fold_about` turns the
model's "what it knows" markdown into one line with a "more" toggle (an HTML
<details>), the CSS that keeps the picture, the question box with Send and
the Lessons entry inside a 1400x900 or 390x844 first screen, and the script
that brings the live canvas into view when a question is sent. It knows
nothing of the model or of decoding.
"""

from __future__ import annotations

import html
import re

FIRST_LINE_CHARS = 90  # the folded card's one line, before "more"

CSS = """
.dm-about-card { font-size: 13px; color: #4b5160; background: #f3f1ff; border-left: 3px solid #7c6cf0;
  padding: 2px 12px; border-radius: 6px; }
.dm-about-card summary { cursor: pointer; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dm-about-card summary .dm-more { color: #5b4bd6; text-decoration: underline; margin-left: 4px; }
.dm-about-card[open] summary .dm-more::after { content: " (less)"; }
#dm-image img { max-height: 200px; }  /* the first screen: picture, question and Send above the fold */
@media (min-width: 601px) { #dm-image { max-height: 250px; } }
/* Send right under the question: the suggestions after the buttons, the accordions after them */
#dm-left > #dm-suggest, #dm-left > :has(> #dm-suggest) { order: 1; }
#dm-left > :has(#dm-threshold), #dm-left > :has(#dm-preset) { order: 2; }
@media (max-width: 600px) {  /* a phone: the example strip and New scene go below the question column's controls */
  .dm-title p { display: none; }
  #dm-left > #dm-examples, #dm-left > #dm-scene, #dm-left > :has(> #dm-scene) { order: 3; }
}
"""

# after Send: the live canvas scrolled into view (on a phone it sits under the question column)
SHOW_CANVAS_JS = ("() => { const c = document.querySelector('#dm-canvas');"
                  " if (c && c.getBoundingClientRect().top > window.innerHeight - 120)"
                  " c.scrollIntoView({block: 'start', behavior: 'instant'}); }")


def _inline(text: str) -> str:
    """Markdown's **bold** and `code` on escaped text (all the card uses)."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def fold_about(markdown: str) -> str:
    """The card's markdown -> one folded line ("What it knows: <start>… more") that opens to the whole text."""
    if not markdown or not markdown.strip():
        return ""
    body = re.sub(r"^\*\*What it knows\.?\*\*\s*", "", markdown.strip())
    plain = re.sub(r"[*`]", "", body)
    line = plain if len(plain) <= FIRST_LINE_CHARS else plain[:FIRST_LINE_CHARS].rsplit(" ", 1)[0] + "\u2026"
    return (f"<details class='dm-about-card' id='dm-about-card'><summary><b>What it knows:</b> "
            f"{html.escape(line)}<span class='dm-more'>more</span></summary><div>{_inline(body)}</div></details>")


def folded(header):
    """The page's header handler with its "what it knows" card folded: () -> (model line, card html)."""
    def run():
        line, about = header()
        return line, fold_about(about)

    return run
