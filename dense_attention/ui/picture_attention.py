"""The image page's attention drawn on the picture: α over the patches, and one query patch's
row of the attention matrix, both linked to the formula panel's query token i."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from ..core.i18n import tr
from ..figures import export, image_plots
from ..inputs.classifier import Classifier, Explanation
from . import state
from .cache import cached
from .charts import export_buttons
from .walkthrough import selected_cell


def _weights_csv(weights: Any, tokens: list[str], name: str) -> str:
    return export.matrix_csv(weights, export.token_labels(tokens), [name], "patch")


def _query_to_cell() -> None:
    st.session_state[state.CELL_I] = st.session_state[state.IMAGE_QUERY]


def query_patch(tokens: list[str]) -> int:
    """The query patch i: shared with the formula panel below (its selectors and its clicks)."""
    i, j = selected_cell(len(tokens))
    # Re-fill the panel's selectors on every run: after a run that did not draw them (the page
    # stopped at the upload prompt) they would show their first option instead of (i, j).
    st.session_state[state.CELL_I], st.session_state[state.CELL_J] = i, j
    st.session_state[state.IMAGE_QUERY] = i
    return st.selectbox(
        tr("Query patch i"),
        range(len(tokens)),
        format_func=lambda k: f"{k + 1} · {tokens[k]}",  # plain text: not markdown
        key=state.IMAGE_QUERY,
        on_change=_query_to_cell,
        help=tr(
            "Also set by the query token i of the formula panel below, or a click on its matrix.",
        ),
        width=320,
    )


def attention_on_picture(model: Classifier, explanation: Explanation, pixels: np.ndarray) -> None:
    """α on the picture (left) and the attention row of the chosen query patch (right)."""
    trace, tokens = explanation.trace, list(explanation.tokens)
    boxes = model.encoder.patch_boxes()
    st.header(tr("Attention on the picture"), divider="blue")
    i = query_patch(tokens)
    left, right = st.columns(2)
    with left:
        alpha = trace.alpha[0]
        title = tr("Pooling weights α<sub>i</sub> on the picture")
        overlay = cached(image_plots.patch_overlay, pixels, alpha, boxes, title, tokens, name="α")
        st.plotly_chart(overlay, width="stretch", key="image_alpha_overlay")
        st.caption(tr("How much each patch counts in the pooled vector c: the redder, the more."))
        csv = lambda: _weights_csv(alpha, tokens, "alpha")  # noqa: E731 - made when clicked
        export_buttons(overlay, "alpha_overlay", csv, "image_alpha_export")
    with right:
        row = cached(image_plots.patch_attention_row, pixels, trace.attn[0], boxes, i, tokens)
        st.plotly_chart(row, width="stretch", key="image_row_overlay")
        st.caption(
            tr(
                "Row {value} of the attention matrix: how patch {value} (outlined) "
                "spreads its attention over all the patches; the weights sum to 1.",
                value=i + 1,
            )
        )
        csv = lambda: _weights_csv(trace.attn[0, i], tokens, f"a_{i + 1}j")  # noqa: E731
        export_buttons(row, f"attention_row_{i + 1}", csv, "image_row_export")


def patch_features(model: Classifier) -> str:
    """One sentence on what x_i holds for this image model (under the input step)."""
    cfg = model.config.image
    kind = tr("gray levels") if cfg.channels == 1 else tr("colour values")
    return tr(
        "Here x_i holds the {patch_dim} {kind} of patch i ({patch}×{patch} "
        "pixels) and {pos_dim} numbers for its position.",
        patch_dim=cfg.patch_dim,
        kind=kind,
        patch=cfg.patch,
        pos_dim=cfg.pos_dim,
    )
