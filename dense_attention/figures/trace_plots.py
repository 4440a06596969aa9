"""Figures of a Trace's steps: token x feature heatmaps, the attention matrix, α and class
probability bars, attention row entropies, and one figure per step (`trace_figures`)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..core.i18n import N_, tr
from ..core.trace import ArrayLike, Trace, to_numpy
from ..explain import words
from .heatmaps import (
    HIGHLIGHT,
    MUTED,
    SEQUENTIAL,
    TICKS_MAX,
    X_TICKS_MAX,
    HeatmapMode,
    axis_ticks,
    check_labels,
    escape_label,
    link_tokens,
    matrix_heatmap,
    tick_angle,
)

ROBUST_PERCENTILES = (2.0, 98.0)  # the input x's colour range: a few outliers do not wash it out


def vector_strip(vec: ArrayLike, title: str, row_label: str = "") -> go.Figure:
    """A d-vector (c, h_o, pooled) as a 1 x d heatmap, centred at zero."""
    vec = to_numpy(vec)
    if vec.ndim == 2 and vec.shape[0] == 1:
        vec = vec[0]
    if vec.ndim != 1:
        raise ValueError(f"vec must be a vector (d,) or (1, d), got shape {vec.shape}")
    labels = [str(k + 1) for k in range(vec.shape[0])]
    fig = matrix_heatmap(
        vec[None, :],
        labels,
        [row_label],
        title,
        zmid=0.0,
        mode=HeatmapMode.FEATURES,
        row_name=tr("row"),
        col_name=tr("component"),
    )
    fig.update_layout(height=190)
    return fig


def _bar(
    values: np.ndarray, labels: list[str], title: str, colors: list[str], hover: list[str]
) -> go.Figure:
    bar = go.Bar(
        x=list(range(len(labels))),
        y=values.tolist(),
        marker_color=colors,
        text=[f"{v:.2f}" for v in values] if len(labels) <= X_TICKS_MAX else None,
        textposition="outside",
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
    )
    x_ticks = axis_ticks(labels, X_TICKS_MAX)
    layout = dict(
        title=dict(text=title),
        height=300,
        margin=dict(l=10, r=10, t=50, b=10),
        showlegend=False,
        xaxis=dict(x_ticks, tickangle=tick_angle(len(x_ticks["tickvals"]))),
        yaxis=dict(range=[0, max(1.0, float(values.max(initial=0.0))) * 1.15]),
    )
    return go.Figure(bar, layout)  # one layout, validated once (see matrix_heatmap)


def alpha_bar(
    alpha: ArrayLike,
    tokens: Sequence[str],
    pool_scores: ArrayLike | None = None,
    hover: Sequence[str] | None = None,
) -> go.Figure:
    """Pooling weights alpha_i per token (N,), with the scores e_i in the hover when given;
    `hover` names the tokens in the hover text (default: `tokens`)."""
    alpha = to_numpy(alpha).reshape(-1)
    tokens = check_labels("tokens", tokens, alpha.shape[0])
    names = check_labels("hover", hover, alpha.shape[0]) if hover is not None else tokens
    e = None if pool_scores is None else to_numpy(pool_scores).reshape(-1)
    if e is not None and e.shape != alpha.shape:
        raise ValueError(f"pool_scores has {e.shape[0]} entries but alpha has {alpha.shape[0]}")
    hover = [
        f"i = {i + 1}: {escape_label(t)}<br>α = {a:.4f}"
        + ("" if e is None else f"<br>e = {e[i]:.4f}")
        for i, (t, a) in enumerate(zip(names, alpha, strict=True))
    ]
    top = np.isclose(alpha, alpha.max(initial=0.0), rtol=1e-6)  # ties: every top token
    colors = [HIGHLIGHT if is_top else MUTED for is_top in top]
    return link_tokens(
        _bar(alpha, tokens, tr("Pooling weights α<sub>i</sub>"), colors, hover), cols=True
    )


def probs_bar(
    probs: ArrayLike, class_names: Sequence[str], logits: ArrayLike | None = None
) -> go.Figure:
    """Class probabilities y = softmax(z) (C,), the winning class highlighted."""
    probs = to_numpy(probs).reshape(-1)
    names = check_labels("class_names", class_names, probs.shape[0])
    z = None if logits is None else to_numpy(logits).reshape(-1)
    if z is not None and z.shape != probs.shape:
        raise ValueError(f"logits has {z.shape[0]} entries but probs has {probs.shape[0]}")
    hover = [
        f"{escape_label(n)}<br>y = {p:.4f}" + ("" if z is None else f"<br>z = {z[k]:.4f}")
        for k, (n, p) in enumerate(zip(names, probs, strict=True))
    ]
    winner = int(probs.argmax())
    colors = [HIGHLIGHT if k == winner else MUTED for k in range(probs.shape[0])]
    return _bar(probs, names, tr("Output probabilities y = softmax(z)"), colors, hover)


def token_shading_html(tokens: Sequence[str], weights: ArrayLike) -> str:
    """Tokens as HTML spans shaded by weight (largest = full colour); text is HTML-escaped;
    `data-dal-token` (0-based) links each to the page's charts (ui/assets/linked.js)."""
    weights = to_numpy(weights).reshape(-1)
    tokens = check_labels("tokens", tokens, weights.shape[0])
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError("weights must be finite and non-negative")
    top = float(weights.max(initial=0.0)) or 1.0
    spans = [
        f'<span data-dal-token="{k}" title="{w:.4f}" '
        f'style="background-color: rgba(59, 91, 219, {w / top:.3f}); '
        f"color: {'white' if w / top > 0.55 else 'inherit'}; padding: 0.1em 0.3em; "
        f'margin: 0 0.1em; border-radius: 0.3em;">{html.escape(t)}</span>'
        for k, (t, w) in enumerate(zip(tokens, weights, strict=True))
    ]
    return '<div style="line-height: 2;">' + " ".join(spans) + "</div>"


