"""The model, one formula at a time: every step of DenseAttention on a small fixed sentence."""

from dataclasses import replace

import streamlit as st

from dense_attention import SIMILARITIES, ui
from dense_attention.core.config import TEMPERATURES
from dense_attention.core.toy import ToyExample, toy_example
from dense_attention.explain.formulas import ARTICLE_CODE_FAULT, SOURCE_ARTICLE
from dense_attention.figures import trace_plots
from dense_attention.inputs.classifier import Explanation


@st.cache_resource
def load_toy() -> ToyExample:
    """Built once per server and shared by every session: only read, never trained."""
    return toy_example()


toy = load_toy()
n = len(toy.tokens)

st.title(ui.tr("The model, one formula at a time"))
st.markdown(
    ui.tr(
        "A **dense layer** projects every token to a hidden vector; **attention** "
        "compares every pair of hidden vectors and mixes them by similarity; **attention "
        "pooling** weighs the tokens into one vector, and a last dense layer turns it "
        "into class probabilities. Below, the sentence *{join}* goes through a small "
        "untrained model (D = {shape} input features, d = {hidden_dim} hidden units, "
        "{class_names} classes), one step at a time, with the real numbers.",
        join=" ".join(toy.tokens),
        shape=toy.x.shape[-1],
        hidden_dim=toy.model.config.hidden_dim,
        class_names=len(toy.class_names),
    )
)
st.info(
    ui.tr(
        "The source is {SOURCE_ARTICLE}; {ARTICLE_CODE_FAULT}. This app implements the "
        "article's formulas instead (see About).",
        SOURCE_ARTICLE=ui.tr(SOURCE_ARTICLE),
        ARTICLE_CODE_FAULT=ui.tr(ARTICLE_CODE_FAULT),
    ),
    icon=":material/info:",
)

left, right = st.columns(2)
similarity = left.selectbox(
    ui.tr("Similarity $s(h_i, h_j)$"), list(SIMILARITIES), index=1, key=ui.TOY_SIMILARITY
)
left.caption(ui.tr(SIMILARITIES[similarity].description))
temperature = right.select_slider(
    ui.tr("Temperature τ"),
    TEMPERATURES,
    value=1.0,
    format_func="{:g}".format,
    key=ui.TOY_TEMPERATURE,
)

trace = toy.trace(similarity, temperature)
explanation = Explanation(trace, list(toy.tokens), 0, toy.class_names)
config = replace(toy.model.config, similarity=similarity, temperature=temperature)  # what ran
ui.render_steps(
    explanation,
    config,
    cell=ui.selected_cell(n),
    extras={"alpha": lambda: st.html(trace_plots.token_shading_html(toy.tokens, trace.alpha[0]))},
)
ui.cell_panel(explanation, config, model=toy.model)
