"""The interface's language for this browser session: the sidebar's switch, defaulting to the
browser's language, and the lookup core.i18n.tr uses (per session, never one for the server)."""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ..core import i18n
from . import state

__all__ = ["N_", "browser_language", "current", "language_switch", "tr", "tr_columns"]

tr = i18n.tr  # the one translation function, for the pages (ui.tr)
N_ = i18n.N_  # marks a page's msgid defined before the language is known (ui.N_)


def current() -> str | None:
    """The language of the session whose script runs in this thread (None outside a run)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    return st.session_state.get(state.LANGUAGE)


i18n.set_source(current)


def browser_language() -> str:
    """The browser's language, if we have it (navigator.language, else Accept-Language)."""
    locale = st.context.locale or st.context.headers.get("Accept-Language")
    return i18n.from_locale(locale)


def _remember() -> None:
    st.session_state[state.LANGUAGE] = st.session_state[state.LANGUAGE_WIDGET]


def language_switch() -> str:
    """The language switch in the sidebar (first run: the browser's language); returns the
    code. Call it before anything is translated: the page's words follow it."""
    if st.session_state.get(state.LANGUAGE) not in i18n.LANGUAGES:
        st.session_state[state.LANGUAGE] = browser_language()
    code = st.session_state[state.LANGUAGE]
    st.sidebar.segmented_control(
        "Language / 语言",
        list(i18n.LANGUAGES),
        format_func=i18n.LANGUAGES.__getitem__,
        required=True,
        **state.bound(state.LANGUAGE_WIDGET, code, _remember),
    )
    return st.session_state[state.LANGUAGE]


def tr_columns(columns: dict[str, Any]) -> dict[str, Any]:
    """A table's st.column_config (labels and help marked with N_ where the table is defined),
    with each label and help in the session's language."""
    return {
        name: {**config, **{k: tr(config[k]) for k in ("label", "help") if config.get(k)}}
        for name, config in columns.items()
    }
