"""Matrix heatmaps and the label, tick and colour conventions every figure of this layer shares.

A matrix is drawn like a matrix (row 1 at the top), with index positions on its axes and the
labels as tick text, so duplicate tokens (two "the") stay distinct cells. How a matrix is drawn
is the caller's choice (`HeatmapMode`): labelled cells with a hover text each, or numbered
feature columns drawn compactly. Small matrices send z as a plain list; token x feature matrices
and matrices over HOVER_CELLS_MAX cells send it as float32 binary (base64 in the figure's JSON).
Indices shown to people are 1-based, like the formulas; `customdata` of clickable cells is 0-based.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..core.i18n import tr
from ..core.trace import ArrayLike, to_numpy

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


class HeatmapMode(Enum):
    """How matrix_heatmap draws a matrix; the caller says which kind of columns it has."""

    # Named columns (tokens, token x token matrices): a hover text per cell naming row and
    # column, values as a plain list; past HOVER_CELLS_MAX cells float32 binary, no hover text.
    LABELLED = "labelled"
    # Numbered feature columns (x, h, v, c, h_o: components 1..d): always compact, float32 binary
    # z and one hover template naming the row and component from their 1-based coordinates. The
    # input x of a MiniLM sentence (15 x 384) takes ~21 KB of JSON per rerun this way, ~251 KB
    # with a hover string per cell.
    FEATURES = "features"


def escape_label(label: str) -> str:
    """A user string (token, class name, file name) for a plotly title, tick or hover text: its
    tags shown, not rendered (plotly renders <a href>, <b>, <br> in them)."""
    return html.escape(str(label), quote=False)


def check_labels(name: str, labels: Sequence[str], size: int) -> list[str]:
    """The labels as strings; ValueError unless there is one per entry of the data."""
    labels = [str(label) for label in labels]
    if len(labels) != size:
        raise ValueError(f"{name} has {len(labels)} labels but the data has {size} entries")
    return labels


def tick_angle(shown: int) -> int:
    """Upright for a few labels, slanted for more, vertical (the narrowest) for many."""
    return 0 if shown <= 8 else -45 if shown <= 16 else -90


def axis_ticks(labels: list[str], limit: int = TICKS_MAX, start: int = 0) -> dict:
    """Axis settings putting label k at position start + k (every k-th label for long axes)."""
    step = max(1, -(-len(labels) // limit))
    positions = list(range(0, len(labels), step))
    return dict(
        tickmode="array",
        tickvals=[start + k for k in positions],
        ticktext=[escape_label(labels[k]) for k in positions],
        showgrid=False,
        zeroline=False,
    )


def link_tokens(
    fig: go.Figure, rows: bool = False, cols: bool = False, start: int = 0
) -> go.Figure:
    """Mark `fig`'s token axes for the page's linked highlight (ui/assets/linked.js): its rows
    (y) and/or columns (x) are the input's tokens, token k at axis position start + k."""
    return fig.update_layout(meta=dict(dal_link=dict(rows=rows, cols=cols, start=start)))


def _height(rows: int) -> int:
    return int(min(720, max(220, CELL_PX * rows + 140)))


def _hover_text(
    x_labels: list[str],
    y_labels: list[str],
    row: str,
    col: str,
    x_hover: Sequence[str] | None,
    y_hover: Sequence[str] | None,
) -> list[list[str]]:
    """ "row = r: name<br>col = c: name" per cell, the names from `x_hover`/`y_hover` if given."""
    if x_hover is not None:
        x_labels = check_labels("x_hover", x_hover, len(x_labels))
    if y_hover is not None:
        y_labels = check_labels("y_hover", y_hover, len(y_labels))
    return [
        [
            f"{row} = {r + 1}: {escape_label(y)}<br>{col} = {c + 1}: {escape_label(x)}"
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
    mode: HeatmapMode = HeatmapMode.LABELLED,
    highlight: tuple[int, int] | None = None,
    zmin: float | None = None,
    zmax: float | None = None,
    row_name: str = "i",
    col_name: str = "j",
    x_hover: Sequence[str] | None = None,
    y_hover: Sequence[str] | None = None,
) -> go.Figure:
    """Heatmap of a (rows, cols) matrix drawn like a matrix: row 1 at the top.

    z: token x token (scores, attn; `mode` LABELLED) or token x feature (x, h, values; `mode`
    FEATURES), see HeatmapMode. `row_name`/`col_name` name the axes in the hover text;
    `x_hover`/`y_hover` name columns/rows there when it should say more than the axis labels
    (e.g. "[UNK] (Ωμέγα)"). `highlight` (0-based row, col) outlines one cell. `clickable` adds an
    invisible marker per cell whose customdata is [row, col] (0-based), for
    `st.plotly_chart(on_select="rerun", selection_mode="points")`.
    """
    z = to_numpy(z)
    if z.ndim != 2:
        raise ValueError(f"z must be a 2-D matrix, got shape {z.shape}")
    rows, cols = z.shape
    y_labels = check_labels("y_labels", y_labels, rows)
    x_labels = check_labels("x_labels", x_labels, cols)
    large = rows * cols > HOVER_CELLS_MAX
    features = mode is HeatmapMode.FEATURES
    if clickable and (large or features):
        raise ValueError(f"a clickable matrix is LABELLED, with at most {HOVER_CELLS_MAX} cells")
    # A compact (FEATURES or large) heatmap has one hover template instead of a text per cell.
    names = (row_name, col_name, x_hover, y_hover)
    text = None if large or features else _hover_text(x_labels, y_labels, *names)
    height = _height(rows)
    colours = dict(colorscale=colorscale, zmid=zmid, zmin=zmin, zmax=zmax)
    if features:
        heatmap = _compact_heatmap(z, row_name, col_name, **colours)
    else:
        heatmap = _heatmap(z, text, clickable, **colours)
    traces = [heatmap, _cell_overlay(text, rows, cols, height)] if clickable else [heatmap]
    shapes = [] if highlight is None else [_outline(*highlight)]
    # One layout, validated once: updating the axes one call at a time would take most of the
    # ~20 ms a figure costs, and a live setting change builds eight of them.
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
        hovertemplate=f"{row_name} = %{{y}}<br>{col_name} = %{{x}}<br>{tr('value')} = %{{z:.4f}}"
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
        hovertemplate=("" if large else "%{text}<br>") + tr("value") + " = %{z:.4f}<extra></extra>",
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
        xaxis = dict(axis_ticks(x_labels, FEATURE_TICKS_MAX, start), tickangle=0)
    else:
        x_ticks = axis_ticks(x_labels, X_TICKS_MAX)
        xaxis = dict(x_ticks, tickangle=tick_angle(len(x_ticks["tickvals"])))
    xaxis["range"] = [start - 0.5, start + len(x_labels) - 0.5]
    y_ticks = axis_ticks(y_labels, min(TICKS_MAX, max(1, (height - 140) // TICK_PX)), start)
    rows = len(y_labels)
    yaxis = dict(y_ticks, range=[start + rows - 0.5, start - 0.5])  # row 1 on top
    return {"xaxis": xaxis, "yaxis": yaxis}
