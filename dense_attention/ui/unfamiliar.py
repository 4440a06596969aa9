"""The caution beside a prediction for an input unlike the model's training data: its top
probability under the floor of held-out examples (explain.familiarity)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import streamlit as st

from ..core.errors import DenseAttentionError
from ..explain import familiarity
from ..storage import checkpoint
from . import browser, live
from .sidebar import Settings
from .styles import md


@st.cache_resource(show_spinner="Measuring how sure the model is of held-out examples…")
def _measured(path: str, stamp: str) -> familiarity.Familiarity | None:
    """A shipped checkpoint's Familiarity: its metrics.json's, else measured once (its dataset's
    held-out examples) and shared; None when neither can be had."""
    try:
        stored = json.loads((Path(path) / checkpoint.METRICS_FILE).read_text())
    except (OSError, ValueError):
        stored = None
    found = familiarity.from_metrics(stored)
    if found is not None:
        return found
    try:
        return familiarity.calibrate_checkpoint(path)
    except (OSError, DenseAttentionError):  # unreadable checkpoint or data: no floor
        return None


def familiarity_of(settings: Settings) -> familiarity.Familiarity | None:
    """The Familiarity of the model the page runs: a shipped checkpoint's (the similarity
    variant in use), or the one measured when this browser's model was trained."""
    if settings.cache_key is not None:
        path, _, stamp = settings.cache_key.rpartition("@")
        return _measured(path, stamp)
    return familiarity.from_metrics(browser.user_metadata(settings.model_name))


def unfamiliar_caution(settings: Settings, item: Any) -> None:
    """A caution when `item` (a text or a picture) is less sure than the held-out floor, with
    the model's trained settings (what the floor was measured with)."""
    found = familiarity_of(settings)
    if found is None:
        return
    found = replace(found, dataset=md(found.dataset))  # an upload's name reaches markdown
    trained = {name: getattr(settings.trained, name) for name in live.SETTING_NAMES}
    p = float(settings.explain(item, **trained).trace.probs[0].max())
    note = familiarity.caution(p, found, settings.model.config.kind, bool(settings.changed))
    if note:
        st.warning(note, icon=":material/explore_off:")
