"""questions: each answer is the one the trace (or a forward pass by hand) gives, and the words
fit the model's config."""

import json
import math
import re
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
import torch
from pagetest import APP, run
from playwright.sync_api import Page, expect
from streamlit.testing.v1 import AppTest
from tiny import dense_model

from dense_attention import ModelConfig
from dense_attention.explain import faithfulness
from dense_attention.explain.questions import CHOICES_MAX, NO, YES, questions
from dense_attention.inputs.classifier import Explanation
from dense_attention.storage import checkpoint
from dense_attention.ui import cache

TOKENS = ["the", "market", "charts", "rose", "today", "sharply"]
CLASSES = ("business", "sport", "tech")
SENTENCE = "Voters head to the polls as markets rally"
DOCS = Path(__file__).resolve().parent.parent / "docs"


def explained(model, seed: int = 0, tokens=TOKENS, **settings) -> Explanation:
    x = torch.randn(
        1, len(tokens), model.config.input_dim, generator=torch.Generator().manual_seed(seed)
    )
    with torch.no_grad():
        trace = model.trace(x, torch.ones(1, len(tokens), dtype=torch.bool), **settings)
    return Explanation(trace, list(tokens), 0, CLASSES)


def by_hand(model, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """h = gelu(W x + b) and a = softmax(h hᵀ / √d) (scaled_dot, τ = 1), from the weights."""
    with torch.no_grad():
        h = torch.nn.functional.gelu(model.dense(x[0])).double().numpy()
    s = h @ h.T / math.sqrt(h.shape[1])
    a = np.exp(s - s.max(axis=1, keepdims=True))
    return h, a / a.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(6))
def test_attend_most_and_keeps_match_attention_computed_by_hand(seed):
    model = dense_model(seed, dims=(6, 8, 3))
    explanation = explained(model, seed)
    asked = questions(model, explanation, model.config)
    _, a = by_hand(model, explanation.trace.x)
    alpha = explanation.trace.alpha[0].double().numpy()
    link = alpha[:, None] * a
    np.fill_diagonal(link, -np.inf)
    i = int(np.unravel_index(np.argmax(link), link.shape)[0])  # the instructive query
    q = asked["scores"]
    assert f"'{TOKENS[i]}'" in q.prompt
    j = int(a[i].argmax())
    assert q.right == ("itself" if j == i else f"'{TOKENS[j]}'")
    assert f"a = {a[i, j]:.2f}" in q.reveal
    assert len(q.choices) == CHOICES_MAX and len(set(q.choices)) == CHOICES_MAX
    keep = asked["attn"]
    band = keep.right
    if a[i, i] < 1 / len(TOKENS):
        assert band.startswith("Less than")
    elif a[i, i] <= 0.5:
        assert band.startswith("Between")
    else:
        assert band == "More than half"
    assert f"a = {a[i, i]:.2f} on the diagonal" in keep.reveal


def test_uniform_attention_question_matches_a_forward_pass_by_hand():
    """Uniform attention makes every v_i the mean of h, whatever α: c = tanh(mean h), and the
    output layer reads [c; mean h]."""
    seen = set()
    for seed in range(12):
        model = dense_model(seed, dims=(6, 8, 3))
        explanation = explained(model, seed)
        h, _ = by_hand(model, explanation.trace.x)
        mean = torch.as_tensor(h.mean(axis=0), dtype=torch.float32)
        with torch.no_grad():
            logits = model.out(torch.cat([torch.tanh(mean), mean]))
        p = torch.softmax(logits, dim=-1).double().numpy()
        before = int(explanation.trace.probs[0].argmax())
        q = questions(model, explanation, model.config)["c"]
        flipped = int(p.argmax()) != before
        assert q.right == (YES if flipped else NO)
        assert f"to {p[before]:.2f}" in q.reveal
        seen.add(flipped)
    assert seen == {True, False}  # both answers occur: the test can fail either way


@pytest.mark.parametrize("seed", range(8))
def test_no_attention_question_agrees_with_the_faithfulness_ablation(seed):
    model = dense_model(seed, dims=(6, 8, 3))
    explanation = explained(model, seed)
    ablation = faithfulness.ablations_of(model, explanation.trace.x)["no_attention"]
    q = questions(model, explanation, model.config)["values"]
    assert q.right == (YES if ablation.flipped else NO)


def test_largest_alpha_and_prediction_come_from_the_trace():
    model = dense_model(3, dims=(6, 8, 3))
    explanation = explained(model, 3)
    asked = questions(model, explanation, model.config)
    alpha, probs = explanation.trace.alpha[0], explanation.trace.probs[0]
    k, top = int(alpha.argmax()), int(probs.argmax())
    assert asked["alpha"].right == f"'{TOKENS[k]}'"
    assert f"α = {float(alpha[k]):.2f}" in asked["alpha"].reveal
    assert asked["probs"].right == f"'{CLASSES[top]}'"
    assert f"{float(probs[top]):.1%}" in asked["probs"].reveal
    assert asked["h"].right == "8" and "D = 6" in asked["h"].reveal


def test_under_mean_pooling_no_token_gets_the_largest_alpha():
    model = dense_model(1, dims=(6, 8, 3))
    explanation = explained(model, 1, pooling="mean")
    config = ModelConfig(6, 8, 3, similarity="scaled_dot", activation="gelu", pooling="mean")
    q = questions(model, explanation, config)["alpha"]
    assert "mean pooling" in q.prompt
    assert q.right.startswith("None: every α is 1/N")
    assert f"1/N = {1 / len(TOKENS):.2f}" in q.reveal and "next is" not in q.reveal


