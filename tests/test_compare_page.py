"""The Compare page: one sentence under two settings, their difference, MiniLM beside ours."""

import numpy as np
import pytest
from pagetest import ATOL, EXAMPLE, open_page, run, set_sentence, titled, z
from streamlit.testing.v1 import AppTest

from dense_attention.core.config import TrainConfig
from dense_attention.data.dataset import make_dataset
from dense_attention.explain import reference
from dense_attention.server import jobs, work
from dense_attention.storage import catalog
from dense_attention.ui import browser, state
from dense_attention.ui.styles import md

# A made-up language: a model trained on it reads every word of the shipped examples as [UNK]
MADE_UP = {
    "blorp": ["zib zab blorp", "blorp quix zib", "zab blorp blorp", "quix zib blorp zab"],
    "frumble": ["frumble wok tam", "tam frumble wok", "wok wok frumble", "tam frumble tam wok"],
}


@pytest.fixture
def compare_page() -> AppTest:
    return open_page("views/compare.py")


def test_compare_page_shows_both_settings_and_their_difference(compare_page, text_model):
    at = compare_page
    trained = text_model.config.model
    other = "cosine" if trained.similarity != "cosine" else "scaled_dot"  # the page's default B
    a = text_model.explain(EXAMPLE).trace.attn[0].cpu().numpy()
    b = text_model.explain(EXAMPLE, similarity=other).trace.attn[0].cpu().numpy()
    (fig_a,) = titled(at, f"A: {trained.similarity}")
    (fig_b,) = titled(at, f"B: {other}")
    np.testing.assert_allclose(z(fig_a), a, atol=ATOL)
    np.testing.assert_allclose(z(fig_b), b, atol=ATOL)
    (diff,) = titled(at, "Difference B − A")
    np.testing.assert_allclose(z(diff), b - a, atol=ATOL)
    (entropy,) = titled(at, "Row entropy")
    for bars, attn in zip(entropy["data"], (a, b), strict=True):
        np.testing.assert_allclose(bars["y"], reference.attention_entropy(attn), atol=1e-5)
    run(at.select_slider(key="compare_temperature").set_value(0.1))
    b = text_model.explain(EXAMPLE, similarity=other, temperature=0.1).trace.attn[0]
    np.testing.assert_allclose(z(titled(at, f"B: {other}, τ = 0.1")[0]), b.cpu(), atol=ATOL)


def test_compare_page_puts_minilm_beside_ours(compare_page, text_model):
    at = compare_page
    batch = text_model.encoder.tokenize([EXAMPLE])
    ref = reference.minilm_attention(batch)
    (theirs,) = titled(at, "MiniLM layer 1, mean of heads")
    np.testing.assert_allclose(z(theirs), ref.head(0), atol=1e-5)
    (ours,) = titled(at, "Dense attention")
    assert theirs["layout"]["xaxis"]["ticktext"] == ours["layout"]["xaxis"]["ticktext"]
    assert ours["layout"]["xaxis"]["ticktext"] == batch.tokens[0]
    at.select_slider(key="ref_layer").set_value(3)
    run(at.selectbox(key="ref_head").set_value(5))
    (theirs,) = titled(at, "MiniLM layer 3, head 5")
    np.testing.assert_allclose(z(theirs), ref.attentions[2, 4], atol=1e-5)


def test_compare_page_empty_text_prompts(compare_page):
    at = set_sentence(compare_page, "")
    assert any("Type a sentence" in info.value for info in at.info)
    assert not at.get("plotly_chart")


def test_a_model_trained_on_other_data_is_offered_its_own_examples(compare_page):
    """Issue #28.8: a model trained in this browser on other data gets sentences of its own data
    that it classifies correctly, not the default model's (which it reads as [UNK])."""
    classes = list(MADE_UP)
    texts = [t for c in classes for t in MADE_UP[c] * 10]
    labels = np.repeat(np.arange(len(classes)), len(texts) // len(classes))
    data = make_dataset("made-up", "text", classes, texts, labels, seed=0)
    request = work.TrainRequest(
        work.DataChoice("made-up", uploaded=data), {"hidden_dim": 8}, TrainConfig(epochs=8), False
    )
    job = jobs.train_job(request)
    job.join(120)
    assert job.state == jobs.DONE, job.error
    trained = job.result
    own = trained.examples
    assert own and set(own) <= set(data.test.items)
    for sentence in own:  # each one it gets right
        assert classes[int(trained.model.explain(sentence).trace.probs[0].argmax())] in sentence
    generic = trained.model.explain(catalog.GENERIC_EXAMPLES[0])
    assert set(generic.tokens) - {"[CLS]", "[SEP]"} <= {"[UNK]"}  # what it was offered before

    space = browser.workspaces().get(compare_page.session_state[state.WORKSPACE])
    space.models["made-up #1"], space.results["made-up #1"] = trained.model, trained
    space.metadata["made-up #1"] = trained.training_metadata()
    at = run(compare_page)  # the picker lists it now (and opens on this browser's newest model)
    at = run(at.sidebar.selectbox(key=state.MODEL_WIDGET).set_value(browser.label("made-up #1")))
    assert list(at.pills[0].options) == [md(s) for s in own]
    assert at.text_area(key=state.SENTENCE_WIDGET).value == own[0]
    assert catalog.GENERIC_EXAMPLES[0] not in at.pills[0].options
