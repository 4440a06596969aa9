"""Type a sentence and follow it through the model, one formula at a time."""

import streamlit as st

from dense_attention import plots, ui

settings = ui.sidebar("text")
if settings is None:
    st.stop()

st.title("Your sentence, one formula at a time")
text = ui.sentence_input(ui.examples_of(settings.model_name))
if not text.strip():
    st.info(
        "Type a sentence above, or pick an example, to see it go through the model.",
        icon=":material/edit:",
    )
    st.stop()

with ui.friendly_errors():
    explanation = settings.explain(text)
ui.show_tokens(explanation, text, settings.model.config.text.max_len)
st.markdown(ui.prediction_line(explanation))
ui.badge(settings, text)
ui.caution(settings.model, text)
about = settings.provenance(text)  # model, settings and input, in every exported file
ui.trace_download(explanation, about=about)

ui.render_steps(
    explanation,
    settings.config,
    cell=ui.selected_cell(len(explanation.tokens)),
    about=about,
    extras={
        "alpha": lambda: ui.token_box(len(explanation.tokens)).html(
            plots.token_shading_html(explanation.tokens, explanation.trace.alpha[0])
        )
    },
)
ui.cell_panel(explanation, settings.config)
