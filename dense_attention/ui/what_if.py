"""What-if on one input (knock tokens out, drag one token's α from its own) and the dataset-level
study."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from ..core.i18n import tr
from ..explain import drag, faithfulness, study, verdict
from ..explain.faithfulness import Faithfulness
from ..server import metrics
from ..server.jobs import JobKind
from . import browser, state
from .errors import friendly_errors
from .matters import own_folder
from .sidebar import Settings
from .styles import md
from .verdicts import features

STUDY_EXAMPLES = 50  # test examples of a session model's dataset-level study


def _token_names(result: Faithfulness) -> list[str]:
    return [f"{k + 1} · {md(token)}" for k, token in enumerate(result.tokens)]


def _alpha_slider(token: int, own: np.ndarray) -> float | None:
    """The α slider of `token`, started at its own α (`own`: every real token's α as the model
    gives it now). Returns the dragged value, or None while it has not been moved."""
    start = (token, tuple(round(float(a), 9) for a in own))
    if st.session_state.get(state.WHATIF_FROM) != start:  # a new token, input or setting
        st.session_state[state.WHATIF_FROM] = start
        st.session_state[state.WHATIF_ALPHA] = float(own[token])
    value = st.slider("α", 0.0, 1.0, step=0.01, format="%.3f", key=state.WHATIF_ALPHA)
    return None if value == float(own[token]) else float(value)


def _what_if_controls(
    settings: Settings, item: Any, result: Faithfulness
) -> tuple[list[int], tuple[int, float] | None, np.ndarray | None]:
    """Knock-outs, the token whose α is dragged and the slider; returns the knocked tokens,
    (token, α) once the slider was moved, and every real token's α before the drag (or None)."""
    names = _token_names(result)
    knocked = st.multiselect(
        tr("Knock out tokens"), range(len(names)), format_func=names.__getitem__,
        key=state.WHATIF_KNOCKED,
    )  # fmt: skip
    left, right = st.columns(2)
    token = left.selectbox(
        tr("Drag the α of"), [None, *range(len(names))], key=state.WHATIF_TOKEN,
        format_func=lambda k: tr("(no token: α as computed)") if k is None else names[k],
    )  # fmt: skip
    with right:
        if token is None or token in knocked:
            st.slider("α", 0.0, 1.0, 0.0, 0.01, disabled=True, key=state.WHATIF_ALPHA_OFF)
            if token is not None:
                st.caption(tr("This token is knocked out: it has no α to drag."))
            return list(knocked), None, None
        own = drag.pooling_weights(
            settings.model, features(settings, item), knocked, settings.overrides
        )
        value = _alpha_slider(int(token), own)
    return list(knocked), None if value is None else (int(token), value), own


def _renormalised(
    result: Faithfulness,
    before: np.ndarray,
    knocked: list[int],
    alpha: tuple[int, float] | None,
) -> pd.DataFrame:
    """Every token's α before and after the drag (the others share 1 - α in proportion)."""
    after = before
    if alpha is not None:
        mask = torch.ones(1, before.shape[0], dtype=torch.bool)
        mask[0, knocked] = False
        after = drag.dragged_alpha(torch.from_numpy(before)[None], *alpha, mask)[0].numpy()
    names = _token_names(result)
    columns = {"token": names, tr("α as computed"): before, tr("α after the drag"): after}
    return pd.DataFrame(columns)


def what_if(settings: Settings, item: Any, result: Faithfulness) -> None:
    """Knock tokens out or drag one token's α (from its own value; the others' renormalised
    weights shown), and see the output move; nothing moves until a control does."""
    st.subheader(tr("What if…"), divider="gray")
    knocked, alpha, before = _what_if_controls(settings, item, result)
    if not knocked and before is None:
        st.caption(tr("Pick a token to knock out, or one whose α to drag, to see the output move."))
        return
    with friendly_errors(stop=False):
        probs = verdict.what_if(
            settings.model, features(settings, item), knocked, alpha, settings.overrides
        )
        st.markdown(_outcome(result, probs))
        if before is not None:
            table = _renormalised(result, before, knocked, alpha)
            st.dataframe(
                table, hide_index=True, key=state.WHATIF_WEIGHTS,
                column_config={
                    name: st.column_config.NumberColumn(name, format="%.3f")
                    for name in (tr("α as computed"), tr("α after the drag"))
                },
            )  # fmt: skip
            if alpha is None:
                st.caption(tr("Move the slider: the other tokens' α then share what is left."))


def _outcome(result: Faithfulness, probs: np.ndarray) -> str:
    """ "The prediction stays/flips to ...; p(class) before → after" (class names escaped)."""
    new, old = int(probs.argmax()), result.predicted
    moved = tr("flips to") if new != old else tr("stays")
    return tr(
        "The prediction {moved} **{classes}** ({probs:.1%}); p({classes2}) "
        "{probs2:.1%} → **{probs3:.1%}**.",
        moved=moved,
        classes=md(result.classes[new]),
        probs=float(probs[new]),
        classes2=md(result.classes[old]),
        probs2=float(result.probs[old]),
        probs3=float(probs[old]),
    )


def _session_study(settings: Settings) -> dict[str, Any] | None:
    """A dataset-level study of this browser's latest trained model, on demand."""
    studies = st.session_state.setdefault(state.STUDIES, {})
    if settings.model_name in studies:
        return studies[settings.model_name]
    job = browser.workspace().jobs.get(JobKind.TRAIN)
    trained = job.result if job is not None else None
    if not isinstance(trained, metrics.TrainedModel) or trained.model is not settings.model:
        st.caption(
            tr("Measured for the shipped models and for the model this browser trained last.")
        )
        return None
    if not st.button(
        tr("Measure on {STUDY_EXAMPLES} test examples", STUDY_EXAMPLES=STUDY_EXAMPLES),
        key="matters_study",
    ):
        return None
    bar = st.progress(0.0, text=tr("Analysing test examples…"))
    with friendly_errors(stop=False):
        test = job.request.data.load().test
        results = study.study(
            settings.model, test, None, STUDY_EXAMPLES, settings=settings.overrides,
            on_example=lambda done, total: bar.progress(done / total, f"{done} of {total}"),
        )  # fmt: skip
        studies[settings.model_name] = study.summarize(results).to_dict()
    bar.empty()
    return studies.get(settings.model_name)


def dataset_level(settings: Settings) -> None:
    """Flip rate and mean |Δp| of each ablation over the test split."""
    st.subheader(tr("Over the whole test split"), divider="gray")
    folder = own_folder(settings)  # a similarity variant's own figures when one runs
    if folder is not None:
        block = faithfulness.stored_block(folder)
        note = tr("as trained (live settings not applied), precomputed by the faithfulness CLI")
    else:
        block, note = _session_study(settings), tr("under the live settings")
    if not block:
        return
    st.dataframe(
        verdict.dataset_table(block, settings.trained), hide_index=True, key="matters_dataset",
        column_config={
            "flip_rate": st.column_config.NumberColumn(tr("flip rate"), format="percent"),
            "mean_abs_delta_p": st.column_config.NumberColumn(tr("mean |Δp|"), format="%.3f"),
        },
    )  # fmt: skip
    st.caption(tr("{get} test examples, {note}.", get=block.get("examples", "?"), note=note))
