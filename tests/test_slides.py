"""slides: the presentation walks through every step of the model, in order, with notes."""

import pytest

from dense_attention import formulas, plots
from dense_attention.slides import SLIDES, steps_of
from dense_attention.toy import toy_example


def test_slides_cover_every_step_once_in_order():
    shown = [key for slide in SLIDES for key in slide.steps]
    assert shown == list(formulas.STEP_KEYS)
    assert [s.key for s in SLIDES] == [
        "input", "h", "scores", "attention", "values", "alpha", "c", "output"
    ]  # fmt: skip
    assert len({s.key for s in SLIDES}) == len({s.title for s in SLIDES}) == len(SLIDES)


@pytest.mark.parametrize("slide", SLIDES, ids=lambda s: s.key)
def test_every_slide_has_a_figure_a_title_and_notes(slide):
    toy = toy_example()
    figures = plots.trace_figures(toy.trace(), toy.tokens, toy.class_names)
    assert slide.figure in figures and slide.figure in slide.steps
    assert slide.title.strip()
    assert 1 <= slide.note.count(". ") + 1 <= 3 and slide.note.endswith(".")
    assert [step.key for step in steps_of(slide)] == list(slide.steps)
