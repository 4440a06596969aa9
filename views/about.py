"""About: the model in one table, the article's formulas, and where this project departs from it."""

import streamlit as st

from dense_attention import SIMILARITIES, ui
from dense_attention.explain import formulas
from dense_attention.explain.formulas import ARTICLE_DEPARTURES

settings = ui.sidebar()

st.title("About the model")
st.markdown(
    "A **dense layer** projects every token (a word piece, or an image patch) to a hidden "
    "vector; **attention** compares every pair of hidden vectors and mixes them by similarity; "
    "**attention pooling** weighs the tokens into one vector; a last dense layer turns it into "
    "class probabilities. Every page of this app shows these steps with the real numbers."
)

st.header("The model in one table", divider="blue")
st.markdown(
    "B batch, N tokens, D input features, d hidden units, C classes; "
    "i is the query token, j the key token. Each step's result is a field of the `Trace` "
    "that `DenseAttention.trace` returns."
)
rows = "\n".join(
    f"| {s} | {f} | `{field}` | {shape} |" for s, f, field, shape in formulas.MODEL_TABLE
)
st.markdown(f"| step | formula | Trace field | shape |\n|---|---|---|---|\n{rows}")
if settings is not None:
    cfg = settings.trained
    st.caption(
        f"The selected model, {ui.md(settings.model_name)}: D = {cfg.input_dim}, "
        f"d = {cfg.hidden_dim}, C = {cfg.num_classes}; activation {cfg.activation}, "
        f"σ = {cfg.pool_activation}."
    )
st.markdown(
    "Padding gets zero weight everywhere (in $a$ and in $\\alpha$). The temperature $\\tau$ "
    "divides every score: below 1 it sharpens the attention, above 1 it flattens it."
)

st.header("The similarity functions", divider="blue")
st.markdown(
    "Any of the six can be switched on a trained model, without retraining. `additive` and "
    "`bilinear` have weights of their own: on a model trained with another similarity those "
    "weights are untrained (fixed values), so switching to them shows what untrained weights do. "
    "The home page's model, bbc-topics, also ships one checkpoint per similarity (same data and "
    "settings): switching its similarity loads the one *trained* with it, as the sidebar says."
)
for name, sim in SIMILARITIES.items():
    st.markdown(f"- `{name}`: $s(h_i, h_j) = {sim.latex}$. {sim.description}")

st.header("Where this project departs from the article", divider="blue")
st.markdown(ARTICLE_DEPARTURES)
