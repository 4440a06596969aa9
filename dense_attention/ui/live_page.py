"""The Text and Image pages below their input, split so a live setting reruns only what it
changes.

A similarity, temperature or pooling change does not change the tokens, the input x or the
dense layer h. Those are drawn by the full run; everything a setting changes (the sidebar's
live settings themselves, the prediction, the steps from the similarity on, the formula panel)
is one st.fragment, so a setting change reruns and resends only that part. The fragment writes
the prediction into a container the full run put above x, and x's and h's Export menus (their
files name the live settings) under their charts (Streamlit lets a fragment write into an
outside container; its writes there are redrawn in place).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ..core.i18n import tr
from ..data import images
from ..explain import attention_work
from ..explain.formulas import STEPS
from ..explain.verdict import Verdict
from ..figures import export, handout, trace_plots
from ..inputs.classifier import Explanation
from . import state
from .breakdown import query_key_panel
from .charts import trace_download
from .code_download import code_download
from .errors import friendly_errors
from .handout import handout_downloads
from .inputs import caution, prediction_line, show_tokens, token_box
from .lazy import near_screen
from .lesson import lesson_panel
from .linked import overview_panel
from .live_view import live_panel
from .picture import Picked as Picture
from .picture import what_the_model_sees
from .picture_attention import attention_on_picture, patch_features
from .questions import with_questions
from .sidebar import Picked, Settings, live_settings
from .unfamiliar import unfamiliar_caution
from .verdicts import badge, diagonal_panel, input_verdict
from .walkthrough import cell_panel, render_steps, selected_cell, step_exports

FIXED_STEPS = ("x", "h")  # steps the live settings do not change: drawn once per full run
LIVE_STEPS = tuple(step.key for step in STEPS if step.key not in FIXED_STEPS)
FRAGMENT = "text_live"  # the fragments' keys (st.rerun(key) reruns one alone)
IMAGE_FRAGMENT = "image_live"


def text_walkthrough(picked: Picked, text: str) -> None:
    """The tokens, prediction, every step and the formula panel of `text` under the model
    `picked`; the live settings' widgets go into the sidebar, inside the fragment."""
    settings = live_settings(picked, draw=False)  # x and h do not depend on them
    with friendly_errors():
        explanation = settings.explain(text)
    show_tokens(explanation, text, picked.model.config.text.max_len)
    head = st.container()
    head.empty()  # a write in the full run: the fragment may then fill the container
    # Until the user picks one, the cell is the input's strongest link between two tokens.
    lesson = attention_work.lesson_cell(explanation.trace.attn[0], explanation.trace.alpha[0])
    cell = selected_cell(len(explanation.tokens), default=lesson)
    live_panel(settings, picked, explanation, text, key="text_live_view", cell=cell)
    glance = st.container()  # the one-screen overview, filled by the fragment
    glance.empty()
    slots: dict[str, DeltaGenerator] = {}  # x's and h's Export menus: they name the settings
    with near_screen(state.TEXT_VIEWPORT, mount=False):  # x and h drawn when scrolled to
        render_steps(
            explanation,
            settings.config,
            cell=cell,
            extras=with_questions(None, settings, explanation, "steps"),
            only=FIXED_STEPS,
            page_download=False,
            export_slots=slots,
            inputs=settings.inputs,
        )
    _live_part(picked, text, head, glance, slots, settings.cache_key)


def _fragment_settings(picked: Picked, drawn_with: str | None) -> Settings:
    """The live settings' widgets, drawn by a page's fragment (a change reruns it alone). A
    similarity whose own checkpoint replaces the model (ui.sidebar's variants) changes h too:
    then the whole page reruns, not only the fragment (a full run draws x and h)."""
    settings = live_settings(picked)
    if settings.cache_key != drawn_with:
        st.rerun(scope="app")
    return settings


@st.fragment(key=FRAGMENT)
def _live_part(
    picked: Picked,
    text: str,
    head: DeltaGenerator,
    glance: DeltaGenerator,
    slots: dict[str, DeltaGenerator],
    drawn_with: str | None,
) -> None:
    settings = _fragment_settings(picked, drawn_with)
    lesson_panel()  # under the live settings: its link follows them
    with friendly_errors():
        explanation = settings.explain(text)
    found = input_verdict(settings, text)
    about = _provenance(settings, text, found)  # in every exported file
    cell = selected_cell(len(explanation.tokens))
    with head, st.container():  # see _prediction: its own container in the fragment
        _prediction(settings, explanation, text, about, cell, found)
    with glance, st.container():  # as head: its own container in the fragment
        overview_panel(explanation, settings.config, state.OVERVIEW_TEXT)

    def alpha() -> None:  # the tokens shaded by alpha, under the alpha step
        shading = trace_plots.token_shading_html(explanation.tokens, explanation.trace.alpha[0])
        token_box(len(explanation.tokens)).html(shading)

    def why() -> None:  # beside the attention matrix, when it is mostly diagonal
        diagonal_panel(settings, explanation, text, cell[0], found)

    extras = with_questions({"alpha": alpha, "attn": why}, settings, explanation, "steps")
    with near_screen(state.TEXT_VIEWPORT):  # a setting change redraws the charts in view
        _live_steps(settings, explanation, slots, cell, about, key="steps", extras=extras)
        query_key_panel(settings, explanation)


