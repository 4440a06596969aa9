"""slides: the presentation walks through every step of the model, in order, with notes."""

import pytest

from dense_attention.core.toy import toy_example
from dense_attention.explain import formulas
from dense_attention.figures import trace_plots
from dense_attention.figures.slides import SLIDES, steps_of


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
    figures = trace_plots.trace_figures(toy.trace(), toy.tokens, toy.class_names)
    assert slide.figure in figures and slide.figure in slide.steps
    assert slide.title.strip()
    assert 1 <= slide.note.count(". ") + 1 <= 3 and slide.note.endswith(".")
    assert [step.key for step in steps_of(slide)] == list(slide.steps)


def test_speaker_notes_quote_the_numbers_on_screen():
    from dense_attention.figures.slides import on_screen
    from dense_attention.inputs.classifier import Explanation

    toy = toy_example()
    trace = toy.trace()
    explanation = Explanation(trace, list(toy.tokens), 0, toy.class_names)
    k = int(trace.alpha[0].argmax())
    j = int(trace.attn[0, k].argmax())
    by_key = {s.key: s for s in SLIDES}
    row = on_screen(by_key["attention"], explanation)
    assert f"Row {k + 1} ({toy.tokens[k]!r}" in row and f"{toy.tokens[j]!r}" in row
    assert f"a = {float(trace.attn[0, k, j]):.2f}" in row
    assert f"The largest α is {float(trace.alpha[0, k]):.2f}" in on_screen(
        by_key["alpha"], explanation
    )
    top = int(trace.probs[0].argmax())
    assert on_screen(by_key["output"], explanation) == (
        f"The model predicts {toy.class_names[top]!r} at {float(trace.probs[0, top]):.1%}."
    )
