"""Presentation mode: one step of the model per slide, in large type, with Previous / Next
switching slides in the browser (every slide is on the page, each in a hidden tab). The
audience window shows the slides alone; its presenter view (ui.presenter) the notes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from ..core.config import ModelConfig
from ..core.i18n import tr
from ..core.trace import Trace
from ..data import images
from ..explain import formulas, words
from ..explain.questions import Question
from ..explain.verdict import Verdict
from ..figures import image_plots
from ..figures.slides import Slide, slide_question, slide_title, steps_of
from ..inputs.classifier import Classifier, Explanation
from ..storage import catalog
from . import browser, presenter, share, state
from .cache import cached, checkpoints, component
from .inputs import prediction_line
from .questions import ask
from .sidebar import Settings
from .styles import PRESENT_CSS, SLIDE_FONT_PX, md, token_chips_html
from .walkthrough import titled_figures

SLIDE_CHART_PX = 340  # a slide's chart; 720 px = input row + controls + title + chart
QUESTION_PX = 110  # a two-step slide's question goes under its chart, this much shorter
SLIDE_CHIPS_MAX, SLIDE_CHIPS_PX = 10, 130  # more tokens than this scroll in a box this tall
PRESENTER_PARAM = "presenter"  # ?presenter=1: this window is the presenter view


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
    return pictures[st.selectbox(tr("Picture"), list(pictures), key=state.PRESENT_PHOTO)]


def current_slide(n: int) -> int:
    """The slide index in st.session_state[SLIDE] (0-based; it may come from a shared URL),
    clamped into 0..n-1 and stored back."""
    try:
        k = int(st.session_state.get(state.SLIDE, 0))
    except (TypeError, ValueError):
        k = 0
    st.session_state[state.SLIDE] = k = min(max(k, 0), n - 1)
    return k


def presenter_window() -> bool:
    """Whether this window is the presenter view (the URL's presenter=1, as the audience
    window's "Open presenter view" link opens it)."""
    return st.query_params.get(PRESENTER_PARAM) == "1"


def slide_controls(n: int, presenting: bool = False) -> int:
    """Previous, "Slide k of n", Next (disabled at the ends; also ← / →, PageUp / PageDown)
    and "Open presenter view" (in the presenter view: its timer): assets/slide_deck.js, which
    switches the slides' tabs in the browser, with no rerun, keeps the URL's `slide` and keeps
    the audience window and its presenter view on the same slide. Returns the slide to open
    with: the URL's (the deck's, or a link's), else the one this session last knew, else the
    first."""
    shown = share.slide_in_url()
    if shown is not None:
        st.session_state[state.SLIDE] = shown
    k = current_slide(n)
    with st.container(key=state.SLIDE_CONTROLS):
        words = {
            "previous": tr("← Previous"),
            "next": tr("Next →"),
            "count": tr("Slide {k} of {n}"),
            "presenter": tr("Open presenter view"),
            "timer": tr("Time presenting"),
            "reset": tr("Reset"),
        }
        data = {"n": n, "presenter": presenting, "words": words}
        component("slide_deck")(key="slide_deck", data=data)
    return k


def slide_input(model: Classifier, item: Any, explanation: Explanation) -> None:
    """What the model reads, for the first slide: the tokens as chips, or the picture as the
    model sees it, cut into its patches."""
    tokens = list(explanation.tokens)
    if model.config.kind == "text":  # past a few rows of chips, they scroll: the slide fits
        box = (
            st.container(height=SLIDE_CHIPS_PX) if len(tokens) > SLIDE_CHIPS_MAX else st.container()
        )
        box.html(token_chips_html(tokens))
        return
    cfg = model.config.image
    title = tr(
        "The {size}×{size} input, cut into {num_patches} patches",
        size=cfg.size,
        num_patches=cfg.num_patches,
    )
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
    asked: dict[str, Question] | None = None,
    presenting: bool = False,
) -> None:
    """Every slide, each in its tab (the tab strip hidden: slide_controls switches them), the
    `current` one shown: a slide change is then the browser's alone. Titles, captions and
    notes are the ones of `config` (the live settings in) and `inputs` (the encoder's config);
    `found`, the input's verdict, goes under the prediction (and into the speaker notes).
    `asked` (ui.questions.asked) puts a question on the slides that have one. With
    `presenting`, each tab is the presenter view's (ui.presenter): the slide, its speaker
    notes and the next slide."""
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
        for k, (slide, tab) in enumerate(zip(slides, tabs, strict=True)):
            question = slide_question(slide, asked or {})
            with tab:
                if presenting:
                    following = slides[k + 1] if k + 1 < len(slides) else None
                    view = presenter.SlideView(slide, explanation, config, inputs, found)
                    presenter.presenter_slide(view, figures, following, show_input, question)
                    continue
                _slide(slide, explanation, config, inputs, figures[slide.figure], show_input,
                       found, question)  # fmt: skip


def _slide(
    slide: Slide,
    explanation: Explanation,
    config: ModelConfig,
    inputs: words.Inputs,
    figure: go.Figure,
    show_input: Callable[[], None] | None,
    found: Verdict | None = None,
    question: Question | None = None,
) -> None:
    """One slide in large type, for the audience (no speaker notes: the presenter view has
    them): its title, the formulas of its steps (for `config`, the live settings in, and
    `inputs`, the encoder's config) each with its sentence, its question if any, and its
    figure. `show_input` draws the input under the first slide's formula."""
    trace = explanation.trace
    st.title(slide_title(slide, config))
    text, picture = st.columns([1, 1], gap="large")
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
        if question is not None and len(slide.steps) == 1:
            ask(question, f"slide_question_{slide.key}")
    with picture:
        beside = question is not None and len(slide.steps) > 1  # the text column is full
        if beside:  # under a shorter chart
            figure = go.Figure(figure).update_layout(height=SLIDE_CHART_PX - QUESTION_PX)
        st.plotly_chart(figure, width="stretch", key=f"slide_{slide.key}")
        if beside:
            ask(question, f"slide_question_{slide.key}")
