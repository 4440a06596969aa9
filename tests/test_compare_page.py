"""The Compare page: one sentence under two settings, their difference, MiniLM beside ours."""

import numpy as np
import pytest
from pagetest import ATOL, EXAMPLE, open_page, run, set_sentence, titled, z
from streamlit.testing.v1 import AppTest

from dense_attention.explain import reference


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
