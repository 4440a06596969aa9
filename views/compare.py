"""One sentence under two settings side by side, and a real transformer's attention beside ours."""

import streamlit as st

from dense_attention import ui

settings = ui.sidebar("text")
if settings is None:
    st.stop()

st.title(ui.tr("Compare attention"))
st.markdown(
    ui.tr(
        "**A** is the sidebar's setting; pick **B** below. The same trained model reads "
        "the same sentence both ways: only the similarity function and the temperature "
        "change, no retraining."
    )
)
text = ui.sentence_input(ui.examples_of(settings.model_name))
if not text.strip():
    st.info(ui.tr("Type a sentence above, or pick an example, to compare."), icon=":material/edit:")
    st.stop()

similarity_b, temperature_b = ui.setting_b(settings)
with ui.friendly_errors():
    a = settings.explain(text)
    b = settings.explain(text, similarity=similarity_b, temperature=temperature_b)
ui.code_download(settings, a, text, in_sidebar=True)
name_a = f"A: {settings.similarity}, τ = {settings.temperature:g}"
name_b = f"B: {similarity_b}, τ = {temperature_b:g}"

col_a, col_b = st.columns(2)
with col_a:
    st.markdown(f"**{name_a}** · {ui.prediction_line(a)}")
    ui.attention_chart(a, name_a, "attention_a")
with col_b:
    st.markdown(f"**{name_b}** · {ui.prediction_line(b)}")
    ui.attention_chart(b, name_b, "attention_b")

ui.what_changed(a, b, [name_a, name_b])
ui.minilm_beside(settings, text, a, name_a)
