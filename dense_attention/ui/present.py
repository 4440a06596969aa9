"""Presentation mode: one step of the model per slide, in large type, with Previous / Next."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from .. import catalog, formulas, images, plots
from ..classifier import Classifier, Explanation
from ..config import ModelConfig
from ..slides import Slide, on_screen, steps_of
from ..trace import Trace
from . import browser, state
from .cache import cached, checkpoints
from .inputs import prediction_line, token_box
from .sidebar import Settings
from .styles import PRESENT_CSS, SLIDE_FONT_PX, centered, escape_markdown, token_chips_html


def training_metadata(settings: Settings) -> dict[str, Any]:
    """The model's training metadata (dataset, split_seed, limit...): a shipped checkpoint's,
    or that of a model trained or uploaded in this browser; {} when unknown."""
    shipped = checkpoints().get(settings.model_name)
    if shipped is None:
        return browser.user_metadata(settings.model_name)
    return catalog.training_metadata(shipped)


def picture_choice(settings: Settings) -> Any:
    """The present page's picture picker: the model's own test-set pictures, then demo photos."""
    pictures = images.presentation_pictures(training_metadata(settings))
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


def _step_slide(delta: int, n: int) -> None:
    st.session_state[state.SLIDE] = min(max(current_slide(n) + delta, 0), n - 1)


# Arrow keys and PageUp / PageDown (what presentation clickers send) press Previous / Next, found
# by the CSS class of their key; typing in a text box is left alone. Installed once per page.
SLIDE_KEYS_JS = """<script>
const doc = window.parent.document;
if (!doc.dalSlideKeys) {
  doc.dalSlideKeys = true;
  doc.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target && (["INPUT", "TEXTAREA"].includes(target.tagName) || target.isContentEditable)) {
      return;
    }
    const forward = ["ArrowRight", "PageDown"].includes(event.key);
    const back = ["ArrowLeft", "PageUp"].includes(event.key);
    if (!forward && !back) return;
    const button = doc.querySelector(`.st-key-${forward ? "slide_next" : "slide_previous"} button`);
    if (button && !button.disabled) {
      event.preventDefault();
      button.click();
    }
  });
}
</script>"""


def slide_controls(n: int) -> int:
    """Previous, "Slide k of n", Next (disabled at the ends; also ← / →, PageUp / PageDown);
    returns the current slide index."""
    k = current_slide(n)
    st.iframe(SLIDE_KEYS_JS, height=1)
    with st.container(key=state.SLIDE_CONTROLS):
        back, counter, forward = st.columns([1, 2, 1], vertical_alignment="center")
    back.button(
        "Previous", key="slide_previous", on_click=_step_slide, args=(-1, n), disabled=k == 0,
        icon=":material/arrow_back:", width="stretch",
    )  # fmt: skip
    counter.markdown(centered(f"Slide {k + 1} of {n}"), unsafe_allow_html=True)
    forward.button(
        "Next", key="slide_next", on_click=_step_slide, args=(1, n), disabled=k == n - 1,
        icon=":material/arrow_forward:", icon_position="right", type="primary", width="stretch",
    )  # fmt: skip
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
    grid = cached(plots.image_with_grid, pixels, cfg.patch, tokens, title)
    st.plotly_chart(grid, width="stretch", key="slide_input_grid")


def _slide_figures(
    trace: Trace, tokens: list[str], classes: list[str], hover: list[str] | None = None
) -> dict[str, go.Figure]:
    """plots.trace_figures in larger type (its own copies: cached figures are shared)."""
    figures = plots.trace_figures(trace, tokens, classes, hover=hover)
    for fig in figures.values():
        fig.update_layout(font_size=SLIDE_FONT_PX, title_font_size=round(SLIDE_FONT_PX * 1.4))
    return figures


def render_slide(
    slide: Slide,
    explanation: Explanation,
    config: ModelConfig,
    show_input: Callable[[], None] | None = None,
) -> None:
    """One slide in large type: its title, the formulas of its steps (for `config`, the live
    settings) each with its sentence, its figure, and the speaker notes in an expander.
    `show_input` draws the input under the first slide's formula."""
    trace = explanation.trace
    figures = cached(
        _slide_figures,
        trace,
        list(explanation.tokens),
        list(explanation.classes),
        explanation.hover_tokens,
    )
    st.html(PRESENT_CSS)
    with st.container(key=state.SLIDE_VIEW):
        st.title(slide.title)
        words, picture = st.columns([2, 3], gap="large")
        with words:
            for step in steps_of(slide):
                st.latex(formulas.step_latex(step.key, trace.similarity, config, trace.temperature))
                st.markdown(step.explanation)
            if slide.key == "input" and show_input is not None:
                show_input()
            if slide.figure == "probs":
                st.markdown(prediction_line(explanation))
        with picture:
            st.plotly_chart(figures[slide.figure], width="stretch", key=f"slide_{slide.key}")
        with st.expander("Speaker notes", icon=":material/record_voice_over:"):
            st.markdown(slide.note)
            st.markdown(f"**On screen:** {escape_markdown(on_screen(slide, explanation))}")
