"""The model, one formula at a time: every step of DenseAttention on a small fixed sentence."""

import streamlit as st

from dense_attention import SIMILARITIES, formulas, plots

TEMPERATURES = [0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0]


@st.cache_resource
def load_toy() -> formulas.ToyExample:
    """Built once per server and shared by every session: only read, never trained."""
    return formulas.toy_example()


def select_clicked_cell() -> None:
    """on_select of the attention heatmap: the clicked cell becomes the selected i and j."""
    points = st.session_state["attn_click"].selection.points
    if points:
        st.session_state["cell_i"], st.session_state["cell_j"] = points[0]["customdata"]


def token_label(k: int) -> str:
    return f"{k + 1} · {toy.tokens[k]}"


toy = load_toy()
n = len(toy.tokens)
st.session_state.setdefault("cell_i", 1)
st.session_state.setdefault("cell_j", 2)

st.title("The model, one formula at a time")
st.markdown(
    "A **dense layer** projects every token to a hidden vector; **attention** compares every "
    "pair of hidden vectors and mixes them by similarity; **attention pooling** weighs the "
    "tokens into one vector, and a last dense layer turns it into class probabilities. Below, "
    f"the sentence *{' '.join(toy.tokens)}* goes through a small untrained model "
    f"(D = {toy.x.shape[-1]} input features, d = {toy.model.config.hidden_dim} hidden units, "
    f"{len(toy.class_names)} classes), one step at a time, with the real numbers."
)
st.info(
    "The source article's own sample code does not run: its Attention layer is built for "
    "`input_dim` but applied to the 128-wide hidden vectors, and `matmul(a, h)` mixes the batch "
    "with the sequence. This app implements the article's formulas instead.",
    icon=":material/info:",
)

left, right = st.columns(2)
similarity = left.selectbox("Similarity s(h_i, h_j)", list(SIMILARITIES), index=1, key="similarity")
left.caption(SIMILARITIES[similarity].description)
temperature = right.select_slider(
    "Temperature τ", TEMPERATURES, value=1.0, format_func="{:g}".format, key="temperature"
)

trace = toy.trace(similarity, temperature)
cell = (st.session_state["cell_i"], st.session_state["cell_j"])
figures = plots.trace_figures(trace, toy.tokens, toy.class_names, cell=cell)

for step in formulas.STEPS:
    st.subheader(step.title, divider="gray")
    text, chart = st.columns([2, 3])
    text.latex(formulas.step_latex(step.key, similarity, toy.model.config, temperature))
    text.write(step.explanation)
    if step.key == "alpha":
        text.html(plots.token_shading_html(toy.tokens, trace.alpha[0]))
    chart.plotly_chart(figures[step.key], width="stretch", key=f"figure_{step.key}")

st.header("The formula with numbers", divider="blue")
st.write("Click a cell of the attention matrix, or pick a query token i and a key token j.")
chart, numbers = st.columns([2, 3])
with chart:
    st.plotly_chart(
        plots.attention_heatmap(trace.attn[0], toy.tokens, cell, clickable=True),
        width="stretch",
        key="attn_click",
        on_select=select_clicked_cell,
        selection_mode="points",
    )
    st.selectbox("Query token i", range(n), format_func=token_label, key="cell_i")
    st.selectbox("Key token j", range(n), format_func=token_label, key="cell_j")
with numbers:
    for caption, latex in formulas.cell_latex(
        trace, *cell, toy.tokens, toy.class_names, toy.model.config
    ):
        st.markdown(caption)
        st.latex(latex)
