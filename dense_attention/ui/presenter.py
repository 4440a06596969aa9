"""The presenter view: the second window "Open presenter view" opens (?presenter=1), one tab per
slide as the audience window has, each with the slide, its speaker notes (the model's words,
the slide's numbers, the verdict and the question's answer) and the next slide; the timer and
the two windows' shared slide are assets/slide_deck.js's."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

from ..core.config import ModelConfig
from ..core.i18n import tr
from ..explain import formulas, words
from ..explain.questions import Question
from ..explain.verdict import Verdict
from ..figures.slides import Slide, on_screen, slide_title, speaker_note, steps_of
from ..inputs.classifier import Explanation
from .styles import md

NOW_CHART_PX = 300  # the current slide's chart in the presenter view
NEXT_CHART_PX = 200  # the next slide's


@dataclass(frozen=True)
class SlideView:
    """One slide of one input, as the deck draws it."""

    slide: Slide
    explanation: Explanation
    config: ModelConfig  # the trained config with the live settings in
    inputs: words.Inputs  # the encoder's config (what x is)
    found: Verdict | None = None  # the input's verdict (the last slide's notes say it)


def notes(view: SlideView, question: Question | None = None) -> list[str]:
    """The slide's speaker notes as markdown paragraphs: the model's words, the numbers on
    screen (the instructive link on the attention slides), the verdict on the last slide and
    the answer to the slide's question."""
    slide, explanation, config = view.slide, view.explanation, view.config
    said = [
        speaker_note(slide, config, view.inputs),
        tr("**On screen:** {on_screen}", on_screen=md(on_screen(slide, explanation, config))),
    ]
    if slide.figure == "probs" and view.found is not None:
        said.append(tr("**Does attention decide?** {text}", text=md(view.found.text)))
    if question is not None:
        said.append(
            tr(
                "**Question:** {prompt} **Answer:** {right}. {reveal}",
                prompt=md(question.prompt),
                right=md(question.right),
                reveal=md(question.reveal),
            )
        )
    return said


def _smaller(figure: go.Figure, height: int) -> go.Figure:
    """A copy of a slide's figure at `height` px (cached figures are shared: never changed)."""
    small = go.Figure(figure)
    small.update_layout(height=height, font_size=12, title_font_size=15)
    return small


def presenter_slide(
    view: SlideView,
    figures: Mapping[str, go.Figure],
    following: Slide | None,
    show_input: Callable[[], None] | None = None,
    question: Question | None = None,
) -> None:
    """One tab of the presenter view: the slide (title, formulas, figure) on the left; its
    speaker notes and the next slide (`following`, None after the last) on the right."""
    slide, trace, config = view.slide, view.explanation.trace, view.config
    now, side = st.columns([3, 2], gap="large")
    with now:
        st.subheader(slide_title(slide, config), divider="gray")
        for step in steps_of(slide):
            st.latex(formulas.step_latex(step.key, trace.similarity, config, trace.temperature))
        if slide.key == "input" and show_input is not None:
            show_input()
        chart = _smaller(figures[slide.figure], NOW_CHART_PX)
        st.plotly_chart(chart, width="stretch", key=f"presenter_now_{slide.key}")
    with side, st.container(key=f"presenter_notes_{slide.key}"):
        st.markdown(tr("**Speaker notes**"))
        for paragraph in notes(view, question):
            st.markdown(paragraph)
    with side:
        if following is None:
            st.markdown(tr("**Next:** nothing, this is the last slide."))
            return
        st.markdown(tr("**Next: {slide_title}**", slide_title=md(slide_title(following, config))))
        chart = _smaller(figures[following.figure], NEXT_CHART_PX)
        st.plotly_chart(chart, width="stretch", key=f"presenter_next_{slide.key}")
