"""Pure plotly figure builders for the intermediates of a Trace; no Streamlit here.

Matrices use index positions on their axes with the labels as tick text, so duplicate tokens
(two "the") stay distinct cells. Everything the figures carry is a plain list, so their JSON
(what Streamlit ships to the browser and what tests read back) holds the numbers, not base64.
Indices shown to people are 1-based, like the formulas; `customdata` of clickable cells is 0-based.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from .trace import Trace

ArrayLike = np.ndarray | torch.Tensor | Sequence[float] | Sequence[Sequence[float]]

DIVERGING = "RdBu_r"  # blue negative, white zero, red positive
SEQUENTIAL = "Blues"  # weights in [0, 1]
HIGHLIGHT = "#3b5bdb"  # the app's primary colour
MUTED = "#adb5bd"
ANNOTATE_MAX = 12  # write the value in every cell up to this many rows and columns
TICKS_MAX = 64  # label every row/column up to this many, else every k-th
CELL_PX = 42  # target height of one matrix row in pixels


def to_numpy(values: ArrayLike) -> np.ndarray:
    """A float64 numpy copy of a tensor, array or nested list."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def _escape(label: str) -> str:
    # Plotly renders a few HTML tags in labels and hover text: show tokens such as "<b>" as text.
    return html.escape(str(label), quote=False)


def _check_labels(name: str, labels: Sequence[str], size: int) -> list[str]:
    labels = [str(label) for label in labels]
    if len(labels) != size:
        raise ValueError(f"{name} has {len(labels)} labels but the data has {size} entries")
    return labels


