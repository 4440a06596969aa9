"""explain.query_key_map: queries and keys that reproduce each similarity, PCA, the sample."""

import numpy as np
import pytest
import torch

from dense_attention import DenseAttention, ModelConfig
from dense_attention.core.config import SIMILARITY_NAMES
from dense_attention.core.similarity import SIMILARITIES
from dense_attention.data.builtin import load_dataset
from dense_attention.explain import query_key_map as qkm
from dense_attention.inputs.classifier import Classifier, ClassifierConfig
from dense_attention.inputs.text_encoder import TextConfig

d = 6


def _params(similarity: str):
    torch.manual_seed(0)
    model = DenseAttention(
        ModelConfig(input_dim=4, hidden_dim=d, num_classes=2, similarity=similarity)
    )
    with torch.no_grad():
        for p in model.similarity_params.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model.similarity_params


def _compare(similarity, q, k, params):
    """The score of every (query, key) pair, written from the map's vectors."""
    if similarity == "additive":
        return torch.tanh(q[:, None, :] + k[None, :, :]) @ params.additive_vector
    if similarity == "neg_euclidean":
        return -((q[:, None, :] - k[None, :, :]) ** 2).sum(-1)
    scale = d**0.5 if similarity == "scaled_dot" else 1.0
    return q @ k.T / scale


@pytest.mark.parametrize("similarity", SIMILARITY_NAMES)
def test_queries_and_keys_reproduce_the_similarity(similarity):
    params = _params(similarity)
    h = torch.randn(5, d, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        q, k = qkm.query_key_vectors(h, similarity, params)
        expected = SIMILARITIES[similarity].fn(h[None], params)[0]
        torch.testing.assert_close(
            _compare(similarity, q, k, params), expected, atol=1e-5, rtol=1e-5
        )
    if similarity not in ("bilinear", "additive"):
        assert torch.equal(q, k)
    else:
        assert not torch.allclose(q, k)


def test_pca_against_the_covariance_eigenvectors():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 5)) * np.array([5.0, 3.0, 1.0, 0.5, 0.1]) + 7.0
    mean, components, explained = qkm.pca_2d(points)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(points.T))
    order = np.argsort(eigenvalues)[::-1]
    for r in range(2):
        vector = eigenvectors[:, order[r]]
        assert abs(float(components[r] @ vector)) == pytest.approx(1.0, abs=1e-9)
        assert components[r][np.abs(components[r]).argmax()] > 0  # sign fixed
    assert explained == pytest.approx(eigenvalues[order[:2]] / eigenvalues.sum())
    assert mean == pytest.approx(points.mean(axis=0))


def _text_classifier():
    torch.manual_seed(0)
    text = TextConfig(mode="learned", max_len=16, embed_dim=8, pos_dim=4)
    cfg = ClassifierConfig(model=ModelConfig(input_dim=12, hidden_dim=d, num_classes=2,
                                             similarity="bilinear"),
                           classes=("a", "b"), text=text)  # fmt: skip
    return Classifier(cfg).eval()


def test_the_sample_holds_each_texts_own_h():
    model = _text_classifier()
    texts = ["the cat sat", "a much longer sentence about dogs and cats", "hi"]
    sample = qkm.sample_tokens(model, texts, max_tokens=16)
    for b, text in enumerate(texts):
        one = model.explain(text)
        rows = [m for m, s in enumerate(sample.source) if s == b]
        torch.testing.assert_close(sample.h[rows], one.trace.h[0], atol=1e-5, rtol=1e-5)
        assert [sample.tokens[m] for m in rows] == one.tokens
    assert sample.snippets[1] == texts[1]
    cut = qkm.sample_tokens(model, texts, max_tokens=4)
    assert [cut.source.count(b) for b in range(3)] == [4, 4, 3]  # [CLS] hi [SEP]
    assert "first 4 tokens" in cut.note


def test_the_map_projects_the_current_input_in_the_samples_plane():
    model = _text_classifier()
    sample = qkm.sample_tokens(model, ["the cat sat", "dogs bark at night", "hello there"])
    h = model.explain("the dog sat").trace.h[0]
    params = model.core.similarity_params
    found = qkm.query_key_map(sample, h, "bilinear", params)
    with torch.no_grad():
        q, k = (t.double().numpy() for t in qkm.query_key_vectors(sample.h, "bilinear", params))
        cq, _ = (t.double().numpy() for t in qkm.query_key_vectors(h, "bilinear", params))
    mean, components, explained = qkm.pca_2d(np.concatenate([q, k]))
    assert found.queries == pytest.approx((q - mean) @ components.T)
    assert found.current_queries == pytest.approx((cq - mean) @ components.T)
    assert found.current_keys.shape == (h.shape[0], 2) and len(found.hover) == len(found.tokens)
    sentence = qkm.distance_sentence(found)
    assert f"{explained.sum():.0%} of the spread" in sentence and "W_s h_j" in sentence
    cosine = qkm.query_key_map(sample, h, "cosine", params)
    assert "same vectors" in qkm.distance_sentence(cosine)
    np.testing.assert_allclose(cosine.queries, cosine.keys)


def test_the_sample_is_a_seeded_draw_from_the_test_split():
    test = load_dataset("digits", seed=0).test
    items = qkm.sample_test_items("digits", 0, n=5)
    again = qkm.sample_test_items("digits", 0, n=5)
    assert len(items) == 5 and all(np.array_equal(a, b) for a, b in zip(items, again, strict=True))
    first = [test.items[k] for k in range(5)]
    assert not all(np.array_equal(a, b) for a, b in zip(items, first, strict=True))  # not first
    assert all(any(np.array_equal(a, t) for t in test.items) for a in items)
