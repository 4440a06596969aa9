"""Trace: selecting one example, numpy/dict export and shapes."""

import json

import numpy as np
import pytest
import torch

from dense_attention import DenseAttention, ModelConfig, Trace
from dense_attention.trace import TENSOR_FIELDS


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
        h_o=(B, d), logits=(B, C), probs=(B, C),
    )  # fmt: skip
    assert trace.lengths() == [3, 2]


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
