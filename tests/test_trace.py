"""Trace: selecting one example, numpy/dict export, shapes, and attention entropy."""

import json

import numpy as np
import pytest
import scipy.stats
import torch

from dense_attention import DenseAttention, ModelConfig, Trace
from dense_attention.core.trace import TENSOR_FIELDS, attention_entropy


@pytest.fixture
def trace() -> Trace:
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=4, hidden_dim=6, num_classes=3))
    mask = torch.tensor([[True, True, True], [True, True, False]])
    return model.trace(torch.randn(2, 3, 4), mask)


def test_shapes(trace):
    B, N, D, d, C = 2, 3, 4, 6, 3
    assert trace.shapes() == dict(
        x=(B, N, D), mask=(B, N), h=(B, N, d), scores=(B, N, N), attn=(B, N, N),
        values=(B, N, d), pool_scores=(B, N), alpha=(B, N), pooled=(B, d), c=(B, d),
        h_o=(B, d), logits=(B, C), probs=(B, C), head_scores=(B, 1, N, N), head_attn=(B, 1, N, N),
    )  # fmt: skip
    assert trace.lengths() == [3, 2]


def test_heads_crop_and_default_to_one():
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=4, hidden_dim=6, num_classes=3, heads=3))
    mask = torch.tensor([[True, True, True], [True, False, True]])
    t = model.trace(torch.randn(2, 3, 4), mask)
    one = t.example(1)
    assert t.heads == 3 and one.head_attn.shape == (1, 3, 2, 2)
    assert torch.equal(one.head_attn[0], t.head_attn[1][:, [0, 2]][:, :, [0, 2]])
    assert torch.allclose(one.attn, one.head_attn.mean(dim=1))
    # A Trace built without the head fields (one head) takes them from scores and attn.
    plain = Trace(**{f: getattr(t, f) for f in TENSOR_FIELDS[:-2]}, similarity="dot",
                  temperature=1.0)  # fmt: skip
    assert plain.heads == 1 and torch.equal(plain.head_attn[:, 0], t.attn)


def test_example_crops_padding(trace):
    one = trace.example(1)
    assert one.attn.shape == (1, 2, 2) and one.alpha.shape == (1, 2) and one.h.shape == (1, 2, 6)
    assert torch.equal(one.attn[0], trace.attn[1, :2, :2])
    assert torch.equal(one.logits[0], trace.logits[1])
    full = trace.example(1, crop=False)
    assert full.attn.shape == (1, 3, 3)
    assert torch.equal(trace.example(-1).attn, one.attn)
    with pytest.raises(IndexError):
        trace.example(2)


def test_numpy_and_json_export(trace):
    arrays = trace.numpy()
    assert set(TENSOR_FIELDS) <= set(arrays)
    assert arrays["mask"].dtype == np.bool_ and arrays["attn"].dtype == np.float32
    np.testing.assert_allclose(arrays["attn"], trace.attn.detach().numpy())
    data = json.loads(json.dumps(trace.to_dict()))
    assert data["similarity"] == "scaled_dot" and data["temperature"] == 1.0
    np.testing.assert_allclose(data["probs"], trace.probs.detach().numpy(), rtol=1e-6)


def test_attention_entropy_matches_scipy_row_by_row_and_zeroes_padding_queries():
    rng = np.random.default_rng(0)
    attn = rng.dirichlet(np.ones(5), size=(2, 5))  # (B, N, N), rows sum to 1
    attn[0, :, 1] = 0.0  # a key with no weight: 0 log 0 counts as 0
    attn[0] /= attn[0].sum(axis=-1, keepdims=True)
    expected = scipy.stats.entropy(attn, axis=-1)  # natural log
    np.testing.assert_allclose(attention_entropy(torch.tensor(attn)), expected, rtol=1e-12)
    mask = np.array([[True] * 5, [True, True, True, False, False]])
    masked = attention_entropy(attn, mask)
    np.testing.assert_allclose(masked[mask], expected[mask], rtol=1e-12)
    assert (masked[~mask] == 0).all()
    with pytest.raises(ValueError, match="square"):
        attention_entropy(np.ones((2, 3)))


def test_head_distance_is_the_mean_jensen_shannon_divergence():
    import scipy.spatial.distance

    from dense_attention.core.trace import head_distance

    rng = np.random.default_rng(0)
    a = rng.dirichlet(np.ones(4), size=(2, 3, 4))  # (B, H, N, N), rows sum to 1
    mask = np.array([[True] * 4, [True, True, True, False]])
    got = head_distance(a, mask)
    for k in range(3):
        for m in range(3):
            rows = [(a[b, k, i], a[b, m, i]) for b in range(2) for i in range(4) if mask[b, i]]
            want = np.mean([scipy.spatial.distance.jensenshannon(p, q) ** 2 for p, q in rows])
            assert got[k, m] == pytest.approx(want, abs=1e-12)
    assert np.all(np.diag(got) == 0) and got.max() <= np.log(2)
