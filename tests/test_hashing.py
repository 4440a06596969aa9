"""hashing: content digests, the keys of the caches every session shares."""

import pytest
import torch

from dense_attention.core.config import ModelConfig
from dense_attention.core.model import DenseAttention
from dense_attention.core.trace import Trace
from dense_attention.server.hashing import digest


def test_digest_follows_content_not_identity():
    t = torch.arange(6.0).reshape(2, 3)
    assert digest(t, ["a", "b"], 1.0) == digest(t.clone(), ["a", "b"], 1.0)
    assert digest(t) != digest(t + 1e-7)
    assert digest(t) != digest(t.reshape(3, 2))
    assert digest(["a", "b"]) != digest(["ab"])
    model = DenseAttention(ModelConfig(input_dim=3, hidden_dim=4, num_classes=2))
    x = torch.randn(1, 5, 3)
    with torch.no_grad():
        one, two = model.trace(x), model.trace(x, temperature=2.0)
    assert isinstance(one, Trace)
    assert digest(one) == digest(model.trace(x)) != digest(two)


def test_digest_refuses_objects_without_content():
    with pytest.raises(TypeError, match="cannot digest"):
        digest(object())
