"""The dataset page's rows: the filters, the slices and their accuracy, the confusion matrix, and
the table whose selected row opens its input in the walk-through and on the attention page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..explain import dataset_view
from ..explain.dataset_view import DatasetView
from ..figures.dataset_plots import confusion_figure
from . import state
from .charts import chart
from .picture import DATASET_SOURCE
from .sidebar import Picked
from .styles import md

OUTCOMES = {"all": "All", "correct": "Correct", "wrong": "Wrong"}
TEXT_PAGE, IMAGE_PAGE, ATTENTION_PAGE = "views/text.py", "views/image.py", "views/attention.py"
PREVIEW_CHARS = 400  # of a text shown under the table before it opens
COLUMNS = {
    "index": st.column_config.NumberColumn("#", help="Position in the test split, from 1"),
    "confidence": st.column_config.NumberColumn("confidence", format="percent"),
    "uniform_dp": st.column_config.NumberColumn(
        "Δp uniform a", format="%+.3f", help="p of the prediction under a_ij = 1/N, minus p"),
    "identity_dp": st.column_config.NumberColumn(
        "Δp identity", format="%+.3f", help="the same with v_i = h_i (no token-to-token mixing)"),
    "uniform_alpha_dp": st.column_config.NumberColumn(
        "Δp uniform α", format="%+.3f", help="the same with α_i = 1/N"),
    "uniform_flips": st.column_config.CheckboxColumn("uniform flips"),
    "entropy": st.column_config.NumberColumn(
        "entropy / log N", format="%.2f", help="mean attention row entropy; 1 = uniform"),
    "tau": st.column_config.NumberColumn(
        "τ(α, grad×input)", format="%.2f", help="Kendall τ between the two token rankings"),
}  # fmt: skip


def dataset_filters(view: DatasetView) -> pd.DataFrame:
    """The filter widgets; returns the rows they keep."""
    left, right = st.columns([3, 2])
    classes = left.multiselect("True class", view.classes, key=state.DATASET_CLASSES,
                               placeholder="Every class")  # fmt: skip
    outcome = right.radio(
        "Predictions",
        list(OUTCOMES),
        horizontal=True,
        format_func=lambda v: md(OUTCOMES[v]),
        key=state.DATASET_OUTCOME,
    )
    a, b = st.columns(2)
    disagrees = a.toggle(
        f"Attention disagrees with gradients (τ < {dataset_view.DISAGREE_TAU:g})",
        key=state.DATASET_DISAGREES,
        help="Kendall τ between α and gradient × input under the threshold (Jain & Wallace "
        "2019 found 0.1–0.4 for a BiLSTM). Inputs of one token have no τ and never match.",
    )
    flips = b.toggle("Uniform attention flips it", key=state.DATASET_FLIPS)
    return dataset_view.filtered(view.rows, classes, outcome, disagrees, flips)


def _sample_line(view: DatasetView) -> str:
    how = "all" if view.whole else f"a random sample (seed {view.seed}) of"
    return f"{len(view.rows)} inputs: {how} the {view.split_size} of the test split"


def dataset_slices(view: DatasetView, rows: pd.DataFrame) -> None:
    """The shown inputs' accuracy, every slice's, and the shown inputs' confusion matrix."""
    st.caption(md(_sample_line(view)) + ", under the model's trained settings.")
    accuracy = dataset_view.accuracy(rows)
    if accuracy is None:
        st.info("No input matches these filters: loosen one to see some.",
                icon=":material/filter_alt_off:")  # fmt: skip
    else:
        st.metric(f"Accuracy of the {len(rows)} inputs shown", f"{accuracy:.1%}")
    left, right = st.columns([2, 3])
    with left:
        st.dataframe(
            dataset_view.slice_table(view.rows, view.classes), hide_index=True,
            column_config={"accuracy": st.column_config.NumberColumn(format="percent")},
            key="dataset_slices",
        )  # fmt: skip
        st.caption("Each slice over the whole sample; an empty slice has no accuracy.")
    with right:
        if len(rows):
            counts = dataset_view.confusion(rows, view.classes)
            fig = confusion_figure(counts, view.classes, f"Confusion of the {len(rows)} shown")
            chart(fig, "confusion-matrix", key="dataset_confusion")


HIDDEN = ("correct", "disagrees")  # filters' columns, not shown


def dataset_table(view: DatasetView, rows: pd.DataFrame, picked: Picked) -> None:
    """The rows shown, one input each; the selected row's input, ready to open."""
    hidden = [*HIDDEN, *(() if view.pooling_learned else ("uniform_alpha_dp",))]
    event = st.dataframe(
        rows.drop(columns=hidden), hide_index=True, column_config=COLUMNS, on_select="rerun",
        selection_mode="single-row", key=state.DATASET_TABLE,
    )  # fmt: skip
    chosen = event.selection.rows
    if not chosen or chosen[0] >= len(rows):
        st.caption("Click a row's box at its left to open that input in the walk-through.")
        return
    _open_panel(view, int(rows.index[chosen[0]]), picked)


def _open_panel(view: DatasetView, k: int, picked: Picked) -> None:
    """Row k of the view: what it is, and the buttons that open it on the other pages."""
    row = view.rows.iloc[k]
    st.markdown(
        f"**Input #{int(row['index'])}**: true class **{md(row['label'])}**, predicted "
        f"**{md(row['prediction'])}** ({float(row['confidence']):.1%}). {md(row['verdict'])}."
    )
    if view.kind == "text":
        text = str(view.item(k))
        st.caption(md(text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")))
    else:
        st.image(view.picture(k), width=96, caption=f"#{row['index']}")
    left, right = st.columns(2)
    if left.button("Open in the walk-through", icon=":material/footprint:", type="primary",
                   key="dataset_open_walk"):  # fmt: skip
        _select(view, k, picked)
        st.switch_page(TEXT_PAGE if view.kind == "text" else IMAGE_PAGE)
    if right.button("Open on “Does attention matter?”", icon=":material/visibility:",
                    key="dataset_open_matters"):  # fmt: skip
        _select(view, k, picked)
        st.session_state[state.MATTERS_SOURCE] = "Text" if view.kind == "text" else "Image"
        st.switch_page(ATTENTION_PAGE)


def opened_name(index: int, label: str) -> str:
    """How a picture opened from the dataset page is named in the pickers."""
    return f"test #{index} · {label} (from the dataset view)"


def _select(view: DatasetView, k: int, picked: Picked) -> None:
    """Row k's input and the model become those of the walk-through and the attention page."""
    picks = st.session_state.setdefault(state.SELECTED_MODEL, {})
    picks[view.kind] = picks["any"] = picked.label
    row = view.rows.iloc[k]
    if view.kind == "text":
        st.session_state[state.SENTENCE] = str(view.item(k))
        return
    name = opened_name(int(row["index"]), str(row["label"]))
    st.session_state[state.DATASET_PICTURE] = (name, view.picture(k), str(row["label"]))
    st.session_state[state.IMAGE_SOURCE] = DATASET_SOURCE
    st.session_state[state.PRESENT_PHOTO] = name
