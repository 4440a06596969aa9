"""The step-by-step walk-through (every formula, sentence and figure) and "the formula with
numbers" panel for one attention cell (i, j)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import Any

import plotly.graph_objects as go
import streamlit as st
import torch

from ..core.config import ModelConfig
from ..core.i18n import tr
from ..core.model import DenseAttention
from ..explain import formulas, verdict, words
from ..figures import export, heatmaps, trace_plots
from ..figures.handout import titled_figures
from ..inputs.classifier import Classifier, Explanation
from . import lazy, state
from .breakdown import breakdown_panel, chosen_head
from .cache import cached
from .charts import chart, export_buttons
from .errors import friendly_errors
from .handout import handout_downloads
from .heads import head_panels
from .share import share_view


def selected_cell(
    n: int, key: str = state.CELL, default: tuple[int, int] = (1, 2)
) -> tuple[int, int]:
    """The attention cell (i, j), 0-based, picked in the formula panel; kept inside 0..n-1.

    The selectors' widget state is dropped by Streamlit when a page switch follows a fragment's
    own rerun (a live setting change, a scroll's report): a copy outside the widgets keeps it."""
    names = state.cell_keys(key)[:2]
    kept = st.session_state.get(state.cell_kept(key))
    for k, (name, fallback) in enumerate(zip(names, default, strict=True)):
        value = st.session_state.get(name)
        if not isinstance(value, int) and isinstance(kept, tuple):
            value = kept[k]
        if not isinstance(value, int) or not 0 <= value < n:
            value = min(fallback, n - 1)
        if st.session_state.get(name) != value:
            st.session_state[name] = value
    cell = st.session_state[names[0]], st.session_state[names[1]]
    st.session_state[state.cell_kept(key)] = cell
    return cell


def render_steps(
    explanation: Explanation,
    config: ModelConfig,
    *,
    cell: tuple[int, int] | None = None,
    extras: dict[str, Callable[[], None]] | None = None,
    key: str = "steps",
    about: export.Provenance | None = None,
    only: Collection[str] | None = None,
    page_download: bool = True,
    export_slots: dict[str, Any] | None = None,
    inputs: words.Inputs = None,
) -> None:
    """Every step of the model's table (or the `only` ones): its formula, a sentence, its figure
    and its exports; with `page_download`, first the handout buttons (ui.handout). With
    `export_slots`, each step's Export menu is left to `step_exports` and an empty container
    for it goes into `export_slots[step_key]` (a fragment fills it with the live settings).

    `config` is the model's config with the live settings in (Settings.config), so the formulas
    name what ran, and the words say what this model does (`inputs`, the encoder's config,
    says what x is made of). `extras[step_key]()` draws more under a step's text (e.g. the sentence
    shaded by α). `cell` (0-based i, j) is outlined in the token x token matrices. `about`
    (model, settings, input) goes into every exported file.
    """
    trace = explanation.trace
    # Built on first use: a chart waiting off screen (ui.lazy) and a closed Export menu need none.
    figures = functools.cache(lambda: _figures(explanation, config, cell))
    if page_download:
        handout_downloads(explanation, config, cell=cell, key=key, about=about, inputs=inputs)
    for step in formulas.STEPS:
        if only is not None and step.key not in only:
            continue
        st.subheader(words.step_title(step.key, config), divider="gray")
        left, right = st.columns([2, 3])
        with left:
            st.latex(formulas.step_latex(step.key, trace.similarity, config, trace.temperature))
            st.write(words.caption(step.key, config, inputs))
            if extras and step.key in extras:
                extras[step.key]()
            if step.key == "attn":
                if trace.exclude_self:
                    st.write(tr(formulas.EXCLUDE_SELF_NOTE))
                _uniformity_note(explanation)
        with right:
            figure = functools.partial(_pick, figures, step.key)
            _step_figure(explanation, figure, step.key, key, about, export_slots)
        if step.key == "attn" and trace.heads > 1:
            head_panels(explanation, key)


def _pick(figures: Callable[[], dict[str, go.Figure]], name: str) -> go.Figure:
    return figures()[name]


def _step_figure(
    explanation: Explanation,
    figure: Callable[[], go.Figure],
    name: str,
    key: str,
    about: export.Provenance | None,
    export_slots: dict[str, Any] | None,
) -> None:
    if export_slots is not None:
        lazy.plotly_chart(figure, key=f"chart_{key}_{name}", width="stretch")
        export_slots[name] = st.container()
        export_slots[name].empty()  # written in the full run: a fragment may fill it
        return
    csv = functools.partial(export.step_csv, explanation, name)
    chart(figure, name, csv, key=f"{key}_{name}", about=about, html=False)


def step_exports(
    explanation: Explanation,
    config: ModelConfig,
    slots: dict[str, Any],
    *,
    cell: tuple[int, int] | None = None,
    key: str = "steps",
    about: export.Provenance | None = None,
) -> None:
    """The Export menus of the steps render_steps drew with `export_slots`, in their slots (their
    figures built when a file is asked for)."""
    figures = functools.cache(lambda: _figures(explanation, config, cell))
    for name, slot in slots.items():
        csv = functools.partial(export.step_csv, explanation, name)
        figure = functools.partial(_pick, figures, name)
        with slot:
            export_buttons(figure, name, csv, key=f"export_{key}_{name}", about=about, html=False)


def _figures(
    explanation: Explanation, config: ModelConfig, cell: tuple[int, int] | None
) -> dict[str, go.Figure]:
    tokens, classes = list(explanation.tokens), list(explanation.classes)
    titles = words.chart_titles(config)
    return cached(
        titled_figures,
        explanation.trace,
        tokens,
        classes,
        titles,
        cell=cell,
        hover=explanation.hover_tokens,
    )


def _uniformity_note(explanation: Explanation) -> None:
    """Beside the attention matrix: say so when its rows are near-uniform (nothing to read)."""
    spread = verdict.attention_spread(explanation.trace)
    if spread.near_uniform:
        st.info(
            tr(
                "Attention is near-uniform here: mean row entropy {entropy:.2f} "
                "of a maximum log N = {maximum:.2f}. Every token looks at every "
                "other about equally, so a row says little about where the token "
                "looks.",
                entropy=spread.entropy,
                maximum=spread.maximum,
            ),
            icon=":material/blur_on:",
        )


def _select_clicked_cell(key: str) -> None:
    """on_select of the clickable heatmap: the clicked cell becomes the selected i and j."""
    key_i, key_j, click = state.cell_keys(key)
    points = st.session_state[click].selection.points
    if points:
        st.session_state[key_i], st.session_state[key_j] = points[0]["customdata"]


def _picker_heatmap(
    attn: torch.Tensor,
    tokens: list[str],
    cell: tuple[int, int],
    clickable: bool,
    hover: list[str] | None = None,
    title: str = words.matrix_titles("", 1.0)["attn"],
) -> go.Figure:
    """The attention matrix to pick a cell from: no colour bar (the walk-through has one), so
    the cells get the width of the column; `title` says when it is the heads' mean."""
    fig = trace_plots.attention_heatmap(
        attn, tokens, cell, clickable=clickable, title=title, hover=hover
    )
    return fig.update_traces(showscale=False, selector={"type": "heatmap"})


def cell_panel(
    explanation: Explanation,
    config: ModelConfig | None = None,
    key: str = state.CELL,
    model: Classifier | DenseAttention | None = None,
) -> None:
    """ "The formula with numbers" (see _cell_panel) and, given the `model` that made the
    explanation, the cell's score part by part; a problem is a message, never a trace."""
    with friendly_errors(stop=False):
        cell = _cell_panel(explanation, config, key)
        if model is not None:
            breakdown_panel(explanation, model, cell, key)


def _cell_picker(explanation: Explanation, cell: tuple[int, int], key: str) -> None:
    """The clickable attention matrix (small inputs) and, beside it, the i / j selectors."""
    tokens = list(explanation.tokens)
    n = len(tokens)
    key_i, key_j, click = state.cell_keys(key)
    clickable = n * n <= heatmaps.HOVER_CELLS_MAX  # one invisible marker per cell: not for 512²
    hover = explanation.hover_tokens
    trace = explanation.trace
    title = words.matrix_titles(trace.similarity, trace.temperature, trace.heads)["attn"]
    # Built only when drawn (off screen it waits in its box, ui.lazy).
    figure = functools.partial(
        cached, _picker_heatmap, trace.attn[0], tokens, cell, clickable, hover, title
    )
    matrix, selectors = st.columns([3, 2])
    with matrix:
        if clickable:
            on_select = functools.partial(_select_clicked_cell, key)
            lazy.plotly_chart(
                figure, key=click, width="stretch", on_select=on_select, selection_mode="points"
            )
        else:
            lazy.plotly_chart(figure, key=click, width="stretch")

    def token_label(k: int) -> str:  # a selectbox's options are plain text, not markdown
        return f"{k + 1} · {tokens[k]}"

    with selectors:
        st.selectbox(tr("Query token i"), range(n), format_func=token_label, key=key_i)
        st.selectbox(tr("Key token j"), range(n), format_func=token_label, key=key_j)


def _cell_panel(explanation: Explanation, config: ModelConfig | None, key: str) -> tuple[int, int]:
    """ "The formula with numbers": a clickable attention matrix with the i/j selectors beside it,
    the formulas of cell (i, j) with the trace's numbers substituted under them; returns (i, j)."""
    tokens = list(explanation.tokens)
    n = len(tokens)
    cell = selected_cell(n, key)
    if key == state.CELL:  # the page's own panel: its cell goes into the link ("5,8", 1-based)
        share_view(cell=f"{cell[0] + 1},{cell[1] + 1}")
    st.header(tr("The formula with numbers"), divider="blue")
    st.write(
        tr("Click a cell of the attention matrix, or pick a query token i and a key token j.")
        if n * n <= heatmaps.HOVER_CELLS_MAX
        else tr(
            "Pick a query token i and a key token j ({n} tokens: too many cells to click).", n=n
        )
    )
    _cell_picker(explanation, cell, key)
    # The numbers under the picker, full width: beside it, in 3/5 of the page, a wide cell's
    # formula (e.g. a₅,₈ with its sum of exponentials) overflowed its box and was cut at the edge.
    head = chosen_head(explanation.trace, cell, key)  # several heads: the breakdown's head
    for caption, latex in formulas.cell_latex(
        explanation.trace, *cell, tokens, list(explanation.classes), config, head
    ):
        st.markdown(caption)
        st.latex(latex)
    return cell
