"""Predict, then reveal in the app: explain.questions' question under each step of the
walk-through and on each slide, answered in the browser, when a lesson link asks for them
(`questions=on`, ui.lesson)."""

from __future__ import annotations

from collections.abc import Callable

from ..explain.questions import Question, questions
from ..inputs.classifier import Explanation
from . import lesson
from .cache import component
from .sidebar import Settings


def asked(settings: Settings, explanation: Explanation) -> dict[str, Question]:
    """The input's questions by step key under the live settings; {} unless this session's
    lesson link turned them on."""
    if not lesson.current().questions:
        return {}
    return questions(settings.model.core, explanation, settings.config)


def ask(question: Question, key: str) -> None:
    """The question with its choices as buttons (assets/question.js): a click reveals the
    answer and its numbers, in the browser."""
    data = {
        "prompt": question.prompt,
        "choices": list(question.choices),
        "answer": question.answer,
        "reveal": question.reveal,
    }
    component("question")(key=key, data=data)


def with_questions(
    extras: dict[str, Callable[[], None]] | None,
    settings: Settings,
    explanation: Explanation,
    key: str,
) -> dict[str, Callable[[], None]]:
    """render_steps' `extras` with each asked step's question drawn after what was there."""
    merged = dict(extras or {})
    for step, question in asked(settings, explanation).items():
        merged[step] = _then_ask(merged.get(step), question, f"{key}_question_{step}")
    return merged


def _then_ask(
    before: Callable[[], None] | None, question: Question, key: str
) -> Callable[[], None]:
    def draw() -> None:
        if before is not None:
            before()
        ask(question, key)

    return draw
