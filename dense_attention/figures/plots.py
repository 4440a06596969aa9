"""Pure plotly figure builders for the intermediates of a Trace; no Streamlit here.

Matrices use index positions on their axes with the labels as tick text, so duplicate tokens
(two "the") stay distinct cells. Everything the figures carry is a plain list, so their JSON
(what Streamlit ships to the browser and what tests read back) holds the numbers, not base64.
Indices shown to people are 1-based, like the formulas; `customdata` of clickable cells is 0-based.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..core.trace import ArrayLike, Trace, to_numpy
from ..inputs.pictures import patch_boxes

DIVERGING = "RdBu_r"  # blue negative, white zero, red positive
SEQUENTIAL = "Blues"  # weights in [0, 1]
HIGHLIGHT = "#3b5bdb"  # the app's primary colour
MUTED = "#adb5bd"
ANNOTATE_MAX = 12  # write the value in every cell up to this many rows and columns
TICKS_MAX = 64  # label every row/column up to this many, else every k-th
FEATURE_TICKS_MAX = 16  # feature axes (components 1..d) are numbered: fewer labels stay legible
X_TICKS_MAX = 24  # token labels side by side along a chart's width, before they overlap
TICK_PX = 12  # vertical pixels one row label needs
CELL_PX = 42  # target height of one matrix row in pixels
# Above this many cells a heatmap has no per-cell hover text and sends z as float32 binary:
# a 512-token attention matrix would otherwise take seconds to build and ~20 MB of JSON.
HOVER_CELLS_MAX = 64 * 64
# Token x feature matrices (x, h, v, c, h_o) always go compact: float32 binary z, no per-cell
# hover strings (the hover names i and the component from 1-based coordinates instead). The
# Input x of a MiniLM sentence (15 x 384) was 251 KB of JSON per rerun that way, 21 KB this way.
COMPACT_COLUMNS = "component"
ROBUST_PERCENTILES = (2.0, 98.0)  # the input x's colour range: a few outliers do not wash it out


def _escape(label: str) -> str:
    # Plotly renders a few HTML tags in labels and hover text: show tokens such as "<b>" as text.
    return html.escape(str(label), quote=False)


def escape_label(label: str) -> str:
    """A user string (class name, file name) for a plotly title: its tags shown, not rendered
    (plotly renders <a href>, <b>, <br> in titles)."""
    return _escape(label)


def _check_labels(name: str, labels: Sequence[str], size: int) -> list[str]:
    labels = [str(label) for label in labels]
    if len(labels) != size:
        raise ValueError(f"{name} has {len(labels)} labels but the data has {size} entries")
    return labels


def _x_angle(shown: int) -> int:
    """Upright for a few labels, slanted for more, vertical (the narrowest) for many."""
    return 0 if shown <= 8 else -45 if shown <= 16 else -90


def _ticks(labels: list[str], limit: int = TICKS_MAX, start: int = 0) -> dict:
    """Axis settings putting label k at position start + k (every k-th label for long axes)."""
    step = max(1, -(-len(labels) // limit))
    positions = list(range(0, len(labels), step))
    return dict(
        tickmode="array",
        tickvals=[start + k for k in positions],
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
    x_hover: Sequence[str] | None = None,
    y_hover: Sequence[str] | None = None,
) -> go.Figure:
    """Heatmap of a (rows, cols) matrix drawn like a matrix: row 1 at the top.

    z: token x token (scores, attn) or token x feature (x, h, values). `x_hover`/`y_hover`
    name columns/rows in the hover text when it should say more than the axis labels (e.g.
    "[UNK] (Ωμέγα)"). `highlight` (0-based row, col) outlines one cell. `clickable` adds an
    invisible marker per cell whose customdata is [row, col] (0-based), for
    `st.plotly_chart(on_select="rerun", selection_mode="points")`.
    """
    z = to_numpy(z)
    if z.ndim != 2:
        raise ValueError(f"z must be a 2-D matrix, got shape {z.shape}")
    rows, cols = z.shape
    y_labels = _check_labels("y_labels", y_labels, rows)
    x_labels = _check_labels("x_labels", x_labels, cols)
    large = rows * cols > HOVER_CELLS_MAX
    if large and clickable:
        raise ValueError(f"a clickable matrix has at most {HOVER_CELLS_MAX} cells")
    features = col_name == COMPACT_COLUMNS
    text = None
    if not (large or features):  # a compact token x feature heatmap has one hover template
        x_names = _check_labels("x_hover", x_hover, cols) if x_hover is not None else x_labels
        y_names = _check_labels("y_hover", y_hover, rows) if y_hover is not None else y_labels
        text = _hover_text(x_names, y_names, row_name, col_name)
    height = _height(rows)
    colours = dict(colorscale=colorscale, zmid=zmid, zmin=zmin, zmax=zmax)
    if features:
        heatmap = _compact_heatmap(z, row_name, col_name, **colours)
    else:
        heatmap = _heatmap(z, text, clickable, **colours)
    traces = [heatmap, _cell_overlay(text, rows, cols, height)] if clickable else [heatmap]
    shapes = [] if highlight is None else [_outline(*highlight)]
    # One layout, validated once: updating the axes one call at a time took most of the ~20 ms
    # a figure cost, and a live setting change builds eight of them.
    layout = dict(
        title=dict(text=title),
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
        hovermode="closest",
        clickmode="event+select" if clickable else "event",
        shapes=shapes,
        **_matrix_axes(x_labels, y_labels, height, features=features),
    )
    return go.Figure(traces, layout)


def _outline(r: int, c: int) -> dict[str, Any]:
    """A black frame around cell (r, c) (0-based)."""
    return dict(
        type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
        line=dict(color="black", width=3),
    )  # fmt: skip


def _compact_heatmap(z: np.ndarray, row_name: str, col_name: str, **colours: Any) -> go.Heatmap:
    """A token x feature matrix at 1-based coordinates (row i at y = i, component k at x = k),
    z as float32 binary, one hover template instead of a string per cell."""
    rows, cols = z.shape
    heatmap = go.Heatmap(
        z=z.astype(np.float32),
        x0=1,
        dx=1,
        y0=1,
        dy=1,
        **colours,
        hovertemplate=f"{row_name} = %{{y}}<br>{col_name} = %{{x}}<br>value = %{{z:.4f}}"
        "<extra></extra>",
        xgap=1 if cols <= TICKS_MAX else 0,
        ygap=1 if rows <= TICKS_MAX else 0,
    )
    if rows <= ANNOTATE_MAX and cols <= ANNOTATE_MAX:
        heatmap.update(texttemplate="%{z:.2f}", textfont=dict(size=11))
    return heatmap


def _heatmap(
    z: np.ndarray, text: list[list[str]] | None, clickable: bool, **colours: Any
) -> go.Heatmap:
    """The matrix's cells, valued in every cell up to ANNOTATE_MAX; `colours`: colorscale, zmid,
    zmin, zmax. Large matrices (no hover `text`) go as float32 binary without cell gaps."""
    rows, cols = z.shape
    large = text is None
    heatmap = go.Heatmap(
        z=z.astype(np.float32) if large else z.tolist(),
        x=list(range(cols)),
        y=list(range(rows)),
        **colours,
        text=text,
        hovertemplate=("" if large else "%{text}<br>") + "value = %{z:.4f}<extra></extra>",
        hoverinfo="skip" if clickable else None,
        xgap=0 if large else 1,
        ygap=0 if large else 1,
    )
    if rows <= ANNOTATE_MAX and cols <= ANNOTATE_MAX:
        heatmap.update(texttemplate="%{z:.2f}", textfont=dict(size=11))
    return heatmap


def _matrix_axes(
    x_labels: list[str], y_labels: list[str], height: int, features: bool
) -> dict[str, dict]:
    """The layout's xaxis and yaxis: columns and rows labelled (as many as fit), row 1 at the
    top; numbered `features` upright (their cells sit at 1-based coordinates, see
    _compact_heatmap)."""
    start = 1 if features else 0
    if features:  # numbered features: fewer, upright labels
        xaxis = dict(_ticks(x_labels, FEATURE_TICKS_MAX, start), tickangle=0)
    else:
        x_ticks = _ticks(x_labels, X_TICKS_MAX)
        xaxis = dict(x_ticks, tickangle=_x_angle(len(x_ticks["tickvals"])))
    xaxis["range"] = [start - 0.5, start + len(x_labels) - 0.5]
    y_ticks = _ticks(y_labels, min(TICKS_MAX, max(1, (height - 140) // TICK_PX)), start)
    rows = len(y_labels)
    yaxis = dict(y_ticks, range=[start + rows - 0.5, start - 0.5])  # row 1 on top
    return {"xaxis": xaxis, "yaxis": yaxis}


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
    bar = go.Bar(
        x=list(range(len(labels))),
        y=values.tolist(),
        marker_color=colors,
        text=[f"{v:.2f}" for v in values] if len(labels) <= X_TICKS_MAX else None,
        textposition="outside",
        hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
    )
    x_ticks = _ticks(labels, X_TICKS_MAX)
    layout = dict(
        title=dict(text=title),
        height=300,
        margin=dict(l=10, r=10, t=50, b=10),
        showlegend=False,
        xaxis=dict(x_ticks, tickangle=_x_angle(len(x_ticks["tickvals"]))),
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
    tokens = _check_labels("tokens", tokens, alpha.shape[0])
    names = _check_labels("hover", hover, alpha.shape[0]) if hover is not None else tokens
    e = None if pool_scores is None else to_numpy(pool_scores).reshape(-1)
    if e is not None and e.shape != alpha.shape:
        raise ValueError(f"pool_scores has {e.shape[0]} entries but alpha has {alpha.shape[0]}")
    hover = [
        f"i = {i + 1}: {_escape(t)}<br>α = {a:.4f}" + ("" if e is None else f"<br>e = {e[i]:.4f}")
        for i, (t, a) in enumerate(zip(names, alpha, strict=True))
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
    hover: Sequence[str] | None = None,
) -> go.Figure:
    """The (N, N) attention matrix on a fixed 0..1 colour scale, cell (i, j) outlined; `hover`
    names the tokens in the hover text (default: `tokens`).

    Past TICKS_MAX tokens the scale ends at the largest weight instead: spread over hundreds of
    keys, weights are small and a 0..1 scale would show a blank square.
    """
    attn = to_numpy(attn)
    zmax = 1.0 if attn.shape[-1] <= TICKS_MAX else None
    return matrix_heatmap(
        attn,
        tokens,
        tokens,
        title,
        SEQUENTIAL,
        None,
        clickable,
        highlight=cell,
        zmin=0.0,
        zmax=zmax,
        x_hover=hover,
        y_hover=hover,
    )


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
    rows = dict(col_name="component", y_hover=hover)
    if m == 0:
        return matrix_heatmap(z, features, tokens, title, zmid=0.0, **rows)
    fig = matrix_heatmap(z, features, tokens, title, zmin=-m, zmax=m, **rows)
    low, high = (_ordinal(p) for p in ROBUST_PERCENTILES)
    label = f"±{m:.3g}<br>({low}–{high}<br>percentile of x)"
    return fig.update_traces(colorbar=dict(title=dict(text=label)), selector=dict(type="heatmap"))


SMALL_TICKS_MAX = 6  # labels per axis of a small multiple (a third of the page wide)


def small_attention_heatmap(attn: ArrayLike, tokens: Sequence[str], title: str) -> go.Figure:
    """attention_heatmap for a small multiple: at most SMALL_TICKS_MAX labels per axis, upright,
    no colour bar and no cell values (16 labels such as r0c0..r3c3 overlapped in a third of the
    page)."""
    tokens = [str(t) for t in tokens]
    fig = attention_heatmap(attn, tokens, title=title)
    fig.update_traces(showscale=False, texttemplate=None, selector={"type": "heatmap"})
    fig.update_xaxes(**_ticks(tokens, SMALL_TICKS_MAX), tickangle=0)
    fig.update_yaxes(**_ticks(tokens, SMALL_TICKS_MAX))
    return fig


def trace_figures(
    trace: Trace,
    tokens: Sequence[str],
    class_names: Sequence[str],
    b: int = 0,
    cell: tuple[int, int] | None = None,
    hover: Sequence[str] | None = None,
) -> dict[str, go.Figure]:
    """One figure per step of DESIGN.md's table for example `b` (cropped to its real tokens).

    Keys: x, h, similarity, scores, attn, values, alpha, c, h_o, probs. `cell` (0-based i, j)
    is outlined in the similarity, scores and attention matrices. `hover` names the tokens in
    hover texts where the axis label says less (Explanation.hover_tokens: "[UNK] (Ωμέγα)").
    """
    one = trace.example(b).numpy()
    tokens = _check_labels("tokens", tokens, one["attn"].shape[1])
    features = [str(k + 1) for k in range(one["h"].shape[2])]
    names = dict(y_hover=hover)

    def by_feature(z: np.ndarray, cols: list[str], title: str) -> go.Figure:
        return matrix_heatmap(z, cols, tokens, title, zmid=0.0, col_name="component", **names)

    def by_token(z: np.ndarray, title: str, **kw) -> go.Figure:
        return matrix_heatmap(
            z, tokens, tokens, title, highlight=cell, x_hover=hover, **names, **kw
        )

    x_title = "Input x<sub>i</sub> (token × input feature)"
    return {
        "x": input_heatmap(one["x"][0], tokens, x_title, hover),
        "h": by_feature(one["h"][0], features, "Dense layer h<sub>i</sub> (token × hidden unit)"),
        "similarity": by_token(
            one["scores"][0] * trace.temperature,
            f"Similarity s(h<sub>i</sub>, h<sub>j</sub>), {trace.similarity}",
            zmid=0.0,
        ),
        "scores": by_token(
            one["scores"][0], f"Scores s<sub>ij</sub> = s / τ, τ = {trace.temperature:g}", zmid=0.0
        ),
        "attn": attention_heatmap(one["attn"][0], tokens, cell, hover=hover),
        "values": by_feature(one["values"][0], features, "Attention values v<sub>i</sub>"),
        "alpha": alpha_bar(one["alpha"][0], tokens, one["pool_scores"][0], hover),
        "c": vector_strip(one["c"][0], "Pooled vector c = σ(Σ α<sub>i</sub> v<sub>i</sub>)", "c"),
        "h_o": vector_strip(
            one["h_o"][0], "Skip input h<sub>o</sub> = mean of h<sub>i</sub>", "hₒ"
        ),
        "probs": probs_bar(one["probs"][0], class_names, one["logits"][0]),
    }


# ---------------------------------------------------------------- images
# Pixels are (H, W, C) floats in [0, 1], C = 1 or 3, as images.resized_input gives them. Pixel
# (row r, column c) is centred at x = c, y = r; a patch box is (top, left, bottom, right) with
# bottom and right exclusive, as inputs.pictures.patch_boxes gives them.

# Low weights almost transparent (the picture shows through), high weights opaque red.
OVERLAY_SCALE = [
    [0.0, "rgba(255, 255, 178, 0.0)"],
    [0.5, "rgba(253, 141, 60, 0.5)"],
    [1.0, "rgba(189, 0, 38, 0.85)"],
]
IMAGE_PX = 380  # height of an image figure
PATCH_TEXT_MAX = 64  # write labels or values inside the patches up to this many patches

Box = tuple[int, int, int, int]


def _pixels(pixels: ArrayLike) -> np.ndarray:
    pixels = to_numpy(pixels)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3) or 0 in pixels.shape:
        raise ValueError(f"pixels must be (H, W), (H, W, 1) or (H, W, 3), got {pixels.shape}")
    if not np.isfinite(pixels).all():
        raise ValueError("pixels must be finite")
    return pixels


def _rgb_image(pixels: np.ndarray, hover: list[list[str]]) -> go.Image:
    """go.Image needs RGB: gray is repeated to three channels."""
    rgb = np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    rgb = np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb
    return go.Image(
        z=rgb.tolist(), hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", name="input"
    )


def _box_index(boxes: Sequence[Box], height: int, width: int) -> np.ndarray:
    """(H, W) int: the patch each pixel belongs to, -1 where none."""
    index = np.full((height, width), -1, dtype=np.int64)
    for k, (top, left, bottom, right) in enumerate(boxes):
        if not (0 <= top < bottom <= height and 0 <= left < right <= width):
            raise ValueError(f"patch box {k} {(top, left, bottom, right)} is outside the image")
        index[top:bottom, left:right] = k
    return index


def patch_map(weights: ArrayLike, boxes: Sequence[Box], height: int, width: int) -> np.ndarray:
    """Per-patch weights (N,) painted on their boxes: (H, W), NaN outside every box."""
    weights = to_numpy(weights).reshape(-1)
    if len(boxes) != weights.shape[0]:
        raise ValueError(f"{weights.shape[0]} weights for {len(boxes)} patch boxes")
    index = _box_index(boxes, height, width)
    return np.where(index >= 0, weights[index], np.nan)


def _image_layout(fig: go.Figure, title: str, height: int, width: int) -> go.Figure:
    fig.update_layout(title=dict(text=title), height=IMAGE_PX, margin=dict(l=10, r=10, t=50, b=10))
    fig.update_xaxes(visible=False, range=[-0.5, width - 0.5], constrain="domain")
    fig.update_yaxes(
        visible=False, range=[height - 0.5, -0.5], scaleanchor="x", constrain="domain"
    )  # reversed: row 0 on top, square pixels
    return fig


def _grid_lines(boxes: Sequence[Box], color: str, width: int = 1) -> list[dict]:
    return [
        dict(
            type="rect",
            x0=left - 0.5,
            x1=right - 0.5,
            y0=top - 0.5,
            y1=bottom - 0.5,
            line=dict(color=color, width=width),
            layer="above",
        )  # fmt: skip
        for top, left, bottom, right in boxes
    ]


def _patch_texts(boxes: Sequence[Box], texts: Sequence[str]) -> list[dict]:
    """A small label at the centre of each patch (none for grids over PATCH_TEXT_MAX)."""
    if len(boxes) > PATCH_TEXT_MAX:
        return []
    return [
        dict(
            x=(left + right - 1) / 2,
            y=(top + bottom - 1) / 2,
            text=text,
            showarrow=False,
            font=dict(color="white", size=11),
            bgcolor="rgba(0, 0, 0, 0.45)",
        )  # fmt: skip
        for (top, left, bottom, right), text in zip(boxes, texts, strict=True)
    ]


def image_with_grid(
    pixels: ArrayLike,
    patch: int,
    labels: Sequence[str] | None = None,
    title: str = "What the model sees: the resized input, cut into patches",
) -> go.Figure:
    """The model's input image, pixel for pixel (drawn large, no smoothing), with the patch
    grid and each patch's label; hovering a pixel names its patch (token)."""
    pixels = _pixels(pixels)
    height, width = pixels.shape[:2]
    boxes = patch_boxes(height, width, patch)
    labels = _check_labels("labels", labels or [f"r{r}c{c}" for r, c in _grid(boxes)], len(boxes))
    index = _box_index(boxes, height, width)
    hover = [
        [
            f"patch {index[r, c] + 1}: {_escape(labels[index[r, c]])}<br>pixel ({r}, {c})"
            f"<br>value {_pixel_text(pixels[r, c])}"
            for c in range(width)
        ]
        for r in range(height)
    ]
    fig = go.Figure(_rgb_image(pixels, hover))
    # Shapes and annotations in one update: adding them one by one costs O(N^2) in plotly.
    fig.update_layout(
        shapes=_grid_lines(boxes, HIGHLIGHT),
        annotations=_patch_texts(boxes, [_escape(label) for label in labels]),
    )
    return _image_layout(fig, title, height, width)


