"""The one verdict drawn wherever a page speaks of it: the badge beside a prediction, the
attention page's box, and "why is my attention diagonal?" beside the attention matrix."""

from __future__ import annotations

import functools
from typing import Any

import streamlit as st

from ..core.errors import DenseAttentionError
from ..core.i18n import tr
from ..explain import diagonal, faithfulness, verdict
from ..explain.verdict import Verdict
from ..inputs.classifier import Explanation
from .cache import shared_result
from .errors import show_unexpected
from .matters import training_means
from .sidebar import Settings
from .styles import BADGE_CSS, md

# A badge's colour and icon by Verdict.tone.
TONES = {
    "mixing": ("green", ":material/visibility:"),  # what tokens take from each other decides
    "attention": ("blue", ":material/visibility:"),  # another attention path decides
    "other": ("orange", ":material/visibility_off:"),  # no attention path decides
}


def features(settings: Settings, item: Any) -> faithfulness.Features:
    """What the model's core reads for `item` (shared for a shipped model)."""
    build = functools.partial(faithfulness.features_of, settings.model, item)
    return shared_result("features", settings.cache_key, build, item)


def input_verdict(settings: Settings, item: Any) -> Verdict | None:
    """The verdict of `item` under the live settings, from its ablations alone (shared for a
    shipped model); None when the input itself cannot be read (its page shows why), or after
    a bug, logged with the generic message in the verdict's place."""
    try:
        build = functools.partial(
            verdict.judge_input, settings.model, features(settings, item),
            training_means(settings), settings.overrides,
        )  # fmt: skip
        return shared_result("verdict", settings.cache_key, build, item, settings.overrides)
    except DenseAttentionError:  # the page shows the input's own error
        return None
    except Exception:  # noqa: BLE001 - a bug: logged, a generic message in the verdict's place
        show_unexpected("the verdict")
        return None


def verdict_words(found: Verdict) -> tuple[str, str]:
    """(headline, text) as markdown-safe strings: class names and tokens are user text."""
    return md(found.headline), md(found.text)


def badge(settings: Settings, item: Any, found: Verdict | None = None) -> Verdict | None:
    """Beside the prediction: the verdict's headline as a badge and its words under it."""
    found = found if found is not None else input_verdict(settings, item)
    if found is None:
        return None
    colour, icon = TONES[found.tone]
    headline, text = verdict_words(found)
    st.html(BADGE_CSS)  # the whole headline, wrapped in a narrow column
    st.badge(headline, color=colour, icon=icon)
    st.caption(text)
    return found


def show_verdict(
    result: faithfulness.Faithfulness, explanation: Explanation, settings: Settings
) -> Verdict:
    """The attention page's verdict of a full analysis: the same words as the badge, in green
    (token-to-token mixing decides), blue (another attention path) or amber (none)."""
    found = verdict.verdict_of(result, explanation.trace, settings.config)
    headline, text = verdict_words(found)
    box = {"mixing": st.success, "attention": st.info, "other": st.warning}[found.tone]
    box(f"**{headline}.** {text}", icon=TONES[found.tone][1])
    return found


def diagonal_panel(
    settings: Settings, explanation: Explanation, item: Any, row: int, found: Verdict | None = None
) -> diagonal.DiagonalNote | None:
    """Beside the attention matrix, when the diagonal holds most of the attention: why (the
    selected row's own score against its next best), what the identity ablation shows, and
    which setting changes it."""
    found = found if found is not None else input_verdict(settings, item)
    mixing = found.effects.get("mixing") if found is not None else None
    note = diagonal.why_diagonal(explanation.trace, explanation.tokens, row, mixing)
    if note is None:
        return None
    with st.expander(
        tr("Why is my attention diagonal?"), expanded=True, icon=":material/south_east:"
    ):
        st.markdown("\n".join(f"- {md(line)}" for line in note.lines))
    return note
