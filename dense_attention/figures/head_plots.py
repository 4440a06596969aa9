"""Several attention heads at once: the head view (BertViz-like lines, one colour per head).

The head view puts the tokens in two columns, queries i on the left and keys j on the right, and
draws a line from i to j for every weight a^k_ij of every head k, its opacity and width growing
with the weight. Each head is one legend entry: a click hides it, a double click keeps it alone.
The per-head matrices as small multiples are `trace_plots.small_attention_heatmap`, one per head.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from ..core.i18n import tr
from ..core.trace import ArrayLike, to_numpy
from .heatmaps import TICK_PX, check_labels, escape_label

HEAD_COLOURS = qualitative.D3  # head k's colour, the same in the head view and its legend
# Weights are drawn in bands (plotly gives one opacity per trace): a line for a^k_ij at least
# LINE_MIN, in the band of its weight, a band's opacity and width rising with it.
BANDS = (0.05, 0.2, 0.4, 0.6, 0.8)
LINE_MIN = BANDS[0]
ROW_PX = max(TICK_PX, 22)  # vertical pixels per token row


def head_colour(head: int) -> str:
    """Head `head`'s colour (0-based), cycling past the palette's ten."""
    return HEAD_COLOURS[head % len(HEAD_COLOURS)]


def _band_segments(a: np.ndarray, low: float, high: float) -> tuple[list, list, list]:
    """x, y and hover text of the line segments for the weights in [low, high), None-separated."""
    xs: list = []
    ys: list = []
    text: list = []
    for i, j in zip(*np.nonzero((a >= low) & (a < high)), strict=True):
        xs += [0, 1, None]
        ys += [-int(i), -int(j), None]
        text += [f"a = {a[i, j]:.3f}"] * 2 + [None]
    return xs, ys, text


def _head_traces(a: np.ndarray, head: int) -> list[go.Scatter]:
    """One trace per weight band of head `head` (0-based), grouped under one legend entry."""
    traces = []
    edges = (*BANDS, 1.0 + 1e-9)
    for band, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        xs, ys, text = _band_segments(a, low, high)
        hover = [None if t is None else tr("head {k}: {t}", k=head + 1, t=t) for t in text]
        traces.append(go.Scatter(
            x=xs, y=ys, mode="lines", name=tr("head {k}", k=head + 1),
            legendgroup=f"head{head}",
            showlegend=band == len(BANDS) - 1, hoverinfo="text", hovertext=hover,
            line=dict(color=head_colour(head), width=1 + 2.5 * band),
            opacity=min(1.0, 0.25 + 0.75 * high),
        ))  # fmt: skip
    return traces


def head_view(
    head_attn: ArrayLike,
    tokens: Sequence[str],
    title: str = "Head view: query i (left) → key j (right), one colour per head",
) -> go.Figure:
    """The head view of one input's attention (H, N, N): for every head k a line from token i
    (left) to token j (right) wherever a^k_ij >= LINE_MIN, stronger for larger weights."""
    a = to_numpy(head_attn)
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise ValueError(f"head_attn must be (H, N, N), got shape {a.shape}")
    heads, n = a.shape[0], a.shape[1]
    labels = [escape_label(t) for t in check_labels("tokens", tokens, n)]
    traces = [t for k in range(heads) for t in _head_traces(a[k], k)]
    for x, side, role in ((0, "left", "query"), (1, "right", "key")):
        traces.append(go.Scatter(
            x=[x] * n, y=[-i for i in range(n)], mode="markers+text", text=labels,
            textposition=f"middle {side}", showlegend=False,
            marker=dict(size=7, color="#495057"), hoverinfo="text",
            hovertext=[f"{role} {i + 1}: {t}" for i, t in enumerate(labels)],
        ))  # fmt: skip
    fig = go.Figure(traces)
    fig.update_layout(
        title=dict(text=title), height=120 + ROW_PX * n, margin=dict(l=10, r=10, t=60, b=10),
        xaxis=dict(visible=False, range=[-0.8, 1.8]),
        yaxis=dict(visible=False, range=[-n + 0.5, 0.5]),
        legend=dict(title=dict(text=tr("click: hide · double-click: alone")),
                    itemsizing="constant"),
        hovermode="closest", plot_bgcolor="white",
    )  # fmt: skip
    return fig