def _grid(boxes: Sequence[Box]) -> list[tuple[int, int]]:
    """(row, col) of each box in the patch grid."""
    tops = sorted({b[0] for b in boxes})
    lefts = sorted({b[1] for b in boxes})
    return [(tops.index(b[0]), lefts.index(b[1])) for b in boxes]


def _pixel_text(value: np.ndarray) -> str:
    return ", ".join(f"{v:.2f}" for v in value)


def patch_overlay(
    pixels: ArrayLike,
    weights: ArrayLike,
    boxes: Sequence[Box],
    title: str,
    labels: Sequence[str] | None = None,
    name: str = "weight",
    outline: int | None = None,
) -> go.Figure:
    """The image under a semi-transparent heat map of one weight per patch (N,), e.g. the
    pooling weights α or one row of the attention matrix, with a colour bar from 0 to the
    largest weight. `outline` (0-based patch) draws a box around one patch (the query)."""
    pixels = _pixels(pixels)
    height, width = pixels.shape[:2]
    weights = to_numpy(weights).reshape(-1)
    if not np.isfinite(weights).all():
        raise ValueError("weights must be finite")
    z = patch_map(weights, boxes, height, width)
    labels = _check_labels("labels", labels or [str(k + 1) for k in range(len(boxes))], len(boxes))
    index = _box_index(boxes, height, width)
    hover = [
        [
            f"patch {k + 1}: {_escape(labels[k])}<br>{name} = {weights[k]:.4f}" if k >= 0 else ""
            for k in row
        ]
        for row in index
    ]
    top = float(weights.max(initial=0.0))
    heat = go.Heatmap(
        z=[[None if np.isnan(v) else float(v) for v in row] for row in z],
        x=list(range(width)),
        y=list(range(height)),
        zmin=0.0,
        zmax=top if top > 0 else 1.0,
        colorscale=OVERLAY_SCALE,
        colorbar=dict(title=dict(text=name), thickness=14),
        text=hover,
        hovertemplate="%{text}<extra></extra>",
        name=name,
    )
    fig = go.Figure([_rgb_image(pixels, hover), heat])
    shapes = _grid_lines(boxes, "rgba(255, 255, 255, 0.5)")
    if outline is not None:
        shapes += _grid_lines([boxes[outline]], HIGHLIGHT, width=4)
    fig.update_layout(shapes=shapes, annotations=_patch_texts(boxes, [f"{w:.2f}" for w in weights]))
    return _image_layout(fig, title, height, width)


