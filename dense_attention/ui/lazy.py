"""Charts drawn only near the screen: a setting change redraws what a user can see.

Inside `near_screen(key)`, `plotly_chart` draws a chart only while its box is within MARGIN_PX of
the browser's viewport, as the viewport element (assets/viewport.js) last reported, and
otherwise an empty box of the chart's height that says it is drawn when scrolled to. Until the
browser has reported (a first run, AppTest, a browser without JavaScript) every chart is drawn;
outside `near_screen`, under DAL_LAZY_CHARTS=0 or in a session opened with `charts=all` in its
link, `plotly_chart` is st.plotly_chart.

A page opens it twice under one key: around the charts of its full run (`mount=False`: x and h,
which no live setting changes) and around its live fragment's, which mounts the viewport element
at the end. A report reruns the fragment; when the full run's boxes near the screen are not the
ones it drew, the fragment reruns the whole page to draw them.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from ..core.i18n import tr
from . import state
from .cache import component

PREFIX = "dal-lazy-"  # the boxes' container keys start so (CSS class st-key-dal-lazy-...)
MARGIN_PX = 400  # a box this close to the viewport counts as on screen
DEBOUNCE_MS = 150  # report once scrolling has paused this long
DEFAULT_HEIGHT = 450  # plotly's default figure height, for a figure that sets none
ENV = "DAL_LAZY_CHARTS"  # "0": draw every chart (printing a page, comparing timings)
FULL_RUN = "_full_run"  # session key suffix: (boxes, drawn) of the page's full run


@dataclass
class _Scope:
    """One near_screen block: the boxes near the screen (None: every one) and what it drew."""

    near: frozenset[str] | None
    boxes: set[str] = field(default_factory=set)
    drawn: set[str] = field(default_factory=set)


Figure = go.Figure | Callable[[], go.Figure]  # a figure, or what builds it when first needed
_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("dal_lazy", default=None)


def enabled() -> bool:
    """Off under DAL_LAZY_CHARTS=0 and in a session opened by a link with charts=all."""
    return os.environ.get(ENV, "1") != "0" and not st.session_state.get(state.EVERY_CHART)


def _reported(key: str) -> frozenset[str] | None:
    """The box keys the viewport element last reported for `key`. Before its first report:
    nothing, in a session whose browser has reported before (a page switch: the new page opens
    at its top, and its element reports what is near at once); else None (every chart)."""
    value = st.session_state.get(key)
    if isinstance(value, Mapping):
        visible = value.get("visible")
    else:
        visible = getattr(value, "visible", None)
    if not isinstance(visible, list) or not all(isinstance(k, str) for k in visible):
        return frozenset() if st.session_state.get(state.VIEWPORT_SEEN) else None
    st.session_state[state.VIEWPORT_SEEN] = True
    return frozenset(visible)


def _full_run_is_stale(key: str, near: frozenset[str] | None) -> bool:
    """Whether the full run's boxes near the screen differ from the ones it drew."""
    full = st.session_state.get(key + FULL_RUN)
    if full is None:
        return False
    boxes, drawn = full
    return (boxes if near is None else boxes & near) != drawn


@contextlib.contextmanager
def near_screen(key: str, *, mount: bool = True) -> Iterator[None]:
    """Inside: plotly_chart draws only the charts near the screen (see the module docstring).
    With `mount` (a live fragment), the viewport element is mounted after the block under
    `key` (it draws nothing; its report reruns the fragment); without, the block is a full
    run's and what it drew is remembered for the fragment."""
    if not enabled():
        yield
        return
    near = _reported(key)
    if mount and _full_run_is_stale(key, near):
        st.rerun(scope="app")  # a full-run chart scrolled near the screen, or away
    scope = _Scope(near)
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)
    if not mount:
        st.session_state[key + FULL_RUN] = (frozenset(scope.boxes), frozenset(scope.drawn))
        return
    component("viewport")(
        key=key,
        data={"prefix": PREFIX, "margin_px": MARGIN_PX, "debounce_ms": DEBOUNCE_MS},
        on_visible_change=lambda: None,  # a report reruns the fragment
    )


def _height(fig: go.Figure) -> int:
    height = fig.layout.height
    return int(height) if isinstance(height, int | float) and height > 0 else DEFAULT_HEIGHT


def plotly_chart(fig: Figure, key: str, **options: Any) -> Any:
    """st.plotly_chart(fig, key=key, **options), or inside near_screen, when the chart is off
    screen, an empty box of its height (the height it was last drawn at). `fig` may be what
    builds the figure: it is then built only when the chart is drawn. Returns what
    st.plotly_chart returns, or None."""
    scope = _SCOPE.get()
    if scope is None:
        return st.plotly_chart(figure_of(fig), key=key, **options)
    box = PREFIX + key
    scope.boxes.add(box)
    with st.container(key=box):
        if scope.near is None or box in scope.near:
            scope.drawn.add(box)
            figure = figure_of(fig)
            st.session_state[state.lazy_height(box)] = _height(figure)
            return st.plotly_chart(figure, key=key, **options)
        height = st.session_state.get(state.lazy_height(box))
        if not isinstance(height, int):
            height = _height(fig) if isinstance(fig, go.Figure) else DEFAULT_HEIGHT
        with st.container(height=height, border=False):
            st.caption(tr("Drawn when scrolled into view."))
    return None


def figure_of(fig: Figure) -> go.Figure:
    """The figure itself, or built by what builds it."""
    return fig if isinstance(fig, go.Figure) else fig()