def _ticks(labels: list[str]) -> dict:
    """Axis settings putting label k at position k (every k-th label for long axes)."""
    step = max(1, -(-len(labels) // TICKS_MAX))
    positions = list(range(0, len(labels), step))
    return dict(
        tickmode="array",
        tickvals=positions,
        ticktext=[_escape(labels[k]) for k in positions],
        showgrid=False,
        zeroline=False,
    )


def _height(rows: int) -> int:
    return int(min(720, max(220, CELL_PX * rows + 140)))


def _hover_text(x_labels: list[str], y_labels: list[str], row: str, col: str) -> list[list[str]]:
    return [
        [
            f"{row} = {r + 1}: {_escape(y)}<br>{col} = {c + 1}: {_escape(x)}"
            for c, x in enumerate(x_labels)
        ]
        for r, y in enumerate(y_labels)
    ]


def _cell_overlay(text: list[list[str]], rows: int, cols: int, height: int) -> go.Scatter:
    """Invisible square markers at cell centres: clicking one selects [i, j] in Streamlit."""
    cells = [(r, c) for r in range(rows) for c in range(cols)]
    size = max(6, min(40, 0.6 * (height - 140) / rows))
    return go.Scatter(
        x=[c for _, c in cells],
        y=[r for r, _ in cells],
        mode="markers",
        marker=dict(symbol="square", size=size, opacity=0),
        customdata=[[r, c] for r, c in cells],
        text=[text[r][c] for r, c in cells],
        hovertemplate="%{text}<extra></extra>",
        showlegend=False,
        name="cells",
    )


def matrix_heatmap(
    z: ArrayLike,
    x_labels: Sequence[str],
    y_labels: Sequence[str],
    title: str,
    colorscale: str = DIVERGING,
    zmid: float | None = None,
    clickable: bool = False,
    *,
    highlight: tuple[int, int] | None = None,
    zmin: float | None = None,
    zmax: float | None = None,
    row_name: str = "i",
    col_name: str = "j",
) -> go.Figure:
    """Heatmap of a (rows, cols) matrix drawn like a matrix: row 1 at the top.

    z: token x token (scores, attn) or token x feature (x, h, values). `highlight` (0-based
    row, col) outlines one cell. `clickable` adds an invisible marker per cell whose customdata
    is [row, col] (0-based), for `st.plotly_chart(on_select="rerun", selection_mode="points")`.
    """
    z = to_numpy(z)
    if z.ndim != 2:
        raise ValueError(f"z must be a 2-D matrix, got shape {z.shape}")
    rows, cols = z.shape
    y_labels = _check_labels("y_labels", y_labels, rows)
    x_labels = _check_labels("x_labels", x_labels, cols)
    text = _hover_text(x_labels, y_labels, row_name, col_name)
    height = _height(rows)
    heatmap = go.Heatmap(
        z=z.tolist(),
        x=list(range(cols)),
        y=list(range(rows)),
        colorscale=colorscale,
        zmid=zmid,
        zmin=zmin,
        zmax=zmax,
        text=text,
        hovertemplate="%{text}<br>value = %{z:.4f}<extra></extra>",
        hoverinfo="skip" if clickable else None,
        xgap=1,
        ygap=1,
    )
    if rows <= ANNOTATE_MAX and cols <= ANNOTATE_MAX:
        heatmap.update(texttemplate="%{z:.2f}", textfont=dict(size=11))
    fig = go.Figure(heatmap)
    if clickable:
        fig.add_trace(_cell_overlay(text, rows, cols, height))
    if highlight is not None:
        r, c = highlight
        fig.add_shape(
            type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
            line=dict(color="black", width=3),
        )  # fmt: skip
    fig.update_layout(
        title=dict(text=title),
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
        hovermode="closest",
        clickmode="event+select" if clickable else "event",
    )
    fig.update_xaxes(**_ticks(x_labels), range=[-0.5, cols - 0.5], tickangle=-45 if cols > 8 else 0)
    fig.update_yaxes(**_ticks(y_labels), range=[rows - 0.5, -0.5])  # reversed: row 1 on top
    return fig


def vector_strip(vec: ArrayLike, title: str, row_label: str = "") -> go.Figure:
    """A d-vector (c, h_o, pooled) as a 1 x d heatmap, centred at zero."""
    vec = to_numpy(vec)
    if vec.ndim == 2 and vec.shape[0] == 1:
        vec = vec[0]
    if vec.ndim != 1:
        raise ValueError(f"vec must be a vector (d,) or (1, d), got shape {vec.shape}")
    labels = [str(k + 1) for k in range(vec.shape[0])]
    fig = matrix_heatmap(
        vec[None, :], labels, [row_label], title, zmid=0.0, row_name="row", col_name="component"
    )
    fig.update_layout(height=190)
    return fig


def _bar(
    values: np.ndarray, labels: list[str], title: str, colors: list[str], hover: list[str]
) -> go.Figure:
    fig = go.Figure(
        go.Bar(
            x=list(range(len(labels))),
            y=values.tolist(),
            marker_color=colors,
            text=[f"{v:.2f}" for v in values],
            textposition="outside",
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
        )
    )
    fig.update_layout(
        title=dict(text=title), height=300, margin=dict(l=10, r=10, t=50, b=10), showlegend=False
    )
    fig.update_xaxes(**_ticks(labels))
    fig.update_yaxes(range=[0, max(1.0, float(values.max(initial=0.0))) * 1.15])
    return fig


def alpha_bar(
    alpha: ArrayLike, tokens: Sequence[str], pool_scores: ArrayLike | None = None
) -> go.Figure:
    """Pooling weights alpha_i per token (N,), with the scores e_i in the hover when given."""
    alpha = to_numpy(alpha).reshape(-1)
    tokens = _check_labels("tokens", tokens, alpha.shape[0])
    e = None if pool_scores is None else to_numpy(pool_scores).reshape(-1)
    if e is not None and e.shape != alpha.shape:
        raise ValueError(f"pool_scores has {e.shape[0]} entries but alpha has {alpha.shape[0]}")
    hover = [
        f"i = {i + 1}: {_escape(t)}<br>α = {a:.4f}" + ("" if e is None else f"<br>e = {e[i]:.4f}")
        for i, (t, a) in enumerate(zip(tokens, alpha, strict=True))
    ]
    top = np.isclose(alpha, alpha.max(initial=0.0), rtol=1e-6)  # ties: every top token
    colors = [HIGHLIGHT if is_top else MUTED for is_top in top]
    return _bar(alpha, tokens, "Pooling weights α<sub>i</sub>", colors, hover)


def probs_bar(
    probs: ArrayLike, class_names: Sequence[str], logits: ArrayLike | None = None
) -> go.Figure:
    """Class probabilities y = softmax(z) (C,), the winning class highlighted."""
    probs = to_numpy(probs).reshape(-1)
    names = _check_labels("class_names", class_names, probs.shape[0])
    z = None if logits is None else to_numpy(logits).reshape(-1)
    if z is not None and z.shape != probs.shape:
        raise ValueError(f"logits has {z.shape[0]} entries but probs has {probs.shape[0]}")
    hover = [
        f"{_escape(n)}<br>y = {p:.4f}" + ("" if z is None else f"<br>z = {z[k]:.4f}")
        for k, (n, p) in enumerate(zip(names, probs, strict=True))
    ]
    winner = int(probs.argmax())
    colors = [HIGHLIGHT if k == winner else MUTED for k in range(probs.shape[0])]
    return _bar(probs, names, "Output probabilities y = softmax(z)", colors, hover)


def token_shading_html(tokens: Sequence[str], weights: ArrayLike) -> str:
    """Tokens as HTML spans shaded by weight (largest = full colour); text is HTML-escaped."""
    weights = to_numpy(weights).reshape(-1)
    tokens = _check_labels("tokens", tokens, weights.shape[0])
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError("weights must be finite and non-negative")
    top = float(weights.max(initial=0.0)) or 1.0
    spans = [
        f'<span title="{w:.4f}" style="background-color: rgba(59, 91, 219, {w / top:.3f}); '
        f"color: {'white' if w / top > 0.55 else 'inherit'}; padding: 0.1em 0.3em; "
        f'margin: 0 0.1em; border-radius: 0.3em;">{html.escape(t)}</span>'
        for t, w in zip(tokens, weights, strict=True)
    ]
    return '<div style="line-height: 2;">' + " ".join(spans) + "</div>"


def attention_heatmap(
    attn: ArrayLike,
    tokens: Sequence[str],
    cell: tuple[int, int] | None = None,
    clickable: bool = False,
    title: str = "Attention a<sub>ij</sub> (row i: query, column j: key)",
) -> go.Figure:
    """The (N, N) attention matrix on a fixed 0..1 colour scale, cell (i, j) outlined."""
    return matrix_heatmap(
        attn, tokens, tokens, title, SEQUENTIAL, None, clickable, highlight=cell, zmin=0.0, zmax=1.0
    )


def trace_figures(
    trace: Trace,
    tokens: Sequence[str],
    class_names: Sequence[str],
    b: int = 0,
    cell: tuple[int, int] | None = None,
) -> dict[str, go.Figure]:
    """One figure per step of DESIGN.md's table for example `b` (cropped to its real tokens).

    Keys: x, h, similarity, scores, attn, values, alpha, c, h_o, probs. `cell` (0-based i, j)
    is outlined in the similarity, scores and attention matrices.
    """
    one = trace.example(b).numpy()
    tokens = _check_labels("tokens", tokens, one["attn"].shape[1])
    features = [str(k + 1) for k in range(one["h"].shape[2])]
    inputs = [str(k + 1) for k in range(one["x"].shape[2])]

    def by_feature(z: np.ndarray, cols: list[str], title: str) -> go.Figure:
        return matrix_heatmap(z, cols, tokens, title, zmid=0.0, col_name="component")

    def by_token(z: np.ndarray, title: str, **kw) -> go.Figure:
        return matrix_heatmap(z, tokens, tokens, title, highlight=cell, **kw)

    return {
        "x": by_feature(one["x"][0], inputs, "Input x<sub>i</sub> (token × input feature)"),
        "h": by_feature(one["h"][0], features, "Dense layer h<sub>i</sub> (token × hidden unit)"),
        "similarity": by_token(
            one["scores"][0] * trace.temperature,
            f"Similarity s(h<sub>i</sub>, h<sub>j</sub>), {trace.similarity}",
            zmid=0.0,
        ),
        "scores": by_token(
            one["scores"][0], f"Scores s<sub>ij</sub> = s / τ, τ = {trace.temperature:g}", zmid=0.0
        ),
        "attn": attention_heatmap(one["attn"][0], tokens, cell),
        "values": by_feature(one["values"][0], features, "Attention values v<sub>i</sub>"),
        "alpha": alpha_bar(one["alpha"][0], tokens, one["pool_scores"][0]),
        "c": vector_strip(one["c"][0], "Pooled vector c = σ(Σ α<sub>i</sub> v<sub>i</sub>)", "c"),
        "h_o": vector_strip(
            one["h_o"][0], "Skip input h<sub>o</sub> = mean of h<sub>i</sub>", "hₒ"
        ),
        "probs": probs_bar(one["probs"][0], class_names, one["logits"][0]),
    }
