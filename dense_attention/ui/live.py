"""The live settings: one declared list of what a user may change on a trained model without
retraining (similarity, temperature, pooling): how each is drawn, shown and read from a link."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from ..core.config import POOLINGS, TEMPERATURES
from ..core.i18n import N_, tr
from ..core.similarity import SIMILARITIES
from . import lesson, state


def _choice(options: tuple[str, ...]) -> Callable[[str], str | None]:
    return lambda text: text if text in options else None


def _temperature(text: str) -> float | None:
    """A τ from a link: a finite number within the slider's range (no NaN-prone extremes)."""
    try:
        value = float(text)
    except ValueError:
        return None
    ok = math.isfinite(value) and TEMPERATURES[0] <= value <= TEMPERATURES[-1]
    return value if ok else None


@dataclass(frozen=True)
class LiveSetting:
    """One setting of the sidebar: a ModelConfig field the user may change live."""

    name: str  # the ModelConfig field, and the URL parameter
    label: str
    widget: str  # its widget's session key
    draw: Callable[..., Any]  # the streamlit widget function
    parse: Callable[[str], Any]  # a URL value -> a valid value, or None
    options: Callable[[Any, Any], list[Any]]  # (trained, live) -> the widget's options
    extra: tuple[tuple[str, Any], ...] = ()  # more keyword arguments of the widget

    def format(self, value: Any) -> str:
        return f"τ = {value:g}" if self.name == "temperature" else str(value)


LIVE_SETTINGS = (
    LiveSetting(
        "similarity", N_("Similarity"), state.SIMILARITY_WIDGET, st.selectbox,
        _choice(tuple(SIMILARITIES)), lambda trained, live: list(SIMILARITIES),
    ),
    LiveSetting(
        "temperature", N_("Temperature τ"), state.TEMPERATURE_WIDGET, st.select_slider,
        _temperature,
        lambda trained, live: sorted({*TEMPERATURES, trained, live}),
        (("format_func", "{:g}".format),),
    ),
    LiveSetting(
        "pooling", N_("Pooling α"), state.POOLING_WIDGET, st.radio, _choice(POOLINGS),
        lambda trained, live: list(POOLINGS), (("horizontal", True),),
    ),
)  # fmt: skip
SETTING_NAMES = tuple(s.name for s in LIVE_SETTINGS)
# Similarities with weights of their own: on a model trained with another similarity, these
# weights were never trained (fixed deterministic values), so the scores mean little.
UNTRAINED_NOTES = {
    "additive": N_(
        "Untrained here: this model was not trained with additive attention, so "
        "its W_q, W_k and w are fixed random values, not learned ones. Read the matrix as what "
        "random weights give."
    ),
    "bilinear": N_(
        "Untrained here: this model was not trained with bilinear attention, so W_s "
        "is its initial value I/√d (scaled dot product), not a learned matrix."
    ),
}
SETTING_WIDGETS = {s.name: s.widget for s in LIVE_SETTINGS}


def overrides_of(label: str) -> dict[str, Any]:
    """The live values of model `label` that differ from how it was trained (by name)."""
    return st.session_state.setdefault(state.OVERRIDES, {}).setdefault(label, {})


def store_setting(label: str, name: str) -> None:
    """on_change of a setting's widget: remember its value for model `label`."""
    overrides_of(label)[name] = st.session_state[SETTING_WIDGETS[name]]


def reset_settings(label: str, keep: Collection[str] = ()) -> None:
    """Forget the live settings of a model: it runs as trained again, but for the settings in
    `keep` (those a lesson link hid or locked)."""
    kept = {k: v for k, v in overrides_of(label).items() if k in keep}
    st.session_state.setdefault(state.OVERRIDES, {})[label] = kept


def draw_setting(
    setting: LiveSetting,
    label: str,
    trained: Any,
    live: Any,
    retrained: Mapping[str, str] | None = None,
) -> Any:
    """One setting's widget, filled with its live value; marked when it differs from training.

    `retrained`: similarity -> summary of the checkpoint of this model trained with it (the
    page loads that one, and the picker's caption gives its accuracy): such a similarity is
    marked "trained with", not "≠ trained". A lesson link's hidden setting is not drawn (its
    value stays); a locked one is drawn disabled, with a note.
    """
    if lesson.current().hides(setting.name):
        return live
    kwargs = dict(setting.extra, options=setting.options(trained, live))
    kwargs["disabled"] = lesson.current().locks(setting.name)
    bind = state.bound(setting.widget, live, store_setting, label, setting.name)
    value = setting.draw(tr(setting.label), **bind, **kwargs)
    lesson.lock_note(setting.name)
    retrained = retrained or {}
    own = setting.name == "similarity" and value in retrained
    if value != trained and not own:
        st.caption(":orange[" + tr("≠ trained: {value}", value=setting.format(trained)) + "]")
    if setting.name == "similarity":
        st.caption(tr(SIMILARITIES[value].description))
        if own:
            loaded = tr("Trained with {name}: its own checkpoint is loaded.", name=value)
            st.caption(f":green[{loaded}]")
        elif value in UNTRAINED_NOTES and value != trained:
            st.caption(":orange[" + tr(UNTRAINED_NOTES[value]) + "]")
    return value


def from_link(params: Callable[[str], str | None]) -> dict[str, Any]:
    """The valid live settings among a link's parameters (`params(name)` reads one)."""
    found = {}
    for setting in LIVE_SETTINGS:
        text = params(setting.name)
        value = setting.parse(text) if text is not None else None
        if value is not None:
            found[setting.name] = value
    return found
