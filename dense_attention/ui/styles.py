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
[data-testid="stMainBlockContainer"] { padding-top: 4rem; }
.st-key-slide_view h1 { font-size: 3.4rem; padding: 0 0 0.5rem; }
.st-key-slide_view [data-testid="stMarkdownContainer"] p,
.st-key-slide_view [data-testid="stMarkdownContainer"] li { font-size: 1.4rem; line-height: 1.5; }
.st-key-slide_view .katex-display { font-size: 1.5rem; }
.st-key-slide_view summary p { font-size: 1.2rem; }
.st-key-slide_view [role="tablist"] { display: none; }
</style>"""


# Inline markdown that could turn a user string into something else: emphasis, code, links and
# images ([...]), HTML, LaTeX, Streamlit directives (:red[...]), strikethrough, table cells.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>$:~|])")


def md(text: object) -> str:
    """A user string (class name, file name, dataset name) as literal text inside markdown: its
    markdown, links, images, LaTeX ($) and Streamlit directives (:red[...]) escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def token_chips_html(tokens: Sequence[str]) -> str:
    """The tokens as numbered chips (HTML-escaped)."""
    chips = "".join(
        f'<span style="{CHIP_STYLE}"><sub style="color:#868e96">{k + 1}</sub> '
        f"{html.escape(str(t))}</span>"
        for k, t in enumerate(tokens)
    )
    return f'<div style="line-height:2;">{chips}</div>'


def centered(text: str) -> str:
    """Markdown-safe HTML of one centred line (the text is escaped)."""
    return f"<div style='text-align:center'>{html.escape(text)}</div>"


def escape_markdown(text: str) -> str:
    """User or model text shown through st.markdown as plain text (no links, images, HTML)."""
    special = "\\`*_{}[]<>()#+-.!|~$"
    return "".join(f"\\{c}" if c in special else c for c in str(text))
