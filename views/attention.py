"""Does attention matter? Ablate it, attribute the prediction five ways, and see who agrees."""

import streamlit as st

from dense_attention import ui

TEXT, IMAGE = "Text", "Image"

st.title("Does attention matter?")
st.markdown(
    "A model can show attention and still decide without it. Here each step is **replaced** "
    "(uniform attention, shuffled attention, no skip input…) to see whether the prediction "
    "moves, and the tokens are ranked by **five methods**, from attention's own weights to "
    "Integrated Gradients, to see whether they agree (Jain & Wallace 2019, *Attention is not "
    "Explanation*; Wiegreffe & Pinter 2019, *Attention is not not Explanation*)."
)
source = st.radio("Input", [TEXT, IMAGE], horizontal=True, key=ui.MATTERS_SOURCE)
settings = ui.sidebar("text" if source == TEXT else "image")
if settings is None:
    st.stop()
examples = ui.examples_of(settings.model_name)
item = ui.sentence_input(examples) if source == TEXT else ui.picture_choice(settings)
if source == TEXT and not item.strip():
    st.info("Type a sentence above, or pick an example, to test it.", icon=":material/edit:")
    st.stop()

with ui.friendly_errors():
    explanation = settings.explain(item)
    result = ui.analysis(settings, item)
st.markdown(ui.prediction_line(explanation))
ui.code_download(settings, explanation, item, in_sidebar=True)
ui.show_verdict(result, explanation, settings)
ui.ablations(result, ui.training_means(settings) is not None, settings.config)
ui.head_ablations(result)
ui.importance(settings, item, result)
ui.deletion(result)
ui.eraser_scores(result)
ui.adversarial_attention(settings, item, result)
ui.seed_variance_panel(settings, item)
ui.what_if(settings, item, result)
ui.dataset_level(settings)
