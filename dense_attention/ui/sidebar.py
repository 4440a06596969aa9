"""The shared sidebar: the model picker and the live settings; returns a frozen `Settings`."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from ..core.config import ModelConfig
from ..core.errors import DenseAttentionError
from ..core.i18n import tr
from ..core.similarity import SIMILARITIES
from ..figures.export import Provenance
from ..inputs.classifier import Classifier, Explanation
from ..inputs.image_encoder import ImageConfig
from ..inputs.text_encoder import TextConfig
from ..storage.catalog import CheckpointInfo, checkpoint_root, describe
from ..training.train import pick_device
from . import browser, lesson, live, share, state
from .cache import checkpoints, load_checkpoint, shared_explanation, similarity_variants
from .errors import friendly_errors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """What the sidebar returns: the chosen model and the live settings it runs with."""

    model_name: str  # the label in the picker (user models end with browser.USER_SUFFIX)
    model: Classifier  # read-only
    similarity: str
    temperature: float
    pooling: str
    changed: tuple[str, ...]  # names of the settings that differ from the trained config
    cache_key: str | None = None  # shipped checkpoint "path@stamp": explanations may be shared

    @property
    def trained(self) -> ModelConfig:
        """The config the model was trained with."""
        return self.model.config.model

    @property
    def inputs(self) -> TextConfig | ImageConfig:
        """How the model makes x (its text or image encoder's config): the words say so."""
        return self.model.config.text or self.model.config.image

    @property
    def overrides(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in live.SETTING_NAMES}

    @property
    def config(self) -> ModelConfig:
        """The trained config with the live settings in: what the formulas should show."""
        return replace(self.trained, **self.overrides)

    def provenance(self, text: str = "") -> Provenance:
        """What exported files say made them: this model, the live settings and `text`."""
        return Provenance(
            self.model_name, self.similarity, self.temperature, self.pooling, text=text
        )

    def explain(self, item: Any, **overrides: Any) -> Explanation:
        """The model's explanation of one raw input under the live settings (or `overrides`).

        A shipped model's explanations are cached for every session (a contextual MiniLM
        encoder takes tens of ms per text); a model trained in this session is never cached.
        """
        return explain(self.model, self.cache_key, item, {**self.overrides, **overrides})


def explain(
    model: Classifier, cache_key: str | None, item: Any, overrides: dict[str, Any]
) -> Explanation:
    """`model`'s explanation of `item` under `overrides`, shared by every session for a
    shipped model (`cache_key`), made afresh for one of this browser's (None)."""
    build = functools.partial(model.explain, item, **overrides)
    return build() if cache_key is None else shared_explanation(cache_key, build, item, overrides)


def _remember_model(slot: str) -> None:
    st.session_state.setdefault(state.SELECTED_MODEL, {})[slot] = st.session_state[
        state.MODEL_WIDGET
    ]


def _pick_model(kind: str | None) -> tuple[str, Classifier, str | None] | None:
    """The model picker: (label, model, shared-cache key or None for this session's models)."""
    shipped = {n: c for n, c in checkpoints().items() if kind in (None, c.kind)}
    own = {
        browser.label(n): m
        for n, m in browser.user_models().items()
        if kind in (None, m.config.kind)
    }
    labels = [*shipped, *own]
    if not labels:
        return None
    slot = kind or "any"
    chosen = st.session_state.setdefault(state.SELECTED_MODEL, {}).get(slot)
    stopped = {browser.label(n) for n in browser.stopped_runs()}
    complete = [name for name in own if name not in stopped]
    newest_own = complete[-1] if complete else None  # after a reload: the model trained last
    value = chosen if chosen in labels else newest_own or labels[0]
    label = value if lesson.current().hides("model") else st.selectbox(
        tr("Model"), labels, disabled=lesson.current().locks("model"),
        **state.bound(state.MODEL_WIDGET, value, _remember_model, slot),
    )  # fmt: skip
    lesson.lock_note("model")
    if label in own:
        st.caption(tr("Trained in this session: only you see it."))
        return label, own[label], None
    info = shipped[label]
    st.caption(loaded_summary(label, info))
    with friendly_errors():
        return label, load_checkpoint(str(info.path), info.stamp), f"{info.path}@{info.stamp}"
    return None  # not reached: friendly_errors stops the page


def loaded_summary(label: str, info: CheckpointInfo) -> str:
    """The caption under the picker: the dataset and test accuracy of the checkpoint the page
    runs, which is the variant trained with the live similarity when there is one (see
    _variant), never the picked folder's beside another checkpoint's weights."""
    similarity = live.overrides_of(label).get("similarity")
    variant = similarity_variants(info).get(similarity) if similarity is not None else None
    if variant is None or variant.path == info.path:
        return describe(info)
    return tr("{summary} (its checkpoint trained with {similarity})", summary=describe(variant),
              similarity=similarity)  # fmt: skip


def _no_model(kind: str | None) -> None:
    kinds = {"text": tr("text"), "image": tr("image")}
    what = kinds.get(kind or "", "")
    st.sidebar.caption(tr("No {kind} model to pick yet.", kind=what))
    st.info(
        tr(
            "No {kind} model yet. Train one with `python -m dense_attention train` (it writes a "
            "checkpoint folder under `{root}`).",
            kind=what,
            root=checkpoint_root(),
        ),
        icon=":material/model_training:",
    )


def _live_settings(
    label: str, model: Classifier, variants: dict[str, CheckpointInfo]
) -> dict[str, Any]:
    """Every live setting's widget, then Reset; returns the values by name. `variants`: the
    checkpoints of this model trained with each similarity (see _variant)."""
    trained = {name: getattr(model.config.model, name) for name in live.SETTING_NAMES}
    values = {**trained, **live.overrides_of(label)}
    retrained = {name: describe(info) for name, info in variants.items()}
    for setting in live.LIVE_SETTINGS:
        values[setting.name] = live.draw_setting(
            setting, label, trained[setting.name], values[setting.name], retrained
        )
    keep = lesson.current().constrained
    free = [n for n in live.SETTING_NAMES if n not in keep]
    if free:  # a lesson link's hidden and locked settings stay as sent
        st.button(
            tr("Reset to trained settings"),
            on_click=live.reset_settings,
            args=(label, keep),
            disabled=all(values[n] == trained[n] for n in free),
            icon=":material/restart_alt:",
        )
    return values


@dataclass(frozen=True)
class Picked:
    """The model chosen in the sidebar's picker, before its live settings are drawn."""

    label: str
    model: Classifier  # read-only
    cache_key: str | None  # shipped checkpoint "path@stamp"; None for this browser's models


def pick(kind: str | None = None) -> Picked | None:
    """The sidebar's model picker and device line; None (after saying why) with no model.

    `kind` ("text" or "image") limits the picker to models of that kind.
    """
    with st.sidebar:
        browser.unreadable_models()
        picked = _pick_model(kind)
    if picked is None:
        _no_model(kind)
        return None
    with st.sidebar:
        st.caption(tr("Device: **{device}**", device=pick_device().type))
    return Picked(*picked)


def _variant(
    variants: dict[str, CheckpointInfo], similarity: str, model: Classifier, cache_key: str | None
) -> tuple[Classifier, str | None]:
    """The model trained with `similarity` when the picked one has such a variant (the home
    page's bbc-topics has one per similarity), else the picked model: switching the similarity
    then switches to weights trained with it, not the same weights under another formula.
    Raises what loading the variant raises."""
    info = variants.get(similarity)
    if info is None or similarity == model.config.model.similarity:
        return model, cache_key
    return load_checkpoint(str(info.path), info.stamp), f"{info.path}@{info.stamp}"


def _variants_of(picked: Picked) -> dict[str, CheckpointInfo]:
    """The picked shipped model's checkpoints trained with each similarity ({} for others)."""
    info = checkpoints().get(picked.label) if picked.cache_key is not None else None
    return similarity_variants(info) if info is not None else {}


def similarity_models(picked: Picked) -> dict[str, tuple[Classifier, str | None]]:
    """For each similarity, the model the page runs under it and its shared-cache key (see
    _variant). A variant that fails to load is left out (picking its similarity says why),
    not the whole page."""
    variants, found = _variants_of(picked), {}
    for similarity in SIMILARITIES:
        try:
            found[similarity] = _variant(variants, similarity, picked.model, picked.cache_key)
        except DenseAttentionError:  # e.g. a CheckpointError: picking its similarity says why
            continue
        except Exception:  # noqa: BLE001 - a bug: logged; the page goes on without this variant
            log.exception("the %s variant of %s could not be loaded", similarity, picked.label)
    return found


def live_settings(picked: Picked, draw: bool = True) -> Settings:
    """The live settings of the picked model: their widgets in the sidebar (Reset under them),
    and the shared link updated. With `draw` False, the values the widgets hold, undrawn
    (for the part of a page that does not depend on them; see ui.live_page). The model is
    the picked one, or its variant trained with the chosen similarity (see _variant)."""
    label, model, cache_key = picked.label, picked.model, picked.cache_key
    variants = _variants_of(picked)
    if draw:
        with st.sidebar:
            values = _live_settings(label, model, variants)
    else:
        values = {n: getattr(model.config.model, n) for n in live.SETTING_NAMES}
        values |= live.overrides_of(label)
    with friendly_errors():
        model, cache_key = _variant(variants, values["similarity"], model, cache_key)
    values["temperature"] = float(values["temperature"])
    if draw:  # a model of this browser travels by name: another browser is told it lacks it
        share.share_view(
            model=label,
            **{n: values[n] for n in live.SETTING_NAMES},
            **lesson.current().params(),  # a lesson link keeps its hide= and lock=
        )
    trained = model.config.model
    changed = tuple(n for n in live.SETTING_NAMES if values[n] != getattr(trained, n))
    return Settings(label, model, **values, changed=changed, cache_key=cache_key)


def sidebar(kind: str | None = None) -> Settings | None:
    """The shared sidebar: model picker, device, similarity, temperature, pooling, reset.

    `kind` ("text" or "image") limits the picker to models of that kind. Returns None (after
    saying why) when there is no model to pick. Each setting that differs from the model's
    trained config carries a "≠ trained" marker; "Reset" brings back the trained ones.
    """
    picked = pick(kind)
    return None if picked is None else live_settings(picked)
