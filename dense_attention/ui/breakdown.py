"""Why token i attends to token j, on the page: the selected cell's score by dimension beside
the diagonal cell, and the Text page's query–key map of a sample of the model's test set."""

from __future__ import annotations

import functools

import streamlit as st

from ..core.i18n import tr
from ..core.model import DenseAttention
from ..core.trace import Trace
from ..explain import breakdown, formulas, query_key_map
from ..figures import breakdown_plots
from ..inputs.classifier import Classifier, Explanation
from ..storage import checkpoint
from . import lazy, state
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


def chosen_head(trace: Trace, cell: tuple[int, int], key: str = state.CELL) -> int | None:
    """The head whose numbers the formula panel under `key` shows (None with one head): the
    head picked in its breakdown, back on the cell's heaviest head (largest a^k_ij) whenever
    the cell changes."""
    heads = trace.heads
    if heads == 1:
        return None
    pick, picked_for = state.head_keys(key)
    if st.session_state.get(picked_for) != cell or st.session_state.get(pick) not in range(heads):
        st.session_state[pick] = formulas.heaviest_head(trace, *cell)
        st.session_state[picked_for] = cell
    return st.session_state[pick]


def _head_picker(trace: Trace, cell: tuple[int, int], key: str) -> int | None:
    """With several heads, the selectbox of the head whose score is broken down (and whose
    numbers the formulas above show); `chosen_head` keeps its value."""
    if chosen_head(trace, cell, key) is None:
        return None
    weights = trace.head_attn[0, :, cell[0], cell[1]].tolist()

    def label(k: int) -> str:
        return tr("head {value} (a^{value}_ij = {weights:.3f})", value=k + 1, weights=weights[k])

    return st.selectbox(
        tr("Head"), range(trace.heads), format_func=label, key=state.head_keys(key)[0],
        help=tr(
            "Each head scores the pair on its own slice of the units; the matrix "
            "shows the heads' mean. It starts on the head that weighs this cell most.",
        ),
    )  # fmt: skip


def _sum_line(chosen: breakdown.ScoreBreakdown, trace: Trace) -> str:
    """The parts' sum next to the trace's own score of the cell (head k's with several)."""
    i, j = chosen.i, chosen.j
    if chosen.heads == 1:
        s, traced, mean = "s_ij", float(trace.scores[0, i, j]), ""
    else:
        s = tr("head {value}'s score {symbol}_ij", value=chosen.head + 1, symbol=chosen.symbol)
        traced = float(trace.head_scores[0, chosen.head, i, j])
        mean = tr(
            " The matrix's s_ij = {scores:.3f} is the mean of the {heads} heads' scores.",
            scores=float(trace.scores[0, i, j]),
            heads=chosen.heads,
        )
    return tr(
        "The {parts} parts sum to {s} = {score:.3f} (the trace: {traced:.3f}), "
        "one per {unit}, each already divided by τ = {temperature:g}.{mean}",
        parts=len(chosen.parts),
        s=s,
        score=chosen.score,
        traced=traced,
        unit=chosen.unit,
        temperature=chosen.temperature,
        mean=mean,
    )


def breakdown_panel(
    explanation: Explanation,
    model: Classifier | DenseAttention,
    cell: tuple[int, int],
    key: str = state.CELL,
) -> None:
    """Cell (i, j)'s score as a sorted bar chart of its parts, the top parts named, and one
    sentence comparing it with the diagonal cell (i, i); with several heads, one head's score
    (picked above the chart)."""
    core, patch_dim = _core_and_patch(model)
    trace, tokens = explanation.trace, list(explanation.tokens)
    i, j = cell
    st.subheader(tr("Why this score? The score, part by part"), divider="gray")
    left, right = st.columns([3, 2])
    with left:
        head = _head_picker(trace, cell, key)
        chosen = breakdown.cell_breakdown(core, trace, i, j, patch_dim, head)
        own = breakdown.cell_breakdown(core, trace, i, i, patch_dim, chosen.head)
        figure = functools.partial(breakdown_plots.breakdown_figure, chosen, tokens)
        lazy.plotly_chart(figure, key=f"chart_{key}_breakdown", width="stretch")  # when drawn
    with right:
        st.markdown(md(_sum_line(chosen, trace)))
        top = ", ".join(
            f"{chosen.name(k)}: {float(chosen.parts[k]):+.3f}" for k in chosen.top(TOP_NAMED)
        )
        st.markdown(tr("Largest parts: {top}.", top=md(top)))
        said = breakdown.diagonal_sentence(chosen, own, tokens, trace.exclude_self)
        st.markdown(md(said))


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
            lazy.plotly_chart(figure, key="chart_query_key_map", width="stretch")
            st.markdown(md(query_key_map.distance_sentence(qk)))
