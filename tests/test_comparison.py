"""comparison: how one input's attention moves between two settings."""

import math

import numpy as np
import pytest
import torch

from dense_attention.core.config import ModelConfig
from dense_attention.core.model import DenseAttention
from dense_attention.explain.comparison import compare_attention


@pytest.fixture(scope="module")
def traces():
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=4, hidden_dim=8, num_classes=2)).eval()
    x = torch.randn(1, 5, 4)
    with torch.no_grad():
        return model.trace(x), model.trace(x, similarity="cosine", temperature=100.0)


def test_difference_is_b_minus_a_cell_by_cell(traces):
    a, b = traces
    moved = compare_attention(a, b)
    expected = b.attn[0].numpy() - a.attn[0].numpy()
    np.testing.assert_allclose(moved.difference, expected, atol=1e-7)
    np.testing.assert_allclose(moved.difference.sum(axis=1), 0.0, atol=1e-6)  # rows sum to 1


def test_entropy_columns_are_each_settings_row_entropy(traces):
    a, b = traces
    moved = compare_attention(a, b)
    assert moved.entropy.shape == (5, 2)
    for column, trace in enumerate((a, b)):
        for i, row in enumerate(trace.attn[0].numpy()):
            expected = -sum(p * math.log(p) for p in row if p > 0)
            assert moved.entropy[i, column] == pytest.approx(expected, abs=1e-5)
    # τ = 100 flattens every row: close to the uniform log N
    np.testing.assert_allclose(moved.entropy[:, 1], math.log(5), atol=1e-3)


def test_the_same_trace_changes_nothing(traces):
    a, _ = traces
    moved = compare_attention(a, a)
    assert not moved.difference.any()
    np.testing.assert_array_equal(moved.entropy[:, 0], moved.entropy[:, 1])


def test_different_inputs_are_refused(traces):
    a, _ = traces
    model = DenseAttention(ModelConfig(input_dim=4, hidden_dim=8, num_classes=2)).eval()
    with torch.no_grad():
        other = model.trace(torch.randn(1, 3, 4))
    with pytest.raises(ValueError, match="different inputs"):
        compare_attention(a, other)
