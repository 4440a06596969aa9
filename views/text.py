"""Type a sentence and follow it through the model, one formula at a time."""

import streamlit as st

from dense_attention import ui

picked = ui.pick_model("text")
if picked is None:
    st.stop()

st.title(ui.tr("Your sentence, one formula at a time"))
text = ui.sentence_input(ui.examples_of(picked.label))
if not text.strip():
    st.info(
        ui.tr("Type a sentence above, or pick an example, to see it go through the model."),
        icon=":material/edit:",
    )
    st.stop()

# The tokens, x and h once per sentence; a live setting reruns only the steps it changes.
ui.text_walkthrough(picked, text)
