"""First contact: the "What it knows" card folded to one line, a compact first screen, the canvas in view after Send.

Owns what a newcomer meets before anything runs: `fold_about` turns the
model's "what it knows" markdown into one line with a "more" toggle (an HTML
<details>), the CSS that keeps the picture, the question box with Send and
the Lessons entry inside a 1400x900 or 390x844 first screen
(app/static/welcome.css), and the script that brings the live canvas into
view when a question is sent (app/static/show_canvas.js). It knows nothing
of the model or of decoding.
"""

from __future__ import annotations

import html
import re

FIRST_LINE_CHARS = 90  # the folded card's one line, before "more"



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
