"""CSS and HTML snippets of the app: token chips and the presentation's large type."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

CHIP_STYLE = (
    "display:inline-block; margin:0.15em; padding:0.1em 0.45em; border:1px solid #ced4da; "
    "border-radius:0.4em; background:#f8f9fa; font-family:monospace;"
)
SLIDE_FONT_PX = 16  # plotly's default is 12: too small across a room

# Large type on the present page, scoped to the slide's container by the CSS class of its key
# (state.SLIDE_VIEW); its tab strip is hidden: the slide_deck controls switch the slides.
PRESENT_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.6rem; padding-bottom: 0.5rem; }
.st-key-slide_view h1 { font-size: 3rem; padding: 0 0 0.25rem; }
.st-key-slide_view [data-testid="stMarkdownContainer"] p,
.st-key-slide_view [data-testid="stMarkdownContainer"] li { font-size: 1.2rem; line-height: 1.4; }
.st-key-slide_view .katex-display { font-size: 1.35rem; margin: 0.4em 0; }
.st-key-slide_view summary p { font-size: 1.2rem; }
.st-key-slide_view [role="tablist"] { display: none; }
</style>"""

# A badge (the app's only one is the verdict's) wraps onto more lines in a narrow column:
# Streamlit's is one line cut with an ellipsis, which hid most of a verdict on the Image page.
BADGE_CSS = """<style>
span.stMarkdownBadge { white-space: normal !important; text-overflow: clip !important; }
</style>"""


# Inline markdown that could turn a user string into something else: emphasis, code, links and
# images ([...]), HTML, LaTeX, Streamlit directives (:red[...]), strikethrough, table cells,
# headings, lists and block quotes at a line's start.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$:~|#+\-.!(){}])")
# What GFM links with no markup at all (autolink literals): a scheme's "://" or "mailto:"/"xmpp:",
# "www." and an e-mail's "@" (and, to be safe, "javascript:"). Backslash escapes do not stop it
# (checked in Chromium with Streamlit 1.67): a WORD JOINER (invisible, no width) inside the
# trigger does. Any other "word:" (an error's "file.png: not an image") is left alone.
_AUTOLINK = re.compile(
    r"(?i)(?<=[a-z0-9])(?=://)|(?<=\bmailto)(?=:)|(?<=\bxmpp)(?=:)|(?<=\bjavascript)(?=:)"
    r"|(?<=\bwww)(?=\.)|(?<=@)"
)
WORD_JOINER = "\u2060"


def md(text: object) -> str:
    """Any user string (class name, token, file, folder, model or dataset name, typed text, an
    error that quotes one) as literal text for Streamlit: markdown, links, images, HTML, LaTeX
    ($) and directives (:red[...]) escaped, and bare URLs (http://, www., e-mail) not linked.
    The one escaping function of the app: st.markdown, captions, alerts, widget labels and
    format_func all take user strings through it (tests/test_sinks.py checks every call)."""
    unlinked = _AUTOLINK.sub(WORD_JOINER, str(text))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", unlinked)


def token_chips_html(tokens: Sequence[str]) -> str:
    """The tokens as numbered chips (HTML-escaped); `data-dal-token` (0-based) links each to
    the page's charts (ui/assets/linked.js)."""
    chips = "".join(
        f'<span data-dal-token="{k}" style="{CHIP_STYLE}">'
        f'<sub style="color:#868e96">{k + 1}</sub> '
        f"{html.escape(str(t))}</span>"
        for k, t in enumerate(tokens)
    )
    return f'<div style="line-height:2;">{chips}</div>'


def centered(text: str) -> str:
    """Markdown-safe HTML of one centred line (the text is escaped)."""
    return f"<div style='text-align:center'>{html.escape(text)}</div>"
