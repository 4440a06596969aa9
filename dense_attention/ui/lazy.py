"""Charts of a live fragment drawn only near the screen: a setting change redraws what is seen.

A page's live fragment opens `near_screen(key)`; inside it, `plotly_chart` draws a chart only
while its box is within MARGIN_PX of the browser's viewport, as the viewport element
(assets/viewport.js) last reported, and otherwise an empty box of the chart's height that says
it is drawn when scrolled to. A box scrolled near the screen is reported and the fragment reruns
to draw it. Until the browser has reported (a first run, AppTest, a browser without JavaScript)
every chart is drawn; outside `near_screen`, `plotly_chart` is st.plotly_chart.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from ..core.i18n import tr
from .cache import component

PREFIX = "dal-lazy-"  # the boxes' container keys start so (CSS class st-key-dal-lazy-...)
MARGIN_PX = 400  # a box this close to the viewport counts as on screen
DEBOUNCE_MS = 150  # report once scrolling has paused this long
DEFAULT_HEIGHT = 450  # plotly's default figure height, for a figure that sets none
ENV = "DAL_LAZY_CHARTS"  # "0": draw every chart (printing a page, comparing timings)

ALL = "all"  # inside near_screen before the browser's first report: every chart, in its box
# Outside near_screen None; inside, the keys of the boxes near the screen, or ALL.
_NEAR: contextvars.ContextVar[frozenset[str] | str | None] = contextvars.ContextVar(
    "dal_lazy_near", default=None
)


def enabled() -> bool:
    return os.environ.get(ENV, "1") != "0"


def _reported(key: str) -> frozenset[str] | None:
    """The box keys the viewport element last reported for `key`; None before any report."""
    value = st.session_state.get(key)
    if isinstance(value, Mapping):
        visible = value.get("visible")
    else:
        visible = getattr(value, "visible", None)
    if not isinstance(visible, list) or not all(isinstance(k, str) for k in visible):
        return None
    return frozenset(visible)


@contextlib.contextmanager
def near_screen(key: str) -> Iterator[None]:
    """Inside: plotly_chart draws only the charts near the screen (see the module docstring).
    After the block, the viewport element (nothing visible) is mounted under `key`; its report
    reruns the caller's fragment."""
    if not enabled():
        yield
        return
    near = _reported(key)
    token = _NEAR.set(ALL if near is None else near)
    try:
        yield
    finally:
        _NEAR.reset(token)
    component("viewport")(
        key=key,
        data={
            "prefix": PREFIX,
            "margin_px": MARGIN_PX,
            "debounce_ms": DEBOUNCE_MS,
            "visible": None if near is None else sorted(near),
        },  # fmt: skip
        on_visible_change=lambda: None,  # a report reruns the fragment
    )


def _height(fig: go.Figure) -> int:
    height = fig.layout.height
    return int(height) if isinstance(height, int | float) and height > 0 else DEFAULT_HEIGHT


def plotly_chart(fig: go.Figure, key: str, **options: Any) -> Any:
    """st.plotly_chart(fig, key=key, **options), or inside near_screen, when the chart is off
    screen, an empty box of its height. Returns what st.plotly_chart returns, or None."""
    near = _NEAR.get()
    if near is None:
        return st.plotly_chart(fig, key=key, **options)
    box = PREFIX + key
    with st.container(key=box):
        if near == ALL or box in near:
            return st.plotly_chart(fig, key=key, **options)
        with st.container(height=_height(fig), border=False):
            st.caption(tr("Drawn when scrolled into view."))
    return None
