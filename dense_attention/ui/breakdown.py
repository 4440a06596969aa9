"""Why token i attends to token j, on the page: the selected cell's score by dimension beside
the diagonal cell, and the Text page's query–key map of a sample of the model's test set."""

from __future__ import annotations

import streamlit as st

from ..core.i18n import tr
from ..core.model import DenseAttention
from ..explain import breakdown, query_key_map
from ..figures import breakdown_plots
from ..inputs.classifier import Classifier, Explanation
from ..storage import checkpoint
from . import state
from .cache import checkpoints, query_key_sample
from .errors import friendly_errors
from .sidebar import Settings
from .styles import md

TOP_NAMED = 3  # parts named in words under the chart


def _core_and_patch(model: Classifier | DenseAttention) -> tuple[DenseAttention, int | None]:
    """The model's DenseAttention and, for image patches with position channels, the width of
    the pixel part of x (so a dimension can say whether it carries position)."""
    if isinstance(model, DenseAttention):
        return model, None
    image = model.config.image
    return model.core, image.patch_dim if image is not None and image.pos_dim > 0 else None


def breakdown_panel(
    explanation: Explanation,
    model: Classifier | DenseAttention,
    cell: tuple[int, int],
    key: str = state.CELL,
) -> None:
    """Cell (i, j)'s score as a sorted bar chart of its parts, the top parts named, and one
    sentence comparing it with the diagonal cell (i, i)."""
    core, patch_dim = _core_and_patch(model)
    trace, tokens = explanation.trace, list(explanation.tokens)
    i, j = cell
    chosen = breakdown.cell_breakdown(core, trace, i, j, patch_dim)
    own = breakdown.cell_breakdown(core, trace, i, i, patch_dim)
    st.subheader(tr("Why this score? The score, part by part"), divider="gray")
    left, right = st.columns([3, 2])
    with left:
        figure = breakdown_plots.breakdown_figure(chosen, tokens)  # 1 bar per part: cheap
        st.plotly_chart(figure, width="stretch", key=f"chart_{key}_breakdown")
    with right:
        unit = chosen.unit
        st.markdown(
            tr(
                "The {parts} parts sum to the score s_ij = {score:.3f} (the trace: "
                "{scores:.3f}), one per {unit}, each already divided by τ = "
                "{temperature:g}.",
                parts=len(chosen.parts),
                score=chosen.score,
                scores=float(trace.scores[0, i, j]),
                unit=unit,
                temperature=chosen.temperature,
            )
        )
        top = ", ".join(
            f"{chosen.name(k)}: {float(chosen.parts[k]):+.3f}" for k in chosen.top(TOP_NAMED)
        )
        st.markdown(tr("Largest parts: {top}.", top=md(top)))
        st.markdown(md(breakdown.diagonal_sentence(chosen, own, tokens)))


def _dataset_of(label: str) -> tuple[str, int] | None:
    """The dataset and split seed a shipped checkpoint was trained on; None if unknown."""
    info = checkpoints().get(label)
    if info is None:
        return None
    meta = checkpoint.read_metadata(info.path)
    name = meta.get("dataset")
    return (name, int(meta.get("split_seed", 0))) if isinstance(name, str) else None


def query_key_panel(settings: Settings, explanation: Explanation) -> None:
    """An expander with the query–key map (drawn only once its toggle is on: the sample's
    tokens take seconds to read once per model, then come from the cache)."""
    with st.expander(tr("The query–key map: where every token's query and key sit")):
        found = _dataset_of(settings.model_name) if settings.cache_key else None
        if found is None:
            st.info(tr("The map is drawn for the shipped checkpoints (their test sets are known)."))
            return
        if not st.toggle(tr("Draw the map"), key=state.QUERY_KEY_MAP):
            st.caption(
                tr(
                    "Reads a sample of the model's test set once (several seconds the first time).",
                )
            )
            return
        with friendly_errors(stop=False), st.spinner(tr("Reading a sample of the test set…")):
            sample = query_key_sample(settings.cache_key, settings.model, *found)
            qk = query_key_map.query_key_map(
                sample, explanation.trace.h[0], settings.similarity,
                settings.model.core.similarity_params,
            )  # fmt: skip
            tokens = list(explanation.tokens)
            attn = explanation.trace.attn[0].double().cpu().numpy()  # linked: hover a token
            figure = breakdown_plots.query_key_figure(qk, tokens, attn)
            st.plotly_chart(figure, width="stretch", key="chart_query_key_map")
            st.markdown(md(query_key_map.distance_sentence(qk)))