def patch_attention_row(
    pixels: ArrayLike, attn: ArrayLike, boxes: Sequence[Box], i: int, labels: Sequence[str]
) -> go.Figure:
    """Row i of the (N, N) attention matrix on the image: where query patch i (outlined) looks."""
    attn = to_numpy(attn)
    if attn.ndim != 2 or attn.shape[0] != attn.shape[1]:
        raise ValueError(f"attn must be an (N, N) matrix, got shape {attn.shape}")
    if not 0 <= i < attn.shape[0]:
        raise ValueError(f"patch {i} is outside 0..{attn.shape[0] - 1}")
    title = f"Attention row a<sub>{i + 1}j</sub>: where patch {i + 1} ({_escape(labels[i])}) looks"
    return patch_overlay(
        pixels, attn[i], boxes, title, labels, name=f"a<sub>{i + 1}j</sub>", outline=i
    )


ENTROPY_TITLE = "Row entropy H<sub>i</sub> = −Σ<sub>j</sub> a<sub>ij</sub> ln a<sub>ij</sub>"


def entropy_bars(entropies: dict[str, ArrayLike], tokens: Sequence[str]) -> go.Figure:
    """Entropy of each attention row (N,) per setting, as grouped bars, with log N dashed.

    0: query token i attends to one key only; log N: it attends to every key equally.
    """
    labels = [str(t) for t in tokens]
    n = len(labels)
    fig = go.Figure()
    for name, values in entropies.items():
        values = to_numpy(values).reshape(-1)
        _check_labels("tokens", labels, values.shape[0])
        hover = [
            f"i = {i + 1}: {_escape(t)}<br>H = {h:.4f}"
            for i, (t, h) in enumerate(zip(labels, values, strict=True))
        ]
        bar = go.Bar(x=list(range(n)), y=values.tolist(), name=_escape(name), hovertext=hover)
        fig.add_trace(bar.update(hovertemplate="%{hovertext}<extra>%{fullData.name}</extra>"))
    uniform = float(np.log(max(n, 1)))
    fig.add_hline(y=uniform, line=dict(dash="dash", color=MUTED))
    fig.update_layout(
        title=dict(text=ENTROPY_TITLE),
        height=340,
        barmode="group",
        margin=dict(l=10, r=10, t=80, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0.0),
    )
    x_ticks = _ticks(labels, X_TICKS_MAX)
    fig.update_xaxes(**x_ticks, tickangle=_x_angle(len(x_ticks["tickvals"])))
    fig.update_yaxes(
        range=[0, max(uniform, 0.1) * 1.15], title_text=f"nats (log N = {uniform:.2f})"
    )
    return fig


