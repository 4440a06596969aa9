"""slides: the presentation walks through every step of the model, in order, with notes."""

import re

import pytest
import torch
from tiny import CHOICES

from dense_attention.core import config as choices
from dense_attention.core.config import ModelConfig
from dense_attention.core.toy import toy_example
from dense_attention.explain import formulas
from dense_attention.explain.questions import questions
from dense_attention.figures import trace_plots
from dense_attention.figures.slides import (
    SLIDES,
    on_screen,
    slide_question,
    slide_title,
    speaker_note,
    steps_of,
)
from dense_attention.inputs.classifier import Explanation
from dense_attention.inputs.image_encoder import ImageConfig
from dense_attention.inputs.text_encoder import TextConfig

CONFIGS = [
    ModelConfig(
        12,
        6,
        3 + k % 5,
        similarity=sim,
        temperature=(0.07, 1.0, 5.0)[k % 3],
        activation=act,
        pooling=pooling,
        pool_activation=pool,
        skip=skip,
        sequence_encoder=encoder,
    )  # fmt: skip
    for k, (sim, act, pooling, pool, skip, encoder) in enumerate(CHOICES)
]
INPUTS = [TextConfig(mode=m) for m in ("learned", "minilm_static", "minilm_contextual")]
INPUTS += [ImageConfig(pos_dim=0), None]
POOL_SYMBOLS = {"identity": None, "tanh": "tanh", "sigmoid": "sigmoid", "relu": "ReLU"}


def claims(config: ModelConfig, inputs) -> list[str]:
    """What is wrong in the slides' titles and notes for this model (empty: nothing)."""
    notes = {s.key: speaker_note(s, config, inputs) for s in SLIDES}
    text = " ".join([*notes.values(), *(slide_title(s, config) for s in SLIDES)])
    wrong = []
    if config.skip == "none" and re.search(r"beside|plain mean of the hidden", notes["output"]):
        wrong.append("h_o read under skip none")
    if config.skip == "mean" and "beside h_o" not in notes["output"]:
        wrong.append("h_o not said under skip mean")
    if config.pooling == "mean" and re.search(r"learned attention|α-weighted|leans on", text):
        wrong.append("a learned α under mean pooling")
    if "σ" in text:
        wrong.append("σ instead of the activation")
    symbol = POOL_SYMBOLS[config.pool_activation]
    others = [s for s in POOL_SYMBOLS.values() if s and s != symbol and s in notes["c"]]
    if others or (symbol and f"{symbol}(" not in notes["c"]):
        wrong.append(f"c's note names {others} for {config.pool_activation}")
    contextual = isinstance(inputs, TextConfig) and inputs.mode == "minilm_contextual"
    unmixed = "No token has looked at any other yet" in notes["h"]
    if unmixed == (config.sequence_encoder != "none" or contextual):
        wrong.append("the dense layer's note misstates whether tokens saw each other")
    if config.similarity not in notes["scores"] or f"τ = {config.temperature:g}" not in text:
        wrong.append("the scores note does not name the similarity and τ")
    if f"{config.num_classes} classes" not in notes["output"]:
        wrong.append("the output note does not count the classes")
    return wrong


def test_no_slide_claims_a_path_the_model_does_not_have():
    problems = {}
    for k, config in enumerate(CONFIGS):
        inputs = INPUTS[k % len(INPUTS)]
        wrong = claims(config, inputs)
        if wrong:
            problems[(config, inputs)] = wrong
    assert not problems, list(problems.items())[:3]


def test_the_home_models_slide_8_reads_c_alone():
    """bbc-topics is trained with skip none: slide 8 and its note never speak of h_o's mean."""
    config = ModelConfig(400, 64, 5, similarity="cosine", temperature=0.07, skip="none")
    note = speaker_note(SLIDES[-1], config, TextConfig(mode="minilm_contextual", max_len=128))
    assert "c alone" in note and "plain mean" not in note and "5 classes" in note
    assert claims(config, None) == []