def _provenance(settings: Settings, label: str, found: Verdict | None) -> export.Provenance:
    """What exported files say made them: the model, the live settings, the input, its verdict."""
    about = settings.provenance(label)
    return about if found is None else replace(about, verdict=found.text)


def _live_steps(
    settings: Settings,
    explanation: Explanation,
    slots: dict[str, DeltaGenerator],
    cell: tuple[int, int],
    about: export.Provenance,
    *,
    key: str,
    extras: dict[str, Callable[[], None]] | None = None,
) -> None:
    """What a live setting changes below the prediction, on both pages: x's and h's Export
    menus (in their slots), the steps from the similarity on, and the formula panel."""
    step_exports(explanation, settings.config, slots, cell=cell, key=key, about=about)
    render_steps(
        explanation,
        settings.config,
        cell=cell,
        key=key,
        about=about,
        only=LIVE_STEPS,
        page_download=False,
        extras=extras,
        inputs=settings.inputs,
    )
    cell_panel(explanation, settings.config, model=settings.model)


def _prediction(
    settings: Settings,
    explanation: Explanation,
    text: str,
    about: export.Provenance,
    cell: tuple[int, int],
    found: Verdict | None,
) -> None:
    """The prediction line, the verdict's badge, the cautions, and the whole-trace downloads.

    Drawn by a fragment into a container of the full run, inside a container of its own:
    Streamlit 1.67 gives every element a fragment writes straight into an outside container
    the same delta path, so the second download button took the first one's deferred file
    (the JSON trace button then did nothing: "Deferred file ... not found")."""
    st.markdown(prediction_line(explanation))
    badge(settings, text, found)
    caution(settings.model, text)
    unfamiliar_caution(settings, text)
    trace_download(explanation, about=about)
    handout_downloads(explanation, settings.config, cell=cell, about=about, inputs=settings.inputs)
    code_download(settings, explanation, text)


def image_walkthrough(picked: Picked, picture: Picture) -> None:
    """The Image page below the picture picker: what the model sees, attention on the picture,
    every step and the formula panel; a live setting reruns all but the input x and h."""
    settings = live_settings(picked, draw=False)  # x and h do not depend on them
    with friendly_errors():
        explanation = settings.explain(picture.image)
    head = st.container()
    head.empty()  # a write in the full run: the fragment may then fill the container
    live_panel(settings, picked, explanation, picture.image, key="image_live_view")
    glance = st.container()  # the one-screen overview, filled by the fragment
    glance.empty()
    st.header(tr("Step by step"), divider="blue")
    downloads = st.container()
    downloads.empty()
    slots: dict[str, DeltaGenerator] = {}  # x's and h's Export menus: they name the settings
    with near_screen(state.IMAGE_VIEWPORT, mount=False):  # x and h drawn when scrolled to
        render_steps(
            explanation,
            settings.config,
            cell=selected_cell(len(explanation.tokens)),
            extras=with_questions(
                {"x": lambda: st.caption(patch_features(picked.model))},
                settings,
                explanation,
                "image",
            ),
            key="image_steps",
            only=FIXED_STEPS,
            page_download=False,
            export_slots=slots,
            inputs=settings.inputs,
        )
    _image_live(picked, picture, head, glance, downloads, slots, settings.cache_key)


@st.fragment(key=IMAGE_FRAGMENT)
def _image_live(
    picked: Picked,
    picture: Picture,
    head: DeltaGenerator,
    glance: DeltaGenerator,
    downloads: DeltaGenerator,
    slots: dict[str, DeltaGenerator],
    drawn_with: str | None,
) -> None:
    settings = _fragment_settings(picked, drawn_with)
    model = settings.model
    with friendly_errors():
        explanation = settings.explain(picture.image)
        pixels = images.resized_input(model, picture.image)
    with head:
        what_the_model_sees(picture, settings, explanation, pixels)
        attention_on_picture(model, explanation, pixels)
    with glance, st.container():
        overview_panel(explanation, settings.config, state.OVERVIEW_IMAGE)
    label = picture.source if picture.label is None else f"{picture.source}: {picture.label}"
    about = _provenance(settings, label, input_verdict(settings, picture.image))
    cell = selected_cell(len(explanation.tokens))
    with downloads, st.container():  # as in _prediction: distinct paths for the two buttons
        trace_download(explanation, name="image_trace", key="image_trace_json", about=about)
        handout_downloads(
            explanation, settings.config, cell=cell, key="image_steps", about=about,
            inputs=settings.inputs, picture=handout.picture_png(pixels),
        )  # fmt: skip
        code_download(settings, explanation, label, key=state.CODE_ZIP_IMAGE)
    why = lambda: diagonal_panel(settings, explanation, picture.image, cell[0])  # noqa: E731
    extras = with_questions({"attn": why}, settings, explanation, "image")
    with near_screen(state.IMAGE_VIEWPORT):  # a setting change redraws the charts in view
        _live_steps(settings, explanation, slots, cell, about, key="image_steps", extras=extras)
