"""Seed variance as a chart: each seed's pooling weights α over one input's tokens, and the
loaded model's beside them."""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from ..core.i18n import tr
from ..explain.adversarial import LN2
from ..explain.seed_variance import InputSpread

TOKENS_SHOWN_MAX = 40  # tick labels at most; every bar keeps its hover
SEED_COLORS = ("#3b5bdb", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#1098ad", "#c2255c",
               "#5c940d", "#364fc7", "#d9480f")  # fmt: skip


def alpha_per_seed(
    found: InputSpread, seeds: tuple[int, ...], loaded: np.ndarray | None = None
) -> go.Figure:
    """Grouped bars: α_i of each seed (k, n) per token, and the loaded model's α (n,) as black
    diamonds when given."""
    labels = [f"{k + 1} {html.escape(t, quote=False)}" for k, t in enumerate(found.tokens)]
    x = list(range(len(labels)))
    fig = go.Figure()
    for s, (seed, values) in enumerate(zip(seeds, found.alpha, strict=True)):
        name = tr("seed {seed}", seed=seed)
        fig.add_bar(x=x, y=values, name=name, marker_color=SEED_COLORS[s % len(SEED_COLORS)],
                    text=labels, textposition="none",
                    hovertemplate="%{text}: %{y:.3f}<extra>" + name + "</extra>")  # fmt: skip
    if loaded is not None:
        fig.add_scatter(x=x, y=loaded, name=tr("loaded model"), mode="markers",
                        marker=dict(color="#212529", symbol="diamond", size=9), text=labels,
                        hovertemplate="%{text}: %{y:.3f}<extra>" + tr("loaded model")
                        + "</extra>")  # fmt: skip
    step = max(1, -(-len(labels) // TOKENS_SHOWN_MAX))
    ticks = x[::step]
    spread = float(found.spread.alpha_jsd[0])
    title = tr(
        "α per seed: JSD to the seeds' mean {spread:.3f} (of ln 2 = {LN2:.3f})",
        spread=spread,
        LN2=LN2,
    )
    return fig.update_layout(
        title=title, barmode="group", height=400, margin=dict(l=10, r=10, t=60, b=10),
        xaxis=dict(tickvals=ticks, ticktext=[labels[k] for k in ticks], tickangle=-60),
        yaxis=dict(title_text=tr("pooling weight α"), rangemode="tozero"),
    )  # fmt: skip
