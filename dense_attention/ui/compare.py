"""The compare page's rooms: setting B, what changed between A and B, and a real transformer's
attention (MiniLM) beside ours."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from ..core.config import TEMPERATURES
from ..core.i18n import tr
from ..core.similarity import SIMILARITIES
from ..explain.comparison import compare_attention
from ..figures import export, heatmaps, trace_plots
from ..inputs.classifier import Explanation
from .cache import cached, minilm_attention
from .charts import chart, matrix_table
from .errors import friendly_errors
from .sidebar import Settings

COMPARE_SIMILARITY, COMPARE_TEMPERATURE = "compare_similarity", "compare_temperature"


def setting_b(settings: Settings) -> tuple[str, float]:
    """The similarity and temperature of B (A is the sidebar's)."""
    left, right = st.columns(2)
    other = "cosine" if settings.similarity != "cosine" else "scaled_dot"
    similarity = left.selectbox(
        tr("Similarity (B)"),
        list(SIMILARITIES),
        key=COMPARE_SIMILARITY,
        index=list(SIMILARITIES).index(other),
    )
    temperature = right.select_slider(
        tr("Temperature τ (B)"),
        sorted({*TEMPERATURES, settings.temperature}),  # the model's own τ may be off the list
        value=settings.temperature,
        format_func="{:g}".format,
        key=COMPARE_TEMPERATURE,
    )
    return similarity, temperature


def attention_chart(explanation: Explanation, title: str, name: str) -> None:
    """One explanation's attention matrix, titled, with its exports."""
    tokens, attn = list(explanation.tokens), explanation.trace.attn[0]
    fig = cached(trace_plots.attention_heatmap, attn, tokens, title=title)
    chart(fig, name, matrix_table(attn, tokens))


def what_changed(a: Explanation, b: Explanation, names: Sequence[str]) -> None:
    """B − A cell by cell, and each token's attention entropy under A and under B."""
    st.subheader(tr("What changed"), divider="gray")
    tokens = list(a.tokens)
    moved = compare_attention(a.trace, b.trace)
    col_diff, col_entropy = st.columns(2)
    with col_diff:
        fig = cached(
            heatmaps.matrix_heatmap, moved.difference, tokens, tokens, "Difference B − A", zmid=0.0
        )
        chart(fig, "difference", matrix_table(moved.difference, tokens))
    with col_entropy:
        entropies = dict(zip(names, moved.entropy.T, strict=True))
        labels = export.token_labels(tokens)

        def csv() -> str:
            return export.matrix_csv(moved.entropy, labels, ["A", "B"], "token")

        chart(cached(trace_plots.entropy_bars, entropies, tokens), "entropy", csv)
        st.caption(
            tr("Low entropy: a token attends to few others. log N: it attends to all equally.")
        )


def _reference_head(layers: int, heads: int) -> tuple[int, int | None, str]:
    col_layer, col_head = st.columns(2)
    layer = col_layer.select_slider(tr("Layer"), range(1, layers + 1), value=1, key="ref_layer")
    head = col_head.selectbox(
        tr("Head"), [tr("mean of all heads"), *range(1, heads + 1)], key="ref_head"
    )
    index = None if isinstance(head, str) else head - 1
    title = f"MiniLM layer {layer}, {'mean of heads' if index is None else f'head {head}'}"
    return layer - 1, index, title


def minilm_beside(settings: Settings, text: str, a: Explanation, name_a: str) -> None:
    """MiniLM's attention (a chosen layer and head) over the same tokens, beside ours."""
    st.header(tr("A real transformer beside ours"), divider="blue")
    st.markdown(
        tr(
            "all-MiniLM-L6-v2 (6 layers × 12 heads, pretrained) reads the same "
            "WordPiece tokens. Its attention comes from learned queries and keys in "
            "every head, ours from one similarity of the dense layer's outputs.",
        )
    )
    with friendly_errors(stop=False):
        ref = minilm_attention(settings.model, text)
        layer, head, title = _reference_head(ref.layers, ref.heads)
        theirs = ref.head(layer, head)
        col_ref, col_ours = st.columns(2)
        with col_ref:
            fig = cached(trace_plots.attention_heatmap, theirs, ref.tokens, title=title)
            chart(fig, "minilm", matrix_table(theirs, ref.tokens))
        with col_ours:
            attention_chart(a, tr("Dense attention, {name_a}", name_a=name_a), "dense")
