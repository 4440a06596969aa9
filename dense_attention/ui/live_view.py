"""The live view of the Text and Image pages: the attention matrix, the pooling weights α and
the prediction, recomputed in the browser as the sidebar's similarity, temperature and pooling
move, before the server's rerun draws the steps below with every number.

It is drawn by a page's full run (a new input or model), not by its live fragment: its
JavaScript (assets/live_view.js) reads the sidebar's widgets itself, so a setting change costs
it no round trip. The payload is dense_attention.live_view's: h and the raw scores per input,
the pooling and output weights once per model and browser session (the browser keeps them;
if it lacks some, it asks, and the next run sends them again).
"""

from __future__ import annotations

import functools
import time
from typing import Any

import streamlit as st

from .. import live_view
from ..classifier import Classifier, Explanation
from .cache import component, shared_explanation
from .live import LIVE_SETTINGS
from .sidebar import Picked, Settings, similarity_models

SENT = "live_view_sent"  # session key: the weights keys this browser already holds
# On a browser's first page the charts below wait this long after the live view: the browser
# then draws it before it compiles plotly.js (4.7 MB; 2.5-3.5 s on this 2-core machine, its
# main thread blocked). Without the pause the live view showed with the charts, at 7.5-10 s
# after start; with it, at ~4.4 s, and the charts no later (measured in Chromium).
FIRST_PAINT_PAUSE_S = 0.8
MAX_TOKENS = 128  # six N x N score matrices: 128 tokens make 0.5 MB of base64
PAINTED = "live_view_painted"  # session key: this browser has had its first live view


def _resend() -> None:
    """The browser lacks weights it was sent (a run cut short): send them all again."""
    st.session_state[SENT] = set()


def _explained(model: Classifier, cache_key: str | None, item: Any) -> Explanation:
    build = functools.partial(model.explain, item)
    return build() if cache_key is None else shared_explanation(cache_key, build, item, {})


def live_panel(picked: Picked, settings: Settings, item: Any, key: str) -> None:
    """The live view of `item` (a text or a picture) under the picked model; only a caption
    past MAX_TOKENS tokens (the scores of six similarities would be megabytes)."""
    first = _explained(picked.model, picked.cache_key, item)
    if len(first.tokens) > MAX_TOKENS:
        st.caption(
            f"The live view is drawn for inputs of up to {MAX_TOKENS} tokens; this one has "
            f"{len(first.tokens)}: the steps below follow each setting."
        )
        return
    traces = {id(picked.model): first.trace}  # each model explained once
    variants = {}
    for similarity, (model, cache_key) in similarity_models(picked).items():
        if id(model) not in traces:
            traces[id(model)] = _explained(model, cache_key, item).trace
        variants[similarity] = live_view.Variant(model.core, traces[id(model)])
    part = live_view.input_part(variants, first.tokens, list(picked.model.classes))
    sent = st.session_state.setdefault(SENT, set())
    weights = {}
    for variant in variants.values():
        wkey = live_view.weights_key(variant.model)
        if wkey not in sent and wkey not in weights:
            weights[wkey] = live_view.weights_part(variant.model)
    sent.update(weights)
    st.caption(
        "**Live** — computed in your browser from h as you move the sidebar's similarity, "
        "τ and pooling; the steps below follow from the server with every number."
    )
    component("live_view")(
        key=key,
        data={
            "input": part,
            "weights": weights,
            "labels": {s.name: s.label for s in LIVE_SETTINGS},
            "settings": {
                "similarity": settings.similarity,
                "temperature": settings.temperature,
                "pooling": settings.pooling,
            },
        },
        on_missing_change=_resend,
    )
    if not st.session_state.get(PAINTED):
        st.session_state[PAINTED] = True
        time.sleep(FIRST_PAINT_PAUSE_S)
