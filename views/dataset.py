"""A model over a whole test split: every input's prediction and verdict, filters and slices,
the confusion matrix; a row opens its input in the walk-through."""

import streamlit as st

from dense_attention import ui

st.title(ui.tr("The dataset view"))
st.markdown(
    ui.tr(
        "One input at a time hides the pattern. Here the model runs over a **test "
        "split**: each row is one input with its prediction, the verdict, what uniform "
        "attention, the identity and uniform α do to p, and whether attention "
        "**disagrees with the gradients**. Filter, slice, and open a row in the "
        "walk-through."
    )
)
picked = ui.pick_model()
if picked is None:
    st.stop()
data = ui.dataset_source(picked)
if data is None:
    st.stop()
limit, seed = ui.dataset_sample()
view = ui.dataset_result(picked, data, limit, seed)
if view is None:
    st.stop()
rows = ui.dataset_filters(view)
ui.dataset_slices(view, rows)
ui.dataset_table(view, rows, picked)
