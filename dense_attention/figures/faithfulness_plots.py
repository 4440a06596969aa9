"""Figures of the faithfulness views: the five importance methods side by side, their Kendall τ
matrix, the deletion curves, ERASER's comprehensiveness and sufficiency, and the adversarial α
beside the model's. They take the explain layer's results and return plotly figures."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..core.i18n import tr
from ..explain.adversarial import LN2, Adversary
from ..explain.eraser import Eraser
from ..explain.faithfulness import METHODS, RANDOM, Faithfulness

__all__ = ["METHOD_LABELS", "adversarial_bars", "deletion_chart", "eraser_chart",
           "importance_bars", "tau_heatmap"]  # fmt: skip

METHOD_LABELS = {
    "alpha": "α (pooling weight)",
    "received": "attention received",
    "grad_x_input": "gradient × input",
    "integrated_gradients": "Integrated Gradients",
    "occlusion": "leave one out",
    RANDOM: "random order",
}
ROW_PX = 18  # height of one token's row in the side-by-side bars
TOKENS_SHOWN_MAX = 64  # label every token up to this many


def _scaled(values: np.ndarray) -> np.ndarray:
    """Values / max |value|, so five methods on different scales share one axis [-1, 1]."""
    top = float(np.abs(values).max(initial=0.0))
    return values / top if top > 0 else values


def importance_bars(result: Faithfulness) -> go.Figure:
    """One column of horizontal bars per method, one row per token (scaled to the method's
    largest |score|; the hover shows the raw score)."""
    labels = [f"{k + 1} {html.escape(t, quote=False)}" for k, t in enumerate(result.tokens)]
    fig = make_subplots(
        rows=1,
        cols=len(METHODS),
        shared_yaxes=True,
        subplot_titles=[METHOD_LABELS[m] for m in METHODS],
        horizontal_spacing=0.02,
    )
    for col, method in enumerate(METHODS, start=1):
        raw = np.asarray(result.importance[method], dtype=float)
        bar = go.Bar(
            x=_scaled(raw), y=list(range(len(labels))), orientation="h", showlegend=False,
            customdata=raw, text=labels, textposition="none",
            marker_color=np.where(raw >= 0, "#3b5bdb", "#e8590c"),
            hovertemplate="%{text}<br>score %{customdata:.4g}<extra>" + METHOD_LABELS[method]
            + "</extra>",
        )  # fmt: skip
        fig.add_trace(bar, row=1, col=col)
    step = max(1, -(-len(labels) // TOKENS_SHOWN_MAX))
    ticks = list(range(0, len(labels), step))
    fig.update_yaxes(tickvals=ticks, ticktext=[labels[k] for k in ticks], autorange="reversed")
    fig.update_xaxes(range=[-1.05, 1.05], showticklabels=False, zeroline=True)
    fig.update_annotations(font_size=12)
    height = int(min(1400, max(260, ROW_PX * len(labels) + 120)))
    title = tr("Token importance by five methods (each scaled to its largest |score|)")
    return fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=90, b=10))


def tau_heatmap(result: Faithfulness) -> go.Figure:
    """Kendall τ between every pair of methods (blank where undefined: ties only)."""
    tau = result.tau_matrix()
    names = [METHOD_LABELS[m] for m in METHODS]
    text = [["" if np.isnan(v) else f"{v:.2f}" for v in row] for row in tau]
    heat = go.Heatmap(
        z=np.where(np.isnan(tau), None, tau).tolist(), x=names, y=names, zmin=-1, zmax=1,
        colorscale="RdBu_r", text=text, texttemplate="%{text}", colorbar=dict(title="τ"),
        hovertemplate="%{y} vs %{x}: τ = %{z:.3f}<extra></extra>",
    )  # fmt: skip
    fig = go.Figure(heat)
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(automargin=True, tickangle=-30)
    title = tr("Do the methods agree? Kendall τ of their token rankings")
    return fig.update_layout(title=title, height=420, margin=dict(l=10, r=10, t=60, b=10))


def deletion_chart(result: Faithfulness) -> go.Figure:
    """p(predicted class) as tokens are removed in each method's order (and at random); AOPC
    in the legend: the faster p falls, the more faithful the order."""
    fig = go.Figure()
    predicted = result.classes[result.predicted]
    for method, curve in result.deletion.items():
        dash = "dash" if method == RANDOM else "solid"
        fig.add_scatter(
            x=curve.fractions, y=curve.probs, mode="lines+markers", line=dict(dash=dash),
            name=tr(
                "{get} (AOPC {aopc:.2f})",
                get=METHOD_LABELS.get(method, method), aopc=curve.aopc,
            ),
            hovertemplate="%{x:.0%} removed: p = %{y:.3f}<extra>%{fullData.name}</extra>",
        )  # fmt: skip
    fig.update_xaxes(title_text=tr("fraction of tokens removed"), tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title_text=f"p({html.escape(predicted, quote=False)})", range=[0, 1.02])
    title = tr("Deletion curves: remove the most important tokens first")
    return fig.update_layout(title=title, height=420, margin=dict(l=10, r=10, t=60, b=10))


def eraser_chart(result: Eraser) -> go.Figure:
    """Comprehensiveness (left) and sufficiency (right) against k% for each method; AOPC in the
    legend. Good rationales: high comprehensiveness, low sufficiency."""
    titles = [
        tr("comprehensiveness: p − p(without top k%) ↑"),
        tr("sufficiency: p − p(only top k%) ↓"),
    ]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles)
    x = [f"{k}%" for k in result.percents]
    comp, suff = result.aopc_comprehensiveness, result.aopc_sufficiency
    for i, method in enumerate(result.comprehensiveness):
        color = f"hsl({i * 360 // len(result.comprehensiveness)}, 60%, 45%)"
        dash = "dash" if method == RANDOM else "solid"
        name = tr(
            "{get} (AOPC {comp:.2f} / {suff:.2f})",
            get=METHOD_LABELS.get(method, method),
            comp=comp[method],
            suff=suff[method],
        )
        for col, values in ((1, result.comprehensiveness[method]), (2, result.sufficiency[method])):
            fig.add_scatter(
                x=x, y=values, mode="lines+markers", name=name, legendgroup=method,
                showlegend=col == 1, line=dict(color=color, dash=dash), customdata=result.counts,
                hovertemplate="top %{x} (%{customdata} tokens): %{y:+.3f}<extra>"
                + METHOD_LABELS.get(method, method) + "</extra>", row=1, col=col,
            )  # fmt: skip
    fig.update_xaxes(title_text=tr("k (share of tokens, rounded up)"))
    fig.update_yaxes(title_text="Δp of the predicted class", col=1)
    title = tr("ERASER: remove (mask) the top k% tokens, or keep only them")
    return fig.update_layout(title=title, height=440, margin=dict(l=10, r=10, t=80, b=10))


def adversarial_bars(tokens: tuple[str, ...], found: Adversary) -> go.Figure:
    """The model's α and the adversarial α' per token, side by side."""
    labels = [f"{k + 1} {html.escape(t, quote=False)}" for k, t in enumerate(tokens)]
    fig = go.Figure()
    for name, values, color in ((tr("model's α"), found.alpha, "#3b5bdb"),
                                (tr("adversarial α'"), found.adversarial, "#e8590c")):  # fmt: skip
        fig.add_bar(x=list(range(len(labels))), y=values, name=name, marker_color=color,
                    text=labels, textposition="none",
                    hovertemplate="%{text}: %{y:.3f}<extra>" + name + "</extra>")  # fmt: skip
    step = max(1, -(-len(labels) // TOKENS_SHOWN_MAX))
    ticks = list(range(0, len(labels), step))
    fig.update_xaxes(tickvals=ticks, ticktext=[labels[k] for k in ticks], tickangle=-60)
    fig.update_yaxes(title_text=tr("pooling weight"), rangemode="tozero")
    title = (tr(
        "Another attention, the same answer: JSD {jsd:.3f} of ln 2 = {LN2:.3f}, "
        "TV(p, p') {tv:.4f} ≤ {epsilon:g}",
        jsd=found.jsd, LN2=LN2, tv=found.tv, epsilon=found.epsilon,
    ))  # fmt: skip
    return fig.update_layout(title=title, barmode="group", height=400,
                             margin=dict(l=10, r=10, t=60, b=10))  # fmt: skip
