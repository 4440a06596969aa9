"""The dataset view's figure: the confusion matrix of the inputs shown."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..core.i18n import tr
from .heatmaps import escape_label


def confusion_figure(counts: np.ndarray, classes: Sequence[str], title: str) -> go.Figure:
    """Counts (C, C), row = true class, column = predicted, as a heatmap with each count
    written in its cell; the diagonal holds the correct predictions."""
    names = [escape_label(c) for c in classes]
    counts = np.asarray(counts, dtype=np.int64)
    return go.Figure(
        go.Heatmap(
            z=counts, x=names, y=names, colorscale="Blues", text=counts, texttemplate="%{text}",
            hovertemplate=tr("true %{y}, predicted %{x}: %{z}") + "<extra></extra>",
            showscale=False,
        ),
        layout=dict(
            title=dict(text=title), height=max(260, 60 + 34 * len(names)),
            xaxis=dict(title=tr("predicted class"), type="category", side="bottom"),
            yaxis=dict(title=tr("true class"), type="category", autorange="reversed"),
            margin=dict(l=70, r=20, t=50, b=60),
        ),
    )  # fmt: skip
