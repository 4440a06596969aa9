"""Figures of training: loss and accuracy curves, the attention replay, the similarity sweep's
chart and the tuning history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..core.i18n import tr
from ..core.trace import ArrayLike, to_numpy
from .heatmaps import HIGHLIGHT, MUTED, escape_label
from .trace_plots import attention_heatmap

TRAIN_COLOR, VAL_COLOR = HIGHLIGHT, "#e8590c"
REPLAY_CONTROLS_PX = 70  # the replay's play button and slider sit this far below the plot area
# The slider gets a row of its own under the buttons: beside them, its current-value label (e.g.
# "step 120 · epoch 3") would run into Pause in a narrow column.
REPLAY_SLIDER_ROW_PX = 45


def training_curves(
    history: Sequence[Any], steps: Sequence[tuple[int, float]] = (), steps_per_epoch: int = 0
) -> go.Figure:
    """Loss (left) and accuracy (right) per epoch, training and validation side by side.

    `history`: EpochRecords; `steps`: (step, batch loss) pairs drawn faintly behind the loss,
    at fractional epochs step / steps_per_epoch. The gap between the two accuracy curves is
    overfitting: training accuracy climbs while validation stalls.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=(tr("Loss (cross-entropy)"), tr("Accuracy")))
    epochs = [r.epoch for r in history]
    if steps and steps_per_epoch:
        x = [s / steps_per_epoch for s, _ in steps]
        fig.add_trace(
            go.Scatter(x=x, y=[v for _, v in steps], name=tr("batch loss"), mode="lines",
                       line=dict(color=TRAIN_COLOR, width=1), opacity=0.25),
            row=1, col=1,
        )  # fmt: skip
    for col, field in ((1, "loss"), (2, "accuracy")):
        for split, color in (("train", TRAIN_COLOR), ("val", VAL_COLOR)):
            fig.add_trace(
                go.Scatter(
                    x=epochs, y=[getattr(r, f"{split}_{field}") for r in history],
                    name=tr("training") if split == "train" else tr("validation"),
                    mode="lines+markers", line=dict(color=color, width=2),
                    legendgroup=split, showlegend=col == 1,
                ),
                row=1, col=col,
            )  # fmt: skip
    fig.update_xaxes(title_text=tr("epoch"), rangemode="tozero")
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=2)
    fig.update_layout(
        height=340, margin=dict(l=10, r=10, t=60, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.12, xanchor="left", x=0.0),
    )  # fmt: skip
    return fig


def attention_replay(
    frames: Sequence[ArrayLike], frame_names: Sequence[str], tokens: Sequence[str]
) -> go.Figure:
    """An animated attention matrix: one frame per training snapshot, with play and a slider
    that run in the browser (no server round trip per frame). frames: (n, n) each."""
    if not frames:
        raise ValueError("no snapshots to replay")
    if len(frames) != len(frame_names):
        raise ValueError(f"{len(frames)} frames but {len(frame_names)} names")
    fig = attention_heatmap(frames[-1], tokens, title=tr("Attention a<sub>ij</sub> as it learns"))
    fig.data = fig.data[:1]  # the heatmap only: frames replace its z
    fig.frames = [
        go.Frame(data=[go.Heatmap(z=to_numpy(z).tolist())], name=str(k), traces=[0])
        for k, z in enumerate(frames)
    ]
    fig.data[0].z = to_numpy(frames[0]).tolist()
    play = dict(
        frame=dict(duration=120, redraw=True), fromcurrent=True, transition=dict(duration=0)
    )
    fig.update_layout(
        height=fig.layout.height + 150 + REPLAY_SLIDER_ROW_PX,
        # room for the token labels, then the buttons, then the slider
        margin=dict(l=10, r=10, t=50, b=150 + REPLAY_SLIDER_ROW_PX),
        updatemenus=[dict(
            type="buttons", direction="left", x=0.0, y=0, xanchor="left", yanchor="top",
            pad=dict(t=REPLAY_CONTROLS_PX),
            buttons=[
                dict(label="▶ Play", method="animate", args=[None, play]),
                dict(label="❚❚ Pause", method="animate",
                     args=[[None], dict(frame=dict(duration=0), mode="immediate")]),
            ],
        )],
        sliders=[dict(
            active=0, x=0.0, len=1.0, y=0, yanchor="top",
            pad=dict(t=REPLAY_CONTROLS_PX + REPLAY_SLIDER_ROW_PX),
            currentvalue=dict(prefix="", visible=True),
            steps=[
                dict(label=name, method="animate",
                     args=[[str(k)], dict(frame=dict(duration=0, redraw=True), mode="immediate")])
                for k, name in enumerate(frame_names)
            ],
        )],
    )  # fmt: skip
    return fig


def sweep_chart(table: Any) -> go.Figure:
    """Test accuracy, training time and attention entropy per similarity (a sweep's table)."""
    names = [str(s) for s in table["similarity"]]
    panels = (
        ("test_accuracy", tr("Test accuracy"), ".1%"),
        ("train_seconds", tr("Training time (s)"), ".1f"),
        ("attention_entropy", tr("Attention entropy (nats)"), ".2f"),
    )
    fig = make_subplots(rows=1, cols=3, subplot_titles=[title for _, title, _ in panels])
    for col, (column, _, fmt) in enumerate(panels, start=1):
        values = [float(v) for v in table[column]]
        best = max(values) if column == "test_accuracy" else None
        colors = [HIGHLIGHT if v == best else MUTED for v in values]
        fig.add_trace(
            go.Bar(x=names, y=values, marker_color=colors, texttemplate=f"%{{y:{fmt}}}",
                   textposition="outside", showlegend=False,
                   hovertemplate="%{x}: %{y:" + fmt + "}<extra></extra>"),
            row=1, col=col,
        )  # fmt: skip
    fig.update_yaxes(tickformat=".0%", range=[0, 1.1], row=1, col=1)
    fig.update_xaxes(tickangle=-30)
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def tune_history(table: Any) -> go.Figure:
    """Validation accuracy of every tuning trial in order, coloured by similarity, with the best
    so far as a line (pruned and failed trials have no accuracy and are not drawn)."""
    fig = go.Figure()
    numbers = [int(n) for n in table["number"]]
    values = [None if v is None or v != v else float(v) for v in table["value"]]
    best, line = -1.0, []
    for v in values:
        best = max(best, v) if v is not None else best
        line.append(best if best >= 0 else None)
    for similarity in dict.fromkeys(table["similarity"]):
        rows = [k for k, s in enumerate(table["similarity"]) if s == similarity]
        fig.add_trace(go.Scatter(
            x=[numbers[k] for k in rows], y=[values[k] for k in rows], mode="markers",
            name=escape_label(str(similarity)), marker=dict(size=10),
            customdata=[[str(table["state"].iloc[k]), int(table["hidden_dim"].iloc[k])]
                        for k in rows],
            hovertemplate="trial %{x}: %{y:.2%}<br>%{customdata[0]}, d = %{customdata[1]}"
                          "<extra>%{fullData.name}</extra>",
        ))  # fmt: skip
    fig.add_trace(go.Scatter(x=numbers, y=line, mode="lines", name=tr("best so far"),
                             line=dict(color="black", dash="dot", shape="hv")))  # fmt: skip
    fig.update_layout(
        title=dict(text=tr("The search: validation accuracy of each trial")), height=360,
        margin=dict(l=10, r=10, t=50, b=10), xaxis_title=tr("trial"), yaxis_tickformat=".0%",
    )  # fmt: skip
    return fig
