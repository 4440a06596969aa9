"""The dataset page's rows: the filters, the slices and their accuracy, the confusion matrix, and
the table whose selected row opens its input in the walk-through and on the attention page."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..core.i18n import N_, tr
from ..explain import dataset_view
from ..explain.dataset_view import DatasetView
from ..figures.dataset_plots import confusion_figure
from . import state
from .charts import chart
from .language import tr_columns
from .picture import DATASET_SOURCE
from .sidebar import Picked
from .styles import md

OUTCOMES = {"all": N_("All"), "correct": N_("Correct"), "wrong": N_("Wrong")}
TEXT_PAGE, IMAGE_PAGE, ATTENTION_PAGE = "views/text.py", "views/image.py", "views/attention.py"
PREVIEW_CHARS = 400  # of a text shown under the table before it opens
COLUMNS = {
    "index": st.column_config.NumberColumn("#", help=N_("Position in the test split, from 1")),
    "confidence": st.column_config.NumberColumn(N_("confidence"), format="percent"),
    "uniform_dp": st.column_config.NumberColumn(
        N_("Δp uniform a"), format="%+.3f",
        help=N_("p of the prediction under a_ij = 1/N, minus p")),
    "identity_dp": st.column_config.NumberColumn(
        N_("Δp identity"), format="%+.3f",
        help=N_("the same with v_i = h_i (no token-to-token mixing)")),
    "uniform_alpha_dp": st.column_config.NumberColumn(
        N_("Δp uniform α"), format="%+.3f", help=N_("the same with α_i = 1/N")),
    "uniform_flips": st.column_config.CheckboxColumn(N_("uniform flips")),
    "entropy": st.column_config.NumberColumn(
        N_("entropy / log N"), format="%.2f", help=N_("mean attention row entropy; 1 = uniform")),
    "tau": st.column_config.NumberColumn(
        N_("τ(α, grad×input)"), format="%.2f", help=N_("Kendall τ between the two token rankings")),
}  # fmt: skip


def dataset_filters(view: DatasetView) -> pd.DataFrame:
    """The filter widgets; returns the rows they keep."""
    left, right = st.columns([3, 2])
    classes = left.multiselect(tr("True class"), view.classes, key=state.DATASET_CLASSES,
                               placeholder=tr("Every class"))  # fmt: skip
    outcome = right.radio(
        tr("Predictions"),
        list(OUTCOMES),
        horizontal=True,
        format_func=lambda v: md(tr(OUTCOMES[v])),
        key=state.DATASET_OUTCOME,
    )
    a, b = st.columns(2)
    disagrees = a.toggle(
        tr(
            "Attention disagrees with gradients (τ < {DISAGREE_TAU:g})",
            DISAGREE_TAU=dataset_view.DISAGREE_TAU,
        ),
        key=state.DATASET_DISAGREES,
        help=tr(
            "Kendall τ between α and gradient × input under the threshold (Jain & "
            "Wallace 2019 found 0.1–0.4 for a BiLSTM). Inputs of one token have no τ "
            "and never match.",
        ),
    )
    flips = b.toggle(tr("Uniform attention flips it"), key=state.DATASET_FLIPS)
    return dataset_view.filtered(view.rows, classes, outcome, disagrees, flips)


def _sample_line(view: DatasetView) -> str:
    how = "all" if view.whole else tr("a random sample (seed {seed}) of", seed=view.seed)
    return tr(
        "{rows} inputs: {how} the {split_size} of the test split",
        rows=len(view.rows),
        how=how,
        split_size=view.split_size,
    )


def dataset_slices(view: DatasetView, rows: pd.DataFrame) -> None:
    """The shown inputs' accuracy, every slice's, and the shown inputs' confusion matrix."""
    st.caption(md(_sample_line(view)) + tr(", under the model's trained settings."))
    accuracy = dataset_view.accuracy(rows)
    if accuracy is None:
        st.info(tr("No input matches these filters: loosen one to see some."),
                icon=":material/filter_alt_off:")  # fmt: skip
    else:
        st.metric(tr("Accuracy of the {rows} inputs shown", rows=len(rows)), f"{accuracy:.1%}")
    left, right = st.columns([2, 3])
    with left:
        st.dataframe(
            dataset_view.slice_table(view.rows, view.classes), hide_index=True,
            column_config={"accuracy": st.column_config.NumberColumn(format="percent")},
            key="dataset_slices",
        )  # fmt: skip
        st.caption(tr("Each slice over the whole sample; an empty slice has no accuracy."))
    with right:
        if len(rows):
            counts = dataset_view.confusion(rows, view.classes)
            fig = confusion_figure(
                counts, view.classes, tr("Confusion of the {rows} shown", rows=len(rows))
            )
            chart(fig, "confusion-matrix", key="dataset_confusion")


HIDDEN = ("correct", "disagrees")  # filters' columns, not shown


def dataset_table(view: DatasetView, rows: pd.DataFrame, picked: Picked) -> None:
    """The rows shown, one input each; the selected row's input, ready to open."""
    hidden = [*HIDDEN, *(() if view.pooling_learned else ("uniform_alpha_dp",))]
    event = st.dataframe(
        rows.drop(columns=hidden), hide_index=True, column_config=tr_columns(COLUMNS),
        on_select="rerun",
        selection_mode="single-row", key=state.DATASET_TABLE,
    )  # fmt: skip
    chosen = event.selection.rows
    if not chosen or chosen[0] >= len(rows):
        st.caption(tr("Click a row's box at its left to open that input in the walk-through."))
        return
    _open_panel(view, int(rows.index[chosen[0]]), picked)


def _open_panel(view: DatasetView, k: int, picked: Picked) -> None:
    """Row k of the view: what it is, and the buttons that open it on the other pages."""
    row = view.rows.iloc[k]
    st.markdown(
        tr(
            "**Input #{row}**: true class **{row2}**, predicted **{row3}** ({row4:.1%}). {row5}.",
            row=int(row["index"]),
            row2=md(row["label"]),
            row3=md(row["prediction"]),
            row4=float(row["confidence"]),
            row5=md(row["verdict"]),
        )
    )
    if view.kind == "text":
        text = str(view.item(k))
        st.caption(md(text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")))
    else:
        st.image(view.picture(k), width=96, caption=f"#{row['index']}")
    left, right = st.columns(2)
    if left.button(tr("Open in the walk-through"), icon=":material/footprint:", type="primary",
                   key="dataset_open_walk"):  # fmt: skip
        _select(view, k, picked)
        st.switch_page(TEXT_PAGE if view.kind == "text" else IMAGE_PAGE)
    if right.button(tr("Open on “Does attention matter?”"), icon=":material/visibility:",
                    key="dataset_open_matters"):  # fmt: skip
        _select(view, k, picked)
        st.session_state[state.MATTERS_SOURCE] = tr("Text") if view.kind == "text" else tr("Image")
        st.switch_page(ATTENTION_PAGE)


def opened_name(index: int, label: str) -> str:
    """How a picture opened from the dataset page is named in the pickers."""
    return tr("test #{index} · {label} (from the dataset view)", index=index, label=label)


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
