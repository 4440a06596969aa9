"""One sentence under two settings side by side, and a real transformer's attention beside ours."""

import functools

import numpy as np
import streamlit as st

from dense_attention import SIMILARITIES, export, plots, reference, ui

settings = ui.sidebar("text")
if settings is None:
    st.stop()

st.title("Compare attention")
st.markdown(
    "**A** is the sidebar's setting; pick **B** below. The same trained model reads the same "
    "sentence both ways: only the similarity function and the temperature change, no retraining."
)
text = ui.sentence_input(ui.EXAMPLE_SENTENCES)
if not text.strip():
    st.info("Type a sentence above, or pick an example, to compare.", icon=":material/edit:")
    st.stop()

left, right = st.columns(2)
other = "cosine" if settings.similarity != "cosine" else "scaled_dot"
similarity_b = left.selectbox(
    "Similarity (B)",
    list(SIMILARITIES),
    key="compare_similarity",
    index=list(SIMILARITIES).index(other),
)
temperature_b = right.select_slider(
    "Temperature τ (B)",
    ui.TEMPERATURES,
    value=settings.temperature if settings.temperature in ui.TEMPERATURES else 1.0,
    format_func="{:g}".format,
    key="compare_temperature",
)

with ui.friendly_errors():
    a = settings.explain(text)
    b = settings.explain(text, similarity=similarity_b, temperature=temperature_b)
tokens = list(a.tokens)
name_a = f"A: {settings.similarity}, τ = {settings.temperature:g}"
name_b = f"B: {similarity_b}, τ = {temperature_b:g}"


col_a, col_b = st.columns(2)
with col_a:
    st.markdown(f"**{name_a}** · {ui.prediction_line(a)}")
    fig = ui.cached(plots.attention_heatmap, a.trace.attn[0], tokens, title=name_a)
    ui.chart(fig, "attention_a", ui.matrix_table(a.trace.attn[0], tokens))
with col_b:
    st.markdown(f"**{name_b}** · {ui.prediction_line(b)}")
    fig = ui.cached(plots.attention_heatmap, b.trace.attn[0], tokens, title=name_b)
    ui.chart(fig, "attention_b", ui.matrix_table(b.trace.attn[0], tokens))

st.subheader("What changed", divider="gray")
col_diff, col_entropy = st.columns(2)
diff = (b.trace.attn[0] - a.trace.attn[0]).cpu()
with col_diff:
    fig = ui.cached(plots.matrix_heatmap, diff, tokens, tokens, "Difference B − A", zmid=0.0)
    ui.chart(fig, "difference", ui.matrix_table(diff, tokens))
with col_entropy:
    entropies = {
        name_a: reference.attention_entropy(a.trace.attn[0]),
        name_b: reference.attention_entropy(b.trace.attn[0]),
    }
    table = np.stack(list(entropies.values()), axis=1)  # (N, 2): A and B per token
    csv = functools.partial(
        export.matrix_csv, table, export.token_labels(tokens), ["A", "B"], "token"
    )
    ui.chart(ui.cached(plots.entropy_bars, entropies, tokens), "entropy", csv)
    st.caption("Low entropy: a token attends to few others. log N: it attends to all equally.")

st.header("A real transformer beside ours", divider="blue")
st.markdown(
    "all-MiniLM-L6-v2 (6 layers × 12 heads, pretrained) reads the same WordPiece tokens. "
    "Its attention comes from learned queries and keys in every head, ours from one similarity "
    "of the dense layer's outputs."
)
with ui.friendly_errors(stop=False):
    ref = ui.minilm_attention(settings.model, text)
    col_layer, col_head = st.columns(2)
    layer = col_layer.select_slider("Layer", range(1, ref.layers + 1), value=1, key="ref_layer")
    head = col_head.selectbox(
        "Head", ["mean of all heads", *range(1, ref.heads + 1)], key="ref_head"
    )
    head_index = None if isinstance(head, str) else head - 1
    theirs = ref.head(layer - 1, head_index)
    col_ref, col_ours = st.columns(2)
    with col_ref:
        title = f"MiniLM layer {layer}, {'mean of heads' if head_index is None else f'head {head}'}"
        fig = ui.cached(plots.attention_heatmap, theirs, ref.tokens, title=title)
        ui.chart(fig, "minilm", ui.matrix_table(theirs, ref.tokens))
    with col_ours:
        title = f"Dense attention, {name_a}"
        fig = ui.cached(plots.attention_heatmap, a.trace.attn[0], tokens, title=title)
        ui.chart(fig, "dense", ui.matrix_table(a.trace.attn[0], tokens))
