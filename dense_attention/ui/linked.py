"""One token followed through every step: the one-screen overview of the Text and Image pages
(small charts of every step, one row per token) and the page-wide linked highlight.

Both live in the browser (assets/linked.js, a components-v2 element in the page's own DOM):
hovering a token chip, a row or column of a matrix, an α bar, a point of the query–key map or
a row of the overview highlights that token in every chart at once, with no server round trip.
A click pins the token: the element's state sends it here, kept in `state.LINKED_TOKEN` with
the tokens it belongs to, so a rerun (a live setting, another cell) draws it pinned again.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import streamlit as st

from ..core.config import ModelConfig
from ..core.i18n import tr
from ..figures import overview
from ..inputs.classifier import Explanation
from . import state
from .cache import component

MAX_TOKENS = 128  # seven N x N and N x d plotly charts: past this, megabytes a rerun


def _words() -> dict[str, str]:
    """The overview's own words, in the session's language (assets/linked.js shows them)."""
    return {
        "token": tr("token"),
        "hint": tr(
            "Hover a token (its chip, a row, a matrix cell, an α bar) to follow it through "
            "every step; click to pin it."
        ),
        "under": tr("under it, token {k}'s α<sub>i</sub> v<sub>i</sub>"),
    }


def pinned_token(tokens: list[str]) -> int | None:
    """The token pinned on this input (0-based), or None (none pinned, or another input's)."""
    found = st.session_state.get(state.LINKED_TOKEN)
    if not isinstance(found, tuple) or len(found) != 2 or list(found[0]) != tokens:
        return None
    k = found[1]
    return k if isinstance(k, int) and 0 <= k < len(tokens) else None


def _pin(key: str, tokens: tuple[str, ...]) -> None:
    """on_token_change: the clicked token (or None, unpinned) for this input."""
    result = st.session_state.get(key)
    k = result.get("token") if isinstance(result, Mapping) else getattr(result, "token", None)
    st.session_state[state.LINKED_TOKEN] = (tokens, k if isinstance(k, int) else None)


def overview_panel(explanation: Explanation, config: ModelConfig, key: str) -> None:
    """The one-screen overview of `explanation` (its trace under the live settings, `config`
    with them in), linked with every chart of the page."""
    tokens = list(explanation.tokens)
    if len(tokens) > MAX_TOKENS:
        st.caption(
            tr(
                "The overview of every step is drawn for inputs of up to {MAX_TOKENS} "
                "tokens; this one has {tokens}: the steps below show each one.",
                MAX_TOKENS=MAX_TOKENS,
                tokens=len(tokens),
            )
        )
        return
    payload = overview.overview_payload(  # a few ms: not worth a cache
        explanation.trace, tokens, list(explanation.classes), config, explanation.hover_tokens
    )
    st.subheader(tr("Every step at a glance"), divider="gray")
    st.caption(
        tr(
            "One row per token through every step. Hover a token here, on its chip "
            "or in any chart below to follow it everywhere at once; click to pin it.",
        )
    )
    component("linked")(
        key=key,
        data={**payload, "pinned": pinned_token(tokens), "words": _words()},
        default={"token": None},
        on_token_change=functools.partial(_pin, key, tuple(tokens)),
    )
