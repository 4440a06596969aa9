"""A model with several heads, under its attention step: each head's matrix as a small multiple,
the head view (lines between the tokens, one colour per head) and how far apart the heads are."""

from __future__ import annotations

import math

import streamlit as st

from ..core.i18n import tr
from ..core.trace import head_distance
from ..figures import head_plots, trace_plots
from ..inputs.classifier import Explanation
from . import lazy
from .cache import cached
from .charts import chart
from .styles import md

SMALL_PER_ROW = 4  # small multiples side by side before a new row starts


def head_panels(explanation: Explanation, key: str = "steps") -> None:
    """The heads of `explanation`'s trace: H small matrices, the head view and the heads' mean
    pairwise Jensen-Shannon divergence."""
    head_attn = explanation.trace.head_attn[0].detach().cpu().float().numpy()  # (H, N, N)
    heads = head_attn.shape[0]
    tokens = list(explanation.tokens)
    st.markdown(tr(
        "**Each of the {heads} heads, one matrix each** (the matrix above is "
        "their mean)",
        heads=md(heads),
    ))  # fmt: skip
    for start in range(0, heads, SMALL_PER_ROW):
        columns = st.columns(SMALL_PER_ROW)
        for k, column in zip(
            range(start, min(heads, start + SMALL_PER_ROW)), columns, strict=False
        ):
            fig = cached(trace_plots.small_attention_heatmap, head_attn[k], tokens,
                         f"Head {k + 1}: a<sup>{k + 1}</sup><sub>ij</sub>")  # fmt: skip
            with column:
                lazy.plotly_chart(fig, key=f"head_matrix_{key}_{k}", width="stretch")
    chart(cached(head_plots.head_view, head_attn, tokens), "head_view", key=f"{key}_head_view")
    distance = head_distance(head_attn)
    pairs = [distance[k, m] for k in range(heads) for m in range(k + 1, heads)]
    st.caption(
        tr(
            "How different the heads are here: mean Jensen–Shannon divergence "
            "between two heads' rows {value:.3f} nats (0 = the same weights, ln 2 = "
            "{log:.3f} = no key in common). Click a head in the legend to hide it, "
            "double-click to see it alone.",
            value=sum(pairs) / len(pairs),
            log=math.log(2),
        )
    )