def test_mean_pooling_slides_say_every_token_counts_the_same():
    config = ModelConfig(8, 6, 2, pooling="mean")
    by_key = {s.key: s for s in SLIDES}
    assert slide_title(by_key["alpha"], config) == "6 · Every token counts the same"
    assert "learned attention" not in speaker_note(by_key["alpha"], config)
    toy = toy_example()
    with torch.no_grad():
        trace = toy.model.trace(toy.x, pooling="mean")
    explanation = Explanation(trace, list(toy.tokens), 0, toy.class_names)
    n = len(toy.tokens)
    assert on_screen(by_key["alpha"], explanation, config) == (
        f"Every α is 1/N = {1 / n:.2f} here ({n} tokens, mean pooling)."
    )
    assert "largest α" not in on_screen(by_key["attention"], explanation, config)


def test_slides_cover_every_step_once_in_order():
    shown = [key for slide in SLIDES for key in slide.steps]
    assert shown == list(formulas.STEP_KEYS)
    assert [s.key for s in SLIDES] == [
        "input", "h", "scores", "attention", "values", "alpha", "c", "output"
    ]  # fmt: skip
    assert len({s.key for s in SLIDES}) == len({s.title for s in SLIDES}) == len(SLIDES)
    for pooling in choices.POOLINGS:
        config = ModelConfig(8, 6, 2, pooling=pooling)
        assert len({slide_title(s, config) for s in SLIDES}) == len(SLIDES)


@pytest.mark.parametrize("slide", SLIDES, ids=lambda s: s.key)
def test_every_slide_has_a_figure_a_title_and_notes(slide):
    toy = toy_example()
    figures = trace_plots.trace_figures(toy.trace(), toy.tokens, toy.class_names)
    assert slide.figure in figures and slide.figure in slide.steps
    assert slide.title.strip()
    for config in CONFIGS:
        note = speaker_note(slide, config, TextConfig())
        assert 1 <= note.count(". ") + 1 <= 3 and note.endswith("."), note
    assert [step.key for step in steps_of(slide)] == list(slide.steps)


def test_speaker_notes_quote_the_numbers_on_screen():
    toy = toy_example()
    trace = toy.trace()
    explanation = Explanation(trace, list(toy.tokens), 0, toy.class_names)
    k = int(trace.alpha[0].argmax())
    by_key = {s.key: s for s in SLIDES}
    # The notes point at the instructive link (largest α_i·a_ij with i != j), not at a token
    # looking at itself: found here by brute force over the off-diagonal cells.
    n = len(toy.tokens)
    weight = lambda ij: float(trace.alpha[0, ij[0]] * trace.attn[0, ij[0], ij[1]])  # noqa: E731
    i, j = max(((i, j) for i in range(n) for j in range(n) if i != j), key=weight)
    row = on_screen(by_key["attention"], explanation)
    assert f"{toy.tokens[i]!r} (token {i + 1}) to {toy.tokens[j]!r} (token {j + 1})" in row
    assert f"a = {float(trace.attn[0, i, j]):.2f}" in row and f"α·a = {weight((i, j)):.2f}" in row
    assert f"to itself: {float(trace.attn[0, i, i]):.2f}" in row
    score = on_screen(by_key["scores"], explanation)
    assert f"s = {float(trace.scores[0, i, j]):.2f}" in score
    assert f"with itself: {float(trace.scores[0, i, i]):.2f}" in score
    assert f"takes a = {float(trace.attn[0, i, j]):.2f} of h of {toy.tokens[j]!r}" in on_screen(
        by_key["values"], explanation
    )
    assert f"The largest α is {float(trace.alpha[0, k]):.2f}" in on_screen(
        by_key["alpha"], explanation
    )
    top = int(trace.probs[0].argmax())
    assert on_screen(by_key["output"], explanation) == (
        f"The model predicts {toy.class_names[top]!r} at {float(trace.probs[0, top]):.1%}."
    )


def test_each_slide_carries_the_question_of_its_first_asked_step():
    toy = toy_example()
    trace = toy.trace()
    explanation = Explanation(trace, list(toy.tokens), 0, toy.class_names)
    asked = questions(toy.model, explanation, toy.model.config)
    carried = {s.key: slide_question(s, asked) for s in SLIDES}
    assert carried["input"] is None
    assert carried["scores"] is asked["scores"] and carried["output"] is asked["probs"]
    assert [carried[k].step for k in ("h", "attention", "values", "alpha", "c")] == [
        "h", "attn", "values", "alpha", "c"
    ]  # fmt: skip
