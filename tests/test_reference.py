"""reference: MiniLM's attention maps over our tokens, and attention entropy."""

import numpy as np
import pytest
import torch

from dense_attention.explain import reference
from dense_attention.inputs.text_encoder import TextConfig, TextEncoder


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(TextConfig(max_len=16))


def test_minilm_attention_has_every_layer_and_head_over_our_tokens(encoder):
    batch = encoder.tokenize(["The striker scored twice in the final"])
    ref = reference.minilm_attention(batch)
    n = len(batch.tokens[0])
    assert (
        ref.tokens
        == batch.tokens[0]
        == encoder.tokenize(["The striker scored twice in the final"]).tokens[0]
    )
    assert ref.attentions.shape == (6, 12, n, n) and (ref.layers, ref.heads) == (6, 12)
    np.testing.assert_allclose(ref.attentions.sum(axis=-1), 1.0, atol=1e-5)
    assert (ref.attentions >= 0).all()
    np.testing.assert_allclose(ref.head(2, 4), ref.attentions[2, 4])
    np.testing.assert_allclose(ref.head(2), ref.attentions[2].mean(axis=0), atol=1e-7)


def test_minilm_attention_of_a_padded_example_uses_its_real_tokens_only(encoder):
    texts = ["A much longer sentence than the other one", "Short"]
    batch = encoder.tokenize(texts)
    padded = reference.minilm_attention(batch, b=1)
    alone = reference.minilm_attention(encoder.tokenize(["Short"]))
    assert padded.tokens == alone.tokens == ["[CLS]", "short", "[SEP]"]
    np.testing.assert_allclose(padded.attentions, alone.attentions, atol=1e-6)
    with pytest.raises(IndexError):
        reference.minilm_attention(batch, b=2)


def test_truncated_text_keeps_the_tokens_aligned(encoder):
    batch = encoder.tokenize(["word " * 100])
    ref = reference.minilm_attention(batch)
    assert len(ref.tokens) == 16 and ref.attentions.shape[-1] == 16


def test_entropy_of_one_hot_rows_is_zero_and_of_uniform_rows_log_n():
    n = 5
    np.testing.assert_allclose(reference.attention_entropy(np.eye(n)), np.zeros(n), atol=0)
    uniform = torch.full((2, n, n), 1 / n)
    np.testing.assert_allclose(reference.attention_entropy(uniform), np.full((2, n), np.log(n)))
    row = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    expected = [np.log(2), -(0.2 * np.log(0.2) + 0.3 * np.log(0.3) + 0.5 * np.log(0.5)), 0.0]
    np.testing.assert_allclose(reference.attention_entropy(row), expected)
    with pytest.raises(ValueError, match="square"):
        reference.attention_entropy(np.ones((2, 3)))
