"""The live view of the Text and Image pages: the attention matrix, the pooling weights α and
the prediction, recomputed in the browser as the sidebar's similarity, temperature and pooling
move, before the server's rerun draws the steps below with every number.

It is drawn by a page's full run (a new input or model), not by its live fragment: its
JavaScript (assets/live_view.js) reads the sidebar's widgets itself, so a setting change costs
it no round trip. The payload is dense_attention.server.live_view's: an input's tokens, mask and h
once per input and browser session, the pooling and output weights once per model and session,
the additive and bilinear parameters once per similarity's weights and session (the browser keeps
them; if it lacks some, it asks, and the next run sends them all again). The browser computes the
raw scores itself, so nothing sent grows with N²: the live view is drawn up to MiniLM's 512 tokens.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

import streamlit as st

from ..core.i18n import tr
from ..inputs import encoding
from ..inputs.classifier import Explanation
from ..server import live_view
from ..server.hashing import digest
from . import state
from .cache import component
from .live import LIVE_SETTINGS
from .sidebar import Picked, Settings, explain, similarity_models
from .styles import md

# On a browser's first page the charts below wait this long after the live view: the browser
# then draws it before it compiles plotly.js (4.7 MB; 2.5-3.5 s on this 2-core machine, its
# main thread blocked). Without the pause the live view showed with the charts, at 7.5-10 s
# after start; with it, at ~4.4 s, and the charts no later (measured in Chromium).
FIRST_PAINT_PAUSE_S = 0.8
MAX_TOKENS = encoding.MAX_TOKENS  # N's cap (MiniLM's, 512): the payload grows with N, not N²


def _words() -> dict[str, str]:
    """The live view's own words, in the session's language (the JavaScript fills the fields)."""
    return {
        "attention": tr("Attention a<sub>ij</sub> (row i: query, column j: key)"),
        "attentionHeads": tr("Attention a<sub>ij</sub> ({mean}; row i: query, column j: key)"),
        "headsMean": tr("mean of the {heads} heads"),
        "prediction": tr("Prediction p"),
        "alpha": tr("Pooling weights α<sub>i</sub>"),
        "pooling": tr("{pooling} pooling"),
        "cannot": tr("Cannot draw {shown} here: {error}"),
        "tip": tr('query "{query}" → key "{key}"'),
    }


def _resend() -> None:
    """The browser lacks weights it was sent (a run cut short): send them all again."""
    st.session_state[state.LIVE_VIEW_SENT] = set()


def live_panel(
    settings: Settings, picked: Picked, explanation: Explanation, item: Any, key: str,
    cell: tuple[int, int] | None = None,
) -> None:  # fmt: skip
    """The live view of `item` (a text or a picture) under the picked model. `explanation` is
    the page's, made by `settings.model` (its h serves under any live settings); `cell` (i, j),
    the formula panel's, is outlined and said in words. Only a caption past MAX_TOKENS tokens
    (more than any encoder gives)."""
    if len(explanation.tokens) > MAX_TOKENS:
        st.caption(
            tr(
                "The live view is drawn for inputs of up to {max_tokens} tokens; "
                "this one has {len}: the steps below follow each setting.",
                max_tokens=MAX_TOKENS,
                len=len(explanation.tokens),
            )
        )
        return
    classes = list(picked.model.classes)
    traces = {id(settings.model): explanation.trace}  # each model explained once
    variants = {}
    for similarity, (model, cache_key) in similarity_models(picked).items():
        if id(model) not in traces:
            traces[id(model)] = explain(model, cache_key, item, {}).trace
        variants[similarity] = live_view.Variant(model.core, traces[id(model)])
    try:
        part = live_view.input_part(variants, explanation.tokens, classes)
    except ValueError:  # a variant that reads the input into other tokens: no live view
        return
    current = {"similarity": settings.similarity, "temperature": settings.temperature,
               "pooling": settings.pooling}  # fmt: skip
    if cell is not None:
        st.markdown(_link_sentence(explanation, cell))
    _mount(part, variants, classes, current, key, cell)


def _link_sentence(explanation: Explanation, cell: tuple[int, int]) -> str:
    """The selected cell in words, from the trace's numbers (outlined in the matrix below)."""
    (i, j), trace, tokens = cell, explanation.trace, explanation.tokens
    a, keep, alpha = (
        float(v) for v in (trace.attn[0, i, j], trace.attn[0, i, i], trace.alpha[0, i])
    )
    return tr(
        "**Selected link** (outlined): token {i} “{query}” gives a = "
        "{a:.2f} of its attention to token {j} “{key}” (a = "
        "{keep:.2f} to itself); its pooling weight α = {alpha:.2f}.",
        i=i + 1,
        query=md(tokens[i]),
        a=a,
        j=j + 1,
        key=md(tokens[j]),
        keep=keep,
        alpha=alpha,
    )


def _pick_cell(key: str) -> None:
    """on_cell_change of the live view: the clicked cell (i, j) becomes the formula panel's."""
    result = st.session_state.get(key)
    cell = result.get("cell") if isinstance(result, Mapping) else getattr(result, "cell", None)
    if isinstance(cell, list) and len(cell) == 2 and all(isinstance(v, int) for v in cell):
        st.session_state[state.CELL_I], st.session_state[state.CELL_J] = cell


def _mount(
    part: dict[str, Any],
    variants: dict[str, live_view.Variant],
    classes: list[str],
    current: dict[str, Any],
    key: str,
    cell: tuple[int, int] | None = None,
) -> None:
    """The element itself, with the weights and similarity parameters this browser does not
    hold yet."""
    sent = st.session_state.setdefault(state.LIVE_VIEW_SENT, set())
    weights, params = {}, {}
    for similarity, entry in part["similarities"].items():  # keys made once, by input_part
        wkey, pkey, model = entry["weights"], entry["params"], variants[similarity].model
        if wkey not in sent and wkey not in weights:
            weights[wkey] = live_view.weights_part(model, classes)
        if pkey is not None and pkey not in sent and pkey not in params:
            params[pkey] = live_view.params_part(model, similarity)
    sent |= {*weights, *params}
    # The input's h once per input: a full rerun (a similarity with its own checkpoint, a new
    # cell) sends only its key when this browser holds it.
    input_key = "input-" + digest(part)
    shipped = part if input_key not in sent else None
    sent.add(input_key)
    st.caption(
        tr("**Live** — computed in your browser from h as you move the sidebar's similarity, "
           "τ and pooling; click a cell to walk through its numbers below.")
    )  # fmt: skip
    component("live_view")(
        key=key,
        data={
            "input": shipped,  # None: the browser holds it under input_key
            "input_key": input_key,
            "weights": weights,
            "params": params,  # additive's and bilinear's parameters, by key
            "labels": {s.name: tr(s.label) for s in LIVE_SETTINGS},  # as the sidebar draws them
            "words": _words(),
            "settings": current,  # until the JavaScript reads the sidebar's widgets
            "cell": None if cell is None else list(cell),  # outlined: the formula panel's cell
        },
        on_missing_change=_resend,
        on_cell_change=functools.partial(_pick_cell, key),
    )
    if not st.session_state.get(state.LIVE_VIEW_PAINTED):
        st.session_state[state.LIVE_VIEW_PAINTED] = True
        time.sleep(FIRST_PAINT_PAUSE_S)
