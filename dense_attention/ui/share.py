"""Shareable views: the URL's query parameters to the session (once) and back (every run)."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from ..core.i18n import N_, tr
from . import browser, lesson, live, state
from .cache import checkpoints
from .styles import md

SHARED_TEXT_MAX = 1000  # longer sentences stay out of the URL (browsers cut long URLs)
PICTURE_NAME_MAX = 100  # a longer picture name in a link is ignored
EXAMPLE_SOURCE = N_("Test-set example")  # the Image page's source radio value for a test example


def _param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value if isinstance(value, str) and value else None


def _slide(text: str | None) -> int | None:
    """A 1-based slide number from a link, as a 0-based index; None if it is not one."""
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    ok = value is not None and math.isfinite(value) and value > 0 and value == int(value)
    return int(value) - 1 if ok else None


def slide_in_url() -> int | None:
    """The URL's slide (0-based) now: the present page's deck keeps it current in the browser,
    and a rerun brings it here; None without a valid one."""
    return _slide(st.query_params.get("slide"))


OTHER_BROWSER = N_(
    "This link names a model trained in another browser ({name}); it is not in this one, so "
    "the page shows another model. Ask for its checkpoint ZIP and load it on the Train page."
)


def _link_kind(model: str | None) -> str | None:
    """The kind of the link's model when this browser has it (shipped, or its own), else None."""
    infos, own = checkpoints(), browser.user_models()
    if model in infos:
        return infos[model].kind
    name = (model or "").removesuffix(browser.USER_SUFFIX)
    if model is not None and model.endswith(browser.USER_SUFFIX) and name in own:
        return own[name].config.kind
    return None


def _restore_model() -> None:
    """A link's model (shipped, or this browser's own) becomes the picked one of its kind, with
    the link's live settings; a model of another browser, or a setting out of range, is said."""
    model = _param("model")
    kind = _link_kind(model)
    if kind is None:
        if model is not None and model.endswith(browser.USER_SUFFIX):
            st.warning(tr(OTHER_BROWSER, name=md(model)), icon=":material/link_off:")
        return
    picks = st.session_state.setdefault(state.SELECTED_MODEL, {})
    picks[kind] = picks["any"] = model
    st.session_state.setdefault(state.OVERRIDES, {})[model] = live.from_link(_param)
    ignored = [
        f"{setting.name}={md(text)}"
        for setting in live.LIVE_SETTINGS
        if (text := _param(setting.name)) is not None and setting.parse(text) is None
    ]
    if ignored:
        st.warning(
            tr(
                "This link's {join} is not a value the sidebar offers: the model's "
                "trained value is used instead.",
                join=", ".join(ignored),
            ),
            icon=":material/tune:",
        )


def _restore_present() -> None:
    slide = _slide(_param("slide"))
    if slide is not None:
        st.session_state[state.SLIDE] = slide
    if _param("input") in ("text", "image"):
        st.session_state[state.PRESENT_SOURCE] = _param("input").capitalize()
    picture = _param("image")
    if picture is not None and len(picture) <= PICTURE_NAME_MAX:  # kept only if it is offered
        st.session_state[state.PRESENT_PHOTO] = picture


def restore_view() -> None:
    """Once per session (app.py, before the page runs): a shared URL's view into the session.

    Parameters: text, model (a shipped checkpoint or this browser's), similarity, temperature,
    pooling, slide (1-based), input (text | image) and image (a demo photo) of the present
    page, cell ("i,j", 1-based) of the formula panel, example (1-based) of the Image page,
    text_not_shared=1 when the sender's text was too long for a link, a lesson's hide= and
    lock= (ui.lesson), and charts=all (every chart drawn at once rather than when scrolled to,
    ui.lazy: for printing the page or a full-page screenshot). Unknown or invalid values are
    ignored: the page opens with its defaults instead, and says so for a model or setting.
    """
    if st.session_state.get(state.VIEW_RESTORED):
        return
    st.session_state[state.VIEW_RESTORED] = True
    text = _param("text")
    if text is not None:
        st.session_state[state.SENTENCE] = text[:SHARED_TEXT_MAX]
    st.session_state[state.TEXT_NOT_SHARED] = _param("text_not_shared") == "1"
    st.session_state[state.EVERY_CHART] = _param("charts") == "all"
    _restore_model()
    _restore_present()
    _restore_picks()
    lesson.restore(_param)


def _index(text: str | None, upper: int = 10_000) -> int | None:
    """A 1-based index from a link as 0-based; None unless it is a whole number in 1..upper."""
    k = _slide(text)
    return k if k is not None and k < upper else None


def _restore_picks() -> None:
    """The selected attention cell ("cell=5,8", 1-based) and the Image page's test example."""
    cell = (_param("cell") or "").split(",")
    if len(cell) == 2 and None not in (ij := [_index(part) for part in cell]):
        st.session_state[state.CELL_I], st.session_state[state.CELL_J] = ij
    example = _index(_param("example"))
    if example is not None:
        st.session_state[state.IMAGE_EXAMPLE] = example
        st.session_state[state.IMAGE_SOURCE] = EXAMPLE_SOURCE


def share_view(**params: Any) -> None:
    """Write the view into the URL's query parameters (None removes one); unchanged values are
    not rewritten, so a rerun does not touch the browser's history."""
    for name, value in params.items():
        text = None if value is None else f"{value:g}" if isinstance(value, float) else str(value)
        if text is None:
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != text:
            st.query_params[name] = text