def attention_heatmap(
    attn: ArrayLike,
    tokens: Sequence[str],
    cell: tuple[int, int] | None = None,
    clickable: bool = False,
    title: str = N_("Attention a<sub>ij</sub> (row i: query, column j: key)"),
    hover: Sequence[str] | None = None,
) -> go.Figure:
    """The (N, N) attention matrix on a fixed 0..1 colour scale, cell (i, j) outlined; `hover`
    names the tokens in the hover text (default: `tokens`).

    Past TICKS_MAX tokens the scale ends at the largest weight instead: spread over hundreds of
    keys, weights are small and a 0..1 scale would show a blank square.
    """
    attn = to_numpy(attn)
    zmax = 1.0 if attn.shape[-1] <= TICKS_MAX else None
    fig = matrix_heatmap(
        attn,
        tokens,
        tokens,
        tr(title),
        SEQUENTIAL,
        None,
        clickable,
        highlight=cell,
        zmin=0.0,
        zmax=zmax,
        x_hover=hover,
        y_hover=hover,
    )
    return link_tokens(fig, rows=True, cols=True)


def robust_range(z: ArrayLike, percentiles: tuple[float, float] = ROBUST_PERCENTILES) -> float:
    """m for a colour range [-m, m] centred on 0: the larger of |low| and |high| percentile of z
    (values beyond it get the end colours). 0 when z is all zeros."""
    low, high = np.percentile(to_numpy(z), percentiles)
    return float(max(abs(low), abs(high)))


def _ordinal(value: float) -> str:
    """2 -> "2nd", 98 -> "98th", 2.5 -> "2.5th"."""
    if value != int(value):
        return f"{value:g}th"
    n = int(value)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def input_heatmap(
    x: ArrayLike, tokens: Sequence[str], title: str, hover: Sequence[str] | None = None
) -> go.Figure:
    """The input x (tokens × input features), coloured over ±robust_range(x) so that hundreds of
    small features stay visible beside a few large ones; the colour bar states the range."""
    z = to_numpy(x)
    features = [str(k + 1) for k in range(z.shape[1])] if z.ndim == 2 else []
    m = robust_range(z) if z.size else 0.0
    rows = dict(mode=HeatmapMode.FEATURES, col_name=tr("component"), y_hover=hover)
    if m == 0:
        return matrix_heatmap(z, features, tokens, title, zmid=0.0, **rows)
    fig = matrix_heatmap(z, features, tokens, title, zmin=-m, zmax=m, **rows)
    low, high = (_ordinal(p) for p in ROBUST_PERCENTILES)
    label = tr("±{m:.3g}<br>({low}–{high}<br>percentile of x)", m=m, low=low, high=high)
    return fig.update_traces(colorbar=dict(title=dict(text=label)), selector=dict(type="heatmap"))


SMALL_TICKS_MAX = 6  # labels per axis of a small multiple (a third of the page wide)


def small_attention_heatmap(attn: ArrayLike, tokens: Sequence[str], title: str) -> go.Figure:
    """attention_heatmap for a small multiple: at most SMALL_TICKS_MAX labels per axis, upright,
    no colour bar and no cell values (16 labels such as r0c0..r3c3 overlap in a third of the
    page)."""
    tokens = [str(t) for t in tokens]
    fig = attention_heatmap(attn, tokens, title=title)
    fig.update_traces(showscale=False, texttemplate=None, selector={"type": "heatmap"})
    fig.update_xaxes(**axis_ticks(tokens, SMALL_TICKS_MAX), tickangle=0)
    fig.update_yaxes(**axis_ticks(tokens, SMALL_TICKS_MAX))
    return fig


