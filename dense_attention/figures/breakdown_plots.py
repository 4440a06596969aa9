"""Why token i attends to token j, drawn: a score's parts as sorted bars, and the query–key map."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..core.i18n import tr
from ..explain.breakdown import ScoreBreakdown
from ..explain.query_key_map import QueryKeyMap
from .heatmaps import HIGHLIGHT, escape_label

POSITIVE = "#c92a2a"  # a part that raises the score (the diverging scale's red)
NEGATIVE = "#1864ab"  # a part that lowers it (blue)
QUERY_COLOR = "#3b5bdb"
KEY_COLOR = "#f08c00"
TOKEN_COLORS = (
    "#e03131", "#2f9e44", "#9c36b5", "#1098ad", "#f76707", "#5c940d", "#c2255c", "#364fc7",
)  # fmt: skip
SAMPLE_HOVER_MAX = 60  # characters of an input's text in a sample point's hover


def breakdown_figure(found: ScoreBreakdown, tokens: Sequence[str]) -> go.Figure:
    """The parts of s_ij (head k's s^k_ij with several heads) sorted from most positive to most
    negative, one bar each, named by their index in h (and what they carry); the title gives
    their sum, the score."""
    order = found.order()
    values = found.parts[order].tolist()
    labels = [str(found.offset + k + 1) for k in order]
    s = "s" if found.heads == 1 else f"s<sup>{found.head + 1}</sup>"
    hover = [
        tr(
            "{escape_label}<br>part {v:+.4f} of {s}<sub>ij</sub>",
            escape_label=escape_label(found.name(k)),
            v=v,
            s=s,
        )
        for k, v in zip(order, values, strict=True)
    ]
    i, j = found.i, found.j
    pair = f"{escape_label(tokens[i])} → {escape_label(tokens[j])}"
    per, axis = tr("one bar per {unit}, sorted", unit=found.unit), found.unit
    if found.heads > 1:  # the title stays one line: the slice goes on the axis
        per = tr("head {value} of {heads}", value=found.head + 1, heads=found.heads)
        axis = tr(
            "{unit} (head {value}'s {parts}, sorted)",
            unit=found.unit,
            value=found.head + 1,
            parts=len(found.parts),
        )
    title = tr(
        "{s}<sub>{value},{value2}</sub> = Σ parts = {score:.3f} ({pair}), {per}",
        s=s,
        value=i + 1,
        value2=j + 1,
        score=found.score,
        pair=pair,
        per=per,
    )
    bar = go.Bar(
        x=labels,
        y=values,
        marker_color=[POSITIVE if v >= 0 else NEGATIVE for v in values],
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
        name="parts",
    )
    layout = dict(
        title=dict(text=title),
        height=320,
        margin=dict(l=10, r=10, t=50, b=10),
        showlegend=False,
        xaxis=dict(type="category", title=dict(text=axis), tickfont=dict(size=9)),
        yaxis=dict(title=dict(text=tr("part of the score")), zeroline=True),
        meta=dict(score=found.score, i=i, j=j, head=found.head),
    )
    return go.Figure(bar, layout)


def _sample_trace(points: np.ndarray, found: QueryKeyMap, role: str, color: str) -> go.Scattergl:
    hover = [
        tr(
            "{role} of '{escape_label}'<br>{escape_label2}",
            role=role,
            escape_label=escape_label(t),
            escape_label2=escape_label(s[:SAMPLE_HOVER_MAX]),
        )
        for t, s in zip(found.tokens, found.hover, strict=True)
    ]
    return go.Scattergl(
        x=points[:, 0], y=points[:, 1], mode="markers", name=tr("{role} (sample)", role=role),
        marker=dict(color=color, size=4, opacity=0.35, symbol="circle" if role == "query"
                    else "diamond"),
        hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
    )  # fmt: skip


def _current_traces(found: QueryKeyMap, tokens: Sequence[str]) -> list[go.Scatter]:
    """The current input's queries (circles) and keys (diamonds), one colour per token."""
    colors = [TOKEN_COLORS[k % len(TOKEN_COLORS)] for k in range(len(tokens))]
    traces = []
    for role, points, symbol in (
        ("query", found.current_queries, "circle"),
        ("key", found.current_keys, "diamond-open"),
    ):
        hover = [
            tr(
                "{role} of token {value}: '{escape_label}'",
                role=role,
                value=k + 1,
                escape_label=escape_label(t),
            )
            for k, t in enumerate(tokens)
        ]
        traces.append(
            go.Scatter(
                x=points[:, 0], y=points[:, 1], mode="markers+text",
                name=tr("{role} (this input)", role=role),
                text=[escape_label(t) for t in tokens] if role == "query" else None,
                textposition="top center", textfont=dict(size=10, color=HIGHLIGHT),
                marker=dict(color=colors, size=11, symbol=symbol, line=dict(width=2)),
                hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
                customdata=list(range(len(tokens))),  # token k: linked.js highlights it
            )
        )  # fmt: skip
    return traces


def query_key_figure(
    found: QueryKeyMap, tokens: Sequence[str], attn: np.ndarray | None = None
) -> go.Figure:
    """The sample's queries and keys (small, by role) and this input's (large, one colour per
    token, labelled), on the map's two PCA axes. With the input's attention matrix `attn`
    (N, N), the page's linked highlight (ui/assets/linked.js) rings token k's query and key and
    draws a line from its query to every key j, as thick as a_kj."""
    if len(tokens) != len(found.current_queries):
        raise ValueError(f"{len(tokens)} tokens for {len(found.current_queries)} points")
    data = [
        _sample_trace(found.queries, found, "query", QUERY_COLOR),
        _sample_trace(found.keys, found, "key", KEY_COLOR),
        *_current_traces(found, tokens),
    ]
    pc1, pc2 = (
        tr("PC {value} ({share:.0%} of the spread)", value=k + 1, share=share)
        for k, share in enumerate(found.explained)
    )
    layout = dict(
        title=dict(
            text=tr(
                "Queries and keys ({similarity}), {note}",
                similarity=found.similarity,
                note=found.note,
            )
        ),
        height=560,
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(title=dict(text=pc1)),
        yaxis=dict(title=dict(text=pc2), scaleanchor="x"),
        legend=dict(orientation="h", y=-0.12),
    )
    if attn is not None:
        attn = np.asarray(attn, dtype=float)
        if attn.shape != (len(tokens), len(tokens)):
            raise ValueError(f"attn has shape {attn.shape} for {len(tokens)} tokens")
        # traces 2 and 3: this input's queries and keys, customdata k = token k
        link = dict(points=dict(query=2, key=3), attn=np.round(attn, 4).tolist())
        layout["meta"] = dict(dal_link=link)
    return go.Figure(data, layout)
