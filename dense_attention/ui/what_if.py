"""What-if on one input (knock tokens out, drag one token's α), the dataset-level study, and
the compact "does attention matter?" badge of the Text and Image pages."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..explain import faithfulness, verdict
from ..explain.faithfulness import Faithfulness
from ..server import jobs
from . import browser, state
from .cache import checkpoints, shared_result
from .errors import friendly_errors
from .sidebar import Settings
from .styles import md

STUDY_EXAMPLES = 50  # test examples of a session model's dataset-level study
BADGE_MOVES = 0.05  # |Δp| under uniform attention from which the badge says attention matters


def features(settings: Settings, item: Any) -> faithfulness.Features:
    build = lambda: faithfulness.features_of(settings.model, item)  # noqa: E731
    return shared_result("features", settings.cache_key, build, item)


def _what_if_controls(result: Faithfulness) -> tuple[list[int], tuple[int, float] | None]:
    n = len(result.tokens)

    def name(k: int) -> str:
        return f"{k + 1} · {md(result.tokens[k])}"

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
            f"The prediction {moved} **{md(result.classes[new])}** ({float(probs[new]):.1%}); "
            f"p({md(result.classes[before])}) {p0:.1%} → **{float(probs[before]):.1%}**."
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
        verdict.dataset_table(block), hide_index=True, key="matters_dataset",
        column_config={
            "flip_rate": st.column_config.NumberColumn("flip rate", format="percent"),
            "mean_abs_delta_p": st.column_config.NumberColumn("mean |Δp|", format="%.3f"),
        },
    )  # fmt: skip
    st.caption(f"{block.get('examples', '?')} test examples, {note}.")


def badge(settings: Settings, item: Any) -> None:
    """One line beside the prediction: does uniform attention change it?"""
    try:
        delta, flipped = verdict.uniform_effect(
            settings.model, features(settings, item), settings.overrides
        )
    except (ValueError, OSError):  # the page shows the input's own error
        return
    if flipped:
        st.badge("Attention matters: uniform attention flips this prediction", color="green",
                 icon=":material/visibility:")  # fmt: skip
    elif abs(delta) >= BADGE_MOVES:
        st.badge(f"Attention matters: uniform attention moves p by {delta:+.2f}", color="blue",
                 icon=":material/visibility:")  # fmt: skip
    else:
        st.badge(f"Attention barely matters here: uniform attention moves p by {delta:+.3f}",
                 color="orange", icon=":material/visibility_off:")  # fmt: skip