def trace_figures(
    trace: Trace,
    tokens: Sequence[str],
    class_names: Sequence[str],
    b: int = 0,
    cell: tuple[int, int] | None = None,
    hover: Sequence[str] | None = None,
) -> dict[str, go.Figure]:
    """One figure per step of docs/design.md's model table for example `b` (cropped to its real
    tokens).

    Keys: x, h, similarity, scores, attn, values, alpha, c, h_o, probs. `cell` (0-based i, j)
    is outlined in the similarity, scores and attention matrices; with several heads they are
    the heads' mean, and their titles say so (words.matrix_titles). `hover` names the tokens in
    hover texts where the axis label says less (Explanation.hover_tokens: "[UNK] (Ωμέγα)").
    """
    one = trace.example(b).numpy()
    tokens = check_labels("tokens", tokens, one["attn"].shape[1])
    features = [str(k + 1) for k in range(one["h"].shape[2])]
    names = dict(y_hover=hover)

    def by_feature(z: np.ndarray, cols: list[str], title: str) -> go.Figure:
        fig = matrix_heatmap(
            z,
            cols,
            tokens,
            title,
            zmid=0.0,
            mode=HeatmapMode.FEATURES,
            col_name=tr("component"),
            **names,
        )
        return link_tokens(fig, rows=True, start=1)  # token i at y = i + 1

    def by_token(z: np.ndarray, title: str, **kw) -> go.Figure:
        fig = matrix_heatmap(z, tokens, tokens, title, highlight=cell, x_hover=hover, **names, **kw)
        return link_tokens(fig, rows=True, cols=True)

    title = _titles(trace)
    titles = words.matrix_titles(trace.similarity, trace.temperature, trace.heads)
    return {
        "x": link_tokens(input_heatmap(one["x"][0], tokens, title["x"], hover), rows=True, start=1),
        "h": by_feature(one["h"][0], features, title["h"]),
        "similarity": by_token(
            one["scores"][0] * trace.temperature, titles["similarity"], zmid=0.0
        ),
        "scores": by_token(one["scores"][0], titles["scores"], zmid=0.0),
        "attn": attention_heatmap(one["attn"][0], tokens, cell, title=titles["attn"], hover=hover),
        "values": by_feature(one["values"][0], features, title["values"]),
        "alpha": alpha_bar(one["alpha"][0], tokens, one["pool_scores"][0], hover),
        "c": vector_strip(one["c"][0], title["c"], "c"),
        "h_o": vector_strip(one["h_o"][0], title["h_o"], "hₒ"),
        "probs": probs_bar(one["probs"][0], class_names, one["logits"][0]),
    }


def _titles(trace: Trace) -> dict[str, str]:
    """The generic step figures' titles, in the current language."""
    return {
        "x": tr("Input x<sub>i</sub> (token × input feature)"),
        "h": tr("Dense layer h<sub>i</sub> (token × hidden unit)"),
        "similarity": tr("Similarity s(h<sub>i</sub>, h<sub>j</sub>), {similarity}",
                         similarity=trace.similarity),
        "scores": tr("Scores s<sub>ij</sub> = s / τ, τ = {temperature:g}",
                     temperature=trace.temperature),
        "values": tr("Attention values v<sub>i</sub>"),
        "c": tr("Pooled vector c = σ(Σ α<sub>i</sub> v<sub>i</sub>)"),
        "h_o": tr("Skip input h<sub>o</sub> = mean of h<sub>i</sub>"),
    }  # fmt: skip


ENTROPY_TITLE = N_("Row entropy H<sub>i</sub> = −Σ<sub>j</sub> a<sub>ij</sub> ln a<sub>ij</sub>")


def entropy_bars(entropies: dict[str, ArrayLike], tokens: Sequence[str]) -> go.Figure:
    """Entropy of each attention row (N,) per setting, as grouped bars, with log N dashed.

    0: query token i attends to one key only; log N: it attends to every key equally.
    """
    labels = [str(t) for t in tokens]
    n = len(labels)
    fig = go.Figure()
    for name, values in entropies.items():
        values = to_numpy(values).reshape(-1)
        check_labels("tokens", labels, values.shape[0])
        hover = [
            f"i = {i + 1}: {escape_label(t)}<br>H = {h:.4f}"
            for i, (t, h) in enumerate(zip(labels, values, strict=True))
        ]
        bar = go.Bar(x=list(range(n)), y=values.tolist(), name=escape_label(name), hovertext=hover)
        fig.add_trace(bar.update(hovertemplate="%{hovertext}<extra>%{fullData.name}</extra>"))
    uniform = float(np.log(max(n, 1)))
    fig.add_hline(y=uniform, line=dict(dash="dash", color=MUTED))
    fig.update_layout(
        title=dict(text=tr(ENTROPY_TITLE)),
        height=340,
        barmode="group",
        margin=dict(l=10, r=10, t=80, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0.0),
    )
    x_ticks = axis_ticks(labels, X_TICKS_MAX)
    fig.update_xaxes(**x_ticks, tickangle=tick_angle(len(x_ticks["tickvals"])))
    fig.update_yaxes(
        range=[0, max(uniform, 0.1) * 1.15],
        title_text=tr("nats (log N = {uniform:.2f})", uniform=uniform),
    )
    return fig
