"""drag: a dragged α and the others' renormalised weights against an independent computation."""

import numpy as np
import pytest
import torch
from tiny import text_classifier

from dense_attention.explain import drag
from dense_attention.explain import faithfulness as fa
from dense_attention.explain.faithfulness import FaithfulnessError
from dense_attention.inputs.classifier import Classifier

SENTENCE = "the cat sat on the mat"


@pytest.fixture(scope="module")
def model() -> Classifier:
    return text_classifier(temperature=0.3)


def reference(alpha: list[float], real: list[bool], j: int, value: float) -> np.ndarray:
    """The renormalisation in plain Python: α_j = value, each other real token keeps its share
    of what the other real tokens had."""
    rest = sum(a for k, (a, r) in enumerate(zip(alpha, real, strict=True)) if r and k != j)
    return np.array([
        value if k == j else (a * (1 - value) / rest if r else 0.0)
        for k, (a, r) in enumerate(zip(alpha, real, strict=True))
    ])  # fmt: skip


@pytest.mark.parametrize("value", [0.0, 0.05, 0.6, 1.0])
def test_dragged_alpha_equals_an_independent_renormalisation(value):
    alpha = [0.1, 0.25, 0.05, 0.3, 0.2, 0.1]
    real = [True, True, False, True, True, True]  # token 2 knocked out
    got = drag.dragged_alpha(torch.tensor([alpha]), 3, value, torch.tensor([real]))[0]
    np.testing.assert_allclose(got.numpy(), reference(alpha, real, 3, value), atol=1e-6)
    assert float(got.sum()) == pytest.approx(1.0, abs=1e-6) and float(got[2]) == 0.0
    others = [0, 1, 4, 5]
    if value < 1:  # the others keep their proportions
        ratio = got[others] / torch.tensor(alpha)[others]
        np.testing.assert_allclose(ratio.numpy(), np.full(4, float(ratio[0])), rtol=1e-5)


def test_the_drag_at_the_tokens_own_alpha_changes_nothing():
    alpha = torch.softmax(torch.randn(1, 7, generator=torch.Generator().manual_seed(1)), -1)
    mask = torch.ones(1, 7, dtype=torch.bool)
    same = drag.dragged_alpha(alpha, 4, float(alpha[0, 4]), mask)
    np.testing.assert_allclose(same.numpy(), alpha.numpy(), atol=1e-6)


def test_alpha_all_on_one_token_is_shared_evenly_and_bad_drags_are_refused():
    alpha, mask = torch.tensor([[0.0, 1.0, 0.0, 0.0]]), torch.tensor([[True, True, True, False]])
    got = drag.dragged_alpha(alpha, 1, 0.4, mask)
    np.testing.assert_allclose(got[0].numpy(), [0.3, 0.4, 0.3, 0.0], atol=1e-6)
    with pytest.raises(FaithfulnessError, match=r"\[0, 1\]"):
        drag.dragged_alpha(alpha, 1, 1.5, mask)
    with pytest.raises(FaithfulnessError, match="knocked out"):
        drag.dragged_alpha(alpha, 3, 0.5, mask)


def test_knocked_mask_counts_real_tokens_and_keeps_one():
    mask = torch.tensor([[True, True, True, False]])
    assert drag.knocked_mask(mask, [0, 2]).tolist() == [[False, True, False, False]]
    assert mask.tolist() == [[True, True, True, False]]  # the input is left alone
    with pytest.raises(FaithfulnessError, match="every token"):
        drag.knocked_mask(mask, [0, 1, 2])


def test_pooling_weights_are_the_models_own_alpha(model):
    f = fa.features_of(model, SENTENCE)
    explained = model.explain(SENTENCE).trace.alpha[0].numpy()
    np.testing.assert_allclose(drag.pooling_weights(model, f), explained, atol=1e-6)
    knocked = drag.pooling_weights(model, f, [1, 3], {"temperature": 2.0})
    with torch.no_grad():
        mask = f.mask.clone()
        mask[0, [1, 3]] = False
        expected = model.core.trace(f.x, mask, temperature=2.0).alpha[0].numpy()
    np.testing.assert_allclose(knocked, expected, atol=1e-6)
    assert knocked[1] == knocked[3] == 0.0 and knocked.sum() == pytest.approx(1.0, abs=1e-6)
