"""About: the model in one table, the article's formulas, and where this project departs from it."""

import streamlit as st

from dense_attention import SIMILARITIES, formulas, ui

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
        f"The selected model, {settings.model_name}: D = {cfg.input_dim}, d = {cfg.hidden_dim}, "
        f"C = {cfg.num_classes}; activation {cfg.activation}, σ = {cfg.pool_activation}."
    )
st.markdown(
    "Padding gets zero weight everywhere (in $a$ and in $\\alpha$). The temperature $\\tau$ "
    "divides every score: below 1 it sharpens the attention, above 1 it flattens it."
)

st.header("The similarity functions", divider="blue")
st.markdown(
    "Any of the six can be switched on a trained model, without retraining. `additive` and "
    "`bilinear` have weights of their own: on a model trained with another similarity those "
    "weights are untrained (fixed values), so switching to them shows what untrained weights do."
)
for name, sim in SIMILARITIES.items():
    st.markdown(f"- `{name}`: $s(h_i, h_j) = {sim.latex}$. {sim.description}")

st.header("Where this project departs from the article", divider="blue")
st.markdown(
    """
The source article combines a dense layer with an attention mechanism; its sample code scores
pairs with a Bahdanau-style additive layer $w^\\top \\tanh(W_q h_i + W_k h_j)$. The formulas above
are the article's, corrected and generalised. Its own sample code does not run:

1. **Its `Attention` layer is built for the wrong width.** It is created for `input_dim`
   features but applied to the outputs of the dense layer, which are 128 wide: the weight
   shapes do not match.
2. **`matmul(a, h)` mixes the batch with the sequence.** The attention weights of one example
   end up multiplying the hidden vectors of other examples, instead of
   $v_i = \\sum_j a_{ij} h_j$ within each example.

This project implements the formulas instead of that code, and goes further in a few places:
six similarity functions instead of one (selectable at inference), a temperature $\\tau$, masks
so padding never receives attention, positional embeddings (attention pooling ignores order
otherwise), and the mean $h_o$ of the hidden vectors as a skip input beside $c$.
"""
)