# ---------------------------------------------------------------------------------------------
# Training: curves, attention replay, sweep and tuning charts

TRAIN_COLOR, VAL_COLOR = HIGHLIGHT, "#e8590c"
REPLAY_CONTROLS_PX = 70  # the replay's play button and slider sit this far below the plot area
# The slider gets a row of its own under the buttons: beside them, its current-value label (e.g.
# "step 120 · epoch 3") ran into Pause in a narrow column.
REPLAY_SLIDER_ROW_PX = 45


def training_curves(
    history: Sequence[Any], steps: Sequence[tuple[int, float]] = (), steps_per_epoch: int = 0
) -> go.Figure:
    """Loss (left) and accuracy (right) per epoch, training and validation side by side.

    `history`: EpochRecords; `steps`: (step, batch loss) pairs drawn faintly behind the loss,
    at fractional epochs step / steps_per_epoch. The gap between the two accuracy curves is
    overfitting: training accuracy climbs while validation stalls.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (cross-entropy)", "Accuracy"))
    epochs = [r.epoch for r in history]
    if steps and steps_per_epoch:
        x = [s / steps_per_epoch for s, _ in steps]
        fig.add_trace(
            go.Scatter(x=x, y=[v for _, v in steps], name="batch loss", mode="lines",
                       line=dict(color=TRAIN_COLOR, width=1), opacity=0.25),
            row=1, col=1,
        )  # fmt: skip
    for col, field in ((1, "loss"), (2, "accuracy")):
        for split, color in (("train", TRAIN_COLOR), ("val", VAL_COLOR)):
            fig.add_trace(
                go.Scatter(
                    x=epochs, y=[getattr(r, f"{split}_{field}") for r in history],
                    name="training" if split == "train" else "validation",
                    mode="lines+markers", line=dict(color=color, width=2),
                    legendgroup=split, showlegend=col == 1,
                ),
                row=1, col=col,
            )  # fmt: skip
    fig.update_xaxes(title_text="epoch", rangemode="tozero")
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
    fig = attention_heatmap(frames[-1], tokens, title="Attention a<sub>ij</sub> as it learns")
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
        ("test_accuracy", "Test accuracy", ".1%"),
        ("train_seconds", "Training time (s)", ".1f"),
        ("attention_entropy", "Attention entropy (nats)", ".2f"),
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
            name=_escape(str(similarity)), marker=dict(size=10),
            customdata=[[str(table["state"].iloc[k]), int(table["hidden_dim"].iloc[k])]
                        for k in rows],
            hovertemplate="trial %{x}: %{y:.2%}<br>%{customdata[0]}, d = %{customdata[1]}"
                          "<extra>%{fullData.name}</extra>",
        ))  # fmt: skip
    fig.add_trace(go.Scatter(x=numbers, y=line, mode="lines", name="best so far",
                             line=dict(color="black", dash="dot", shape="hv")))  # fmt: skip
    fig.update_layout(
        title=dict(text="The search: validation accuracy of each trial"), height=360,
        margin=dict(l=10, r=10, t=50, b=10), xaxis_title="trial", yaxis_tickformat=".0%",
    )  # fmt: skip
    return fig