def test_a_model_that_excludes_itself_is_never_asked_about_itself():
    model = dense_model(2, dims=(6, 8, 3), exclude_self=True)
    asked = questions(model, explained(model, 2), model.config)
    assert "attn" not in asked
    assert "itself" not in asked["scores"].choices and "for itself" not in asked["scores"].reveal


def test_repeated_tokens_are_told_apart_and_one_token_asks_no_token_question():
    model = dense_model(0, dims=(6, 8, 3))
    tokens = ["the", "cat", "saw", "the", "dog"]
    asked = questions(model, explained(model, 0, tokens=tokens), model.config)
    labels = [c for q in asked.values() for c in q.choices if "the" in c]
    assert labels and all("(token " in c for c in labels if "'the'" in c)
    single = questions(model, explained(model, 0, tokens=["alone"]), model.config)
    assert list(single) == ["h", "probs"]


@pytest.mark.parametrize("similarity", ["dot", "cosine", "neg_euclidean", "additive", "bilinear"])
def test_every_similarity_gives_valid_questions(similarity):
    model = dense_model(4, similarity=similarity, dims=(6, 8, 3))
    explanation = explained(model, 4)
    attn = explanation.trace.attn[0]
    asked = questions(model, explanation, model.config)
    assert list(asked) == ["h", "scores", "attn", "values", "alpha", "c", "probs"]
    for key, q in asked.items():
        assert (
            q.step == key
            and 0 <= q.answer < len(q.choices)
            and len(set(q.choices)) == len(q.choices)
        )
    i = next(k for k, t in enumerate(TOKENS) if f"'{t}'" in asked["scores"].prompt)
    j = int(attn[i].argmax())
    assert asked["scores"].right == ("itself" if j == i else f"'{TOKENS[j]}'")


# --------------------------------------------------------------------------- in the app


def _asked_on_page(at: AppTest, prefix: str) -> dict[str, dict]:
    """The questions drawn (assets/question.js's data), by step key."""
    found = {}
    for element in at.get("bidi_component"):
        if element.key and element.key.startswith(prefix):
            found[element.key.removeprefix(prefix)] = json.loads(element.proto.json)
    return found


def _expected(name: str, sentence: str) -> dict[str, dict]:
    """The library's questions for the checkpoint `name`, loaded apart from the app."""
    model = checkpoint.load(cache.checkpoints()[name].path)
    asked = questions(model.core, model.explain(sentence), model.config.model)
    return {
        k: {"prompt": q.prompt, "choices": list(q.choices), "answer": q.answer, "reveal": q.reveal}
        for k, q in asked.items()
    }


def test_a_link_with_questions_on_asks_under_every_step_what_the_library_says():
    name = next(n for n, c in cache.checkpoints().items() if c.kind == "text")
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in {"text": SENTENCE, "model": name, "questions": "on"}.items():
        at.query_params[key] = value
    at = run(at)
    drawn = _asked_on_page(at, "steps_question_")
    assert drawn == _expected(name, SENTENCE)
    assert list(drawn) == ["h", "scores", "attn", "values", "alpha", "c", "probs"]
    plain = run(AppTest.from_file(APP, default_timeout=60))
    assert _asked_on_page(plain, "steps_question_") == {}  # off without the link's questions=on


@pytest.mark.browser
def test_a_question_is_answered_and_revealed_in_chromium(
    page: Page, app_url: str, wait_for_app
) -> None:
    name = next(n for n, c in cache.checkpoints().items() if c.kind == "text")
    expected = _expected(name, SENTENCE)["probs"]
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{app_url}/?{urlencode({'text': SENTENCE, 'model': name, 'questions': 'on'})}")
    wait_for_app(page)
    box = page.locator(".dal-question").filter(has_text="Which class will the model predict?")
    expect(box).to_have_count(1)
    box.scroll_into_view_if_needed()
    reveal = box.locator(".dal-question-reveal")
    expect(reveal).to_be_hidden()
    wrong = next(c for k, c in enumerate(expected["choices"]) if k != expected["answer"])
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    box.get_by_role("button", name=wrong, exact=True).click()
    expect(reveal).to_be_visible()
    expect(reveal).to_have_text(
        f"Not quite: {expected['choices'][expected['answer']]}. {expected['reveal']}"
    )
    right = box.get_by_role("button", name=expected["choices"][expected["answer"]], exact=True)
    expect(right).to_have_class(re.compile("dal-question-right"))
    expect(box.locator(".dal-question-wrong")).to_have_text(wrong)
    assert sent == []  # revealed in the browser: nothing went to the server
    # The Present page asks it on its last slide.
    query = {"text": SENTENCE, "model": name, "questions": "on", "slide": 8}
    page.goto(f"{app_url}/present?{urlencode(query)}")
    wait_for_app(page)
    slide = page.locator(".dal-question").filter(visible=True)
    expect(slide).to_have_count(1)
    slide.get_by_role("button", name=expected["choices"][expected["answer"]], exact=True).click()
    expect(slide.locator(".dal-question-reveal")).to_contain_text("Right: ")
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=DOCS / "question.png")
