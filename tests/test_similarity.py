"""The similarity registry: names, known values, and the trainable/fixed split of its weights."""

import math

import pytest
import torch

from dense_attention import SIMILARITIES
from dense_attention.core.config import SIMILARITY_NAMES
from dense_attention.core.similarity import SimilarityParams


def test_registry_matches_config_names():
    assert tuple(SIMILARITIES) == SIMILARITY_NAMES
    for s in SIMILARITIES.values():
        assert s.latex and s.description


def test_known_values():
    h = torch.tensor([[[3.0, 4.0], [0.0, 2.0]]])  # (1, 2, 2)
    p = SimilarityParams(2, trainable="dot")
    got = {name: s.fn(h, p)[0] for name, s in SIMILARITIES.items()}
    assert got["dot"].tolist() == [[25.0, 8.0], [8.0, 4.0]]
    assert torch.allclose(got["scaled_dot"], got["dot"] / math.sqrt(2))
    assert torch.allclose(got["cosine"], torch.tensor([[1.0, 0.8], [0.8, 1.0]]))
    assert got["neg_euclidean"].tolist() == [[0.0, -13.0], [-13.0, 0.0]]
    assert torch.allclose(got["bilinear"], got["scaled_dot"])  # W_s starts as I / sqrt(d)
    wq, wk, w = p.additive_query, p.additive_key, p.additive_vector
    want = torch.tensor([[w @ torch.tanh(wq @ hi + wk @ hj) for hj in h[0]] for hi in h[0]])
    assert torch.allclose(got["additive"], want)


def test_identical_tokens_are_exactly_zero_apart():
    h = torch.full((1, 4, 8), 0.123456789)
    assert SIMILARITIES["neg_euclidean"].fn(h, SimilarityParams(8, "dot")).abs().max() == 0


@pytest.mark.parametrize("trainable", SIMILARITY_NAMES)
def test_only_the_configured_similarity_is_trainable(trainable):
    p = SimilarityParams(4, trainable)
    names = {n for n, _ in p.named_parameters()}
    owners = {"additive": {"additive_query", "additive_key", "additive_vector"}}
    assert names == owners.get(trainable, {"bilinear"} if trainable == "bilinear" else set())
    assert set(p.state_dict()) == {"additive_query", "additive_key", "additive_vector", "bilinear"}


def test_fixed_weights_are_deterministic():
    a, b = SimilarityParams(4, "dot"), SimilarityParams(4, "dot")
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k])
