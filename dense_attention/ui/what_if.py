"""What-if on one input (knock tokens out, drag one token's α) and the dataset-level study."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..explain import faithfulness, verdict
from ..explain.faithfulness import Faithfulness
from ..server import jobs
from . import browser, state
from .cache import checkpoints
from .errors import friendly_errors
from .sidebar import Settings
from .verdicts import features

STUDY_EXAMPLES = 50  # test examples of a session model's dataset-level study


def _what_if_controls(result: Faithfulness) -> tuple[list[int], tuple[int, float] | None]:
    n = len(result.tokens)

    def name(k: int) -> str:
        return f"{k + 1} · {result.tokens[k]}"

    knocked = st.multiselect(
        "Knock out tokens", range(n), format_func=name, key=state.WHATIF_KNOCKED
    )
    left, right = st.columns(2)
    token = left.selectbox(
        "Drag the α of", [None, *range(n)], key=state.WHATIF_TOKEN,
        format_func=lambda k: "(no token: α as computed)" if k is None else name(k),
    )  # fmt: skip
    value = right.slider("α", 0.0, 1.0, 0.5, 0.01, key=state.WHATIF_ALPHA, disabled=token is None)
    return list(knocked), None if token is None else (int(token), float(value))


def what_if(settings: Settings, item: Any, result: Faithfulness) -> None:
    """Knock tokens out or set one token's α, and see the output move."""
    st.subheader("What if…", divider="gray")
    knocked, alpha = _what_if_controls(result)
    if not knocked and alpha is None:
        st.caption("Pick a token to knock out, or one whose α to drag, to see the output move.")
        return
    with friendly_errors(stop=False):
        probs = verdict.what_if(
            settings.model, features(settings, item), knocked, alpha, settings.overrides
        )
        new, before = int(probs.argmax()), result.predicted
        p0 = float(result.probs[before])
        moved = "flips to" if new != before else "stays"
        st.markdown(
            f"The prediction {moved} **{result.classes[new]}** ({float(probs[new]):.1%}); "
            f"p({result.classes[before]}) {p0:.1%} → **{float(probs[before]):.1%}**."
        )


def _session_study(settings: Settings) -> dict[str, Any] | None:
    """A dataset-level study of this browser's latest trained model, on demand."""
    studies = st.session_state.setdefault(state.STUDIES, {})
    if settings.model_name in studies:
        return studies[settings.model_name]
    job = browser.workspace().jobs.get("train")
    trained = job.result if job is not None else None
    if not isinstance(trained, jobs.TrainedModel) or trained.model is not settings.model:
        st.caption("Measured for the shipped models and for the model this browser trained last.")
        return None
    if not st.button(f"Measure on {STUDY_EXAMPLES} test examples", key="matters_study"):
        return None
    bar = st.progress(0.0, text="Analysing test examples…")
    with friendly_errors(stop=False):
        test = job.request.data.load().test
        results = faithfulness.study(
            settings.model, test, None, STUDY_EXAMPLES, settings=settings.overrides,
            on_example=lambda done, total: bar.progress(done / total, f"{done} of {total}"),
        )  # fmt: skip
        studies[settings.model_name] = faithfulness.summarize(results).to_dict()
    bar.empty()
    return studies.get(settings.model_name)


def dataset_level(settings: Settings) -> None:
    """Flip rate and mean |Δp| of each ablation over the test split."""
    st.subheader("Over the whole test split", divider="gray")
    info = checkpoints().get(settings.model_name)
    if info is not None:
        block = faithfulness.stored_block(info.path)
        note = "as trained (live settings not applied), precomputed by the faithfulness CLI"
    else:
        block, note = _session_study(settings), "under the live settings"
    if not block:
        return
    st.dataframe(
        verdict.dataset_table(block, settings.trained), hide_index=True, key="matters_dataset",
        column_config={
            "flip_rate": st.column_config.NumberColumn("flip rate", format="percent"),
            "mean_abs_delta_p": st.column_config.NumberColumn("mean |Δp|", format="%.3f"),
        },
    )  # fmt: skip
    st.caption(f"{block.get('examples', '?')} test examples, {note}.")
