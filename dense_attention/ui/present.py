"""Presentation mode: one step of the model per slide, in large type, with Previous / Next
switching slides in the browser (every slide is on the page, each in a hidden tab)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from ..core.config import ModelConfig
from ..core.trace import Trace
from ..data import images
from ..explain import formulas, words
from ..explain.verdict import Verdict
from ..figures import image_plots
from ..figures.slides import Slide, on_screen, slide_title, speaker_note, steps_of
from ..inputs.classifier import Classifier, Explanation
from ..storage import catalog
from . import browser, share, state
from .cache import cached, checkpoints, component
from .inputs import prediction_line, token_box
from .sidebar import Settings
from .styles import PRESENT_CSS, SLIDE_FONT_PX, md, token_chips_html
from .walkthrough import titled_figures

SLIDE_CHART_PX = 340  # a slide's chart; 720 px = input row + controls + title + chart + notes


def training_metadata(settings: Settings) -> dict[str, Any]:
    """The model's training metadata (dataset, split_seed, limit...): a shipped checkpoint's,
    or that of a model trained or uploaded in this browser; {} when unknown."""
    shipped = checkpoints().get(settings.model_name)
    if shipped is None:
        return browser.user_metadata(settings.model_name)
    return catalog.training_metadata(shipped)


def picture_choice(settings: Settings) -> Any:
    """The present page's picture picker: a picture opened from the dataset page, the model's
    own test-set pictures, then demo photos."""
    opened = st.session_state.get(state.DATASET_PICTURE)  # (name, picture, class) or None
    dataset = {opened[0]: opened[1]} if opened else {}
    pictures = dataset | images.presentation_pictures(training_metadata(settings))
    if st.session_state.get(state.PRESENT_PHOTO) not in pictures:  # e.g. from another model
        st.session_state.pop(state.PRESENT_PHOTO, None)
    return pictures[st.selectbox("Picture", list(pictures), key=state.PRESENT_PHOTO)]


def current_slide(n: int) -> int:
    """The slide index in st.session_state[SLIDE] (0-based; it may come from a shared URL),
    clamped into 0..n-1 and stored back."""
    try:
        k = int(st.session_state.get(state.SLIDE, 0))
    except (TypeError, ValueError):
        k = 0
    st.session_state[state.SLIDE] = k = min(max(k, 0), n - 1)
    return k


def slide_controls(n: int) -> int:
    """Previous, "Slide k of n", Next (disabled at the ends; also ← / →, PageUp / PageDown):
    assets/slide_deck.js, which switches the slides' tabs in the browser, with no rerun, and
    keeps the URL's `slide`. Returns the slide to open with: the URL's (the deck's, or a
    link's), else the one this session last knew, else the first."""
    shown = share.slide_in_url()
    if shown is not None:
        st.session_state[state.SLIDE] = shown
    k = current_slide(n)
    with st.container(key=state.SLIDE_CONTROLS):
        component("slide_deck")(key="slide_deck", data={"n": n})
    return k


def slide_input(model: Classifier, item: Any, explanation: Explanation) -> None:
    """What the model reads, for the first slide: the tokens as chips, or the picture as the
    model sees it, cut into its patches."""
    tokens = list(explanation.tokens)
    if model.config.kind == "text":
        token_box(len(tokens)).html(token_chips_html(tokens))
        return
    cfg = model.config.image
    title = f"The {cfg.size}×{cfg.size} input, cut into {cfg.num_patches} patches"
    pixels = images.resized_input(model, item)
    grid = cached(image_plots.image_with_grid, pixels, cfg.patch, tokens, title)
    st.plotly_chart(grid, width="stretch", key="slide_input_grid")


def _slide_figures(
    trace: Trace,
    tokens: list[str],
    classes: list[str],
    titles: dict[str, str],
    hover: list[str] | None = None,
) -> dict[str, go.Figure]:
    """The walk-through's figures (with the model's own `titles`, words.chart_titles) in larger
    type, at most SLIDE_CHART_PX tall so a slide fits a 1280 x 720 projector with its notes
    toggle (its own copies: cached figures are shared)."""
    figures = titled_figures(trace, tokens, classes, titles, hover=hover)
    for fig in figures.values():
        fig.update_layout(font_size=SLIDE_FONT_PX, title_font_size=round(SLIDE_FONT_PX * 1.4))
        fig.update_layout(height=min(fig.layout.height or SLIDE_CHART_PX, SLIDE_CHART_PX))
    return figures


def render_deck(
    slides: Sequence[Slide],
    explanation: Explanation,
    config: ModelConfig,
    current: int = 0,
    show_input: Callable[[], None] | None = None,
    inputs: words.Inputs = None,
    found: Verdict | None = None,
) -> None:
    """Every slide, each in its tab (the tab strip hidden: slide_controls switches them), the
    `current` one shown: a slide change is then the browser's alone. Titles, captions and
    notes are the ones of `config` (the live settings in) and `inputs` (the encoder's config);
    `found`, the input's verdict, goes under the prediction and into that slide's speaker
    notes."""
    figures = cached(
        _slide_figures,
        explanation.trace,
        list(explanation.tokens),
        list(explanation.classes),
        words.chart_titles(config),
        explanation.hover_tokens,
    )
    st.html(PRESENT_CSS)
    with st.container(key=state.SLIDE_VIEW):
        titles = [slide_title(slide, config) for slide in slides]
        tabs = st.tabs(titles, default=titles[current], key=state.SLIDE_TABS)
        for slide, tab in zip(slides, tabs, strict=True):
            with tab:
                _slide(slide, explanation, config, inputs, figures[slide.figure], show_input, found)


def _slide(
    slide: Slide,
    explanation: Explanation,
    config: ModelConfig,
    inputs: words.Inputs,
    figure: go.Figure,
    show_input: Callable[[], None] | None,
    found: Verdict | None = None,
) -> None:
    """One slide in large type: its title, the formulas of its steps (for `config`, the live
    settings in, and `inputs`, the encoder's config) each with its sentence, its figure, and
    the speaker notes in an expander. `show_input` draws the input under the first slide's
    formula."""
    trace = explanation.trace
    st.title(slide_title(slide, config))
    text, picture = st.columns([2, 3], gap="large")
    with text:
        for step in steps_of(slide):
            st.latex(formulas.step_latex(step.key, trace.similarity, config, trace.temperature))
            st.markdown(words.caption(step.key, config, inputs))
        if slide.key == "input" and show_input is not None:
            show_input()
        if slide.figure == "probs":
            st.markdown(prediction_line(explanation))
            if found is not None:
                st.markdown(f"**{md(found.headline)}.**")
    with picture:
        st.plotly_chart(figure, width="stretch", key=f"slide_{slide.key}")
    with st.expander("Speaker notes", icon=":material/record_voice_over:"):
        st.markdown(speaker_note(slide, config, inputs))
        st.markdown(f"**On screen:** {md(on_screen(slide, explanation, config))}")
        if slide.figure == "probs" and found is not None:
            st.markdown(f"**Does attention decide?** {md(found.text)}")
