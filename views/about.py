"""About: the model in one table, the article's formulas, and where this project departs from it."""

import streamlit as st

from dense_attention import SIMILARITIES, ui
from dense_attention.explain import formulas
from dense_attention.explain.formulas import (
    ARTICLE_CODE_FAULT,
    ARTICLE_DEPARTURES,
    SOURCE_ARTICLE,
)

settings = ui.sidebar()

st.title(ui.tr("About the model"))
st.markdown(
    ui.tr(
        "A **dense layer** projects every token (a word piece, or an image patch) to a "
        "hidden vector; **attention** compares every pair of hidden vectors and mixes "
        "them by similarity; **attention pooling** weighs the tokens into one vector; a "
        "last dense layer turns it into class probabilities. Every page of this app "
        "shows these steps with the real numbers."
    )
)

st.header(ui.tr("The model in one table"), divider="blue")
st.markdown(
    ui.tr(
        "B batch, N tokens, D input features, d hidden units, C classes; i is the query "
        "token, j the key token. Each step's result is a field of the `Trace` that "
        "`DenseAttention.trace` returns."
    )
)
rows = "\n".join(
    f"| {ui.tr(s)} | {ui.tr(f)} | `{field}` | {shape} |"
    for s, f, field, shape in formulas.MODEL_TABLE
)
st.markdown(ui.tr("| step | formula | Trace field | shape |\n|---|---|---|---|\n{rows}", rows=rows))
if settings is not None:
    cfg = settings.trained
    st.caption(
        ui.tr(
            "The selected model, {model}: D = {input_dim}, d = {hidden_dim}, C = {num_classes}; "
            "activation {activation}, σ = {pool_activation}.",
            model=ui.md(settings.model_name),
            input_dim=cfg.input_dim,
            hidden_dim=cfg.hidden_dim,
            num_classes=cfg.num_classes,
            activation=cfg.activation,
            pool_activation=cfg.pool_activation,
        )
    )
st.markdown(
    ui.tr(
        "Padding gets zero weight everywhere (in $a$ and in $\\alpha$). The temperature "
        "$\\tau$ divides every score: below 1 it sharpens the attention, above 1 it "
        "flattens it."
    )
)

st.header(ui.tr("The similarity functions"), divider="blue")
st.markdown(
    ui.tr(
        "Any of the six can be switched on a trained model, without retraining. "
        "`additive` and `bilinear` have weights of their own: on a model trained with "
        "another similarity those weights are untrained (fixed values), so switching to "
        "them shows what untrained weights do. The home page's model, bbc-topics, also "
        "ships one checkpoint per similarity (same data and settings): switching its "
        "similarity loads the one *trained* with it, as the sidebar says."
    )
)
for name, sim in SIMILARITIES.items():
    st.markdown(f"- `{name}`: $s(h_i, h_j) = {sim.latex}$. {ui.tr(sim.description)}")

st.header(ui.tr("Where this project departs from the article"), divider="blue")
st.markdown(
    ui.tr(
        ARTICLE_DEPARTURES,
        source=ui.tr(SOURCE_ARTICLE),
        fault=ui.tr(ARTICLE_CODE_FAULT),
    )
)
