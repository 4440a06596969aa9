"""diagnostic: the frozen-attention test on a toy whose answer is known, and on a Classifier."""

import numpy as np
import pytest
import torch

from dense_attention import ModelConfig
from dense_attention.data.dataset import Dataset, Split
from dense_attention.explain import diagnostic as dg
from dense_attention.inputs.classifier import Classifier, ClassifierConfig
from dense_attention.inputs.image_encoder import ImageConfig


def planted(n_examples: int, seed: int) -> dg.TokenData:
    """6 tokens, each ±1 in feature 0 with a random sign; the label is the sign of one token at
    a random position, which only α (one-hot there) knows: tokens alone cannot tell which."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n_examples, 6, 4, generator=gen) * 0.1
    signs = torch.randint(0, 2, (n_examples, 6), generator=gen) * 2 - 1
    x[..., 0] = signs.float()
    where = torch.randint(0, 6, (n_examples,), generator=gen)
    labels = (signs[torch.arange(n_examples), where] > 0).long()
    alpha = torch.nn.functional.one_hot(where, 6).float()
    return dg.TokenData(x, torch.ones(n_examples, 6, dtype=torch.bool), alpha, labels)


def test_frozen_alpha_that_knows_the_token_wins_and_uniform_cannot():
    train, test = planted(600, 0), planted(400, 1)
    acc = {p: dg.accuracy(dg.fit(train, 2, p, epochs=15, seed=0), test) for p in dg.POOLINGS}
    assert acc["frozen"] > 0.97
    assert acc["uniform"] < 0.8 and acc["learned"] < 0.8  # the majority of 6 signs, at best


def test_uniform_weights_are_the_masked_mean_and_padding_gets_none():
    mlp = dg.TokenMLP(4, 8, 2, "uniform")
    mask = torch.tensor([[True, True, False]])
    g = torch.randn(1, 3, 8)
    w = mlp.weights(g, mask, torch.zeros(1, 3))
    assert torch.allclose(w, torch.tensor([[0.5, 0.5, 0.0]]))
    learned = dg.TokenMLP(4, 8, 2, "learned").weights(g, mask, torch.zeros(1, 3))
    learned = learned.detach()
    assert learned[0, 2] == 0 and float(learned.sum()) == pytest.approx(1)
    with pytest.raises(dg.DiagnosticError, match="pooling"):
        dg.TokenMLP(4, 8, 2, "max")


def _tiny():
    rng = np.random.default_rng(0)
    images = rng.random((40, 8, 8)).astype(np.float32)
    labels = np.arange(40) % 2
    images[labels == 1, :4] += 0.5  # class 1: a brighter top half
    images = np.clip(images, 0, 1)
    split = Split(images, labels)
    ds = Dataset("tiny", "image", ("a", "b"), split, Split(images[:4], labels[:4]),
                 Split(images[:20], labels[:20]), seed=0)  # fmt: skip
    torch.manual_seed(0)
    cfg = ClassifierConfig(model=ModelConfig(input_dim=20, hidden_dim=8, num_classes=2),
                           classes=("a", "b"),
                           image=ImageConfig(size=8, channels=1, patch=4, pos_dim=4))  # fmt: skip
    return Classifier(cfg).eval(), ds


def test_run_gives_every_pooling_and_the_models_own_accuracy():
    clf, ds = _tiny()
    data = dg.token_data(clf, ds.test, None)
    with torch.no_grad():
        x, mask = clf.features(*clf.tensors(ds.test).inputs)
        alpha = clf.core.trace(x, mask).alpha
    assert data.x.shape == (20, 4, 20) and torch.allclose(data.alpha.sum(1), torch.ones(20))
    assert sorted(data.labels.tolist()) == sorted(ds.test.labels.tolist())
    assert torch.allclose(data.alpha.sort(0).values, alpha.sort(0).values, atol=1e-6)
    result = dg.run(clf, ds, epochs=30)
    assert set(result.accuracy) == set(dg.POOLINGS) and result.test_examples == 20
    assert result.accuracy["uniform"] > 0.9  # the bright half is visible token by token
    assert len(result.table()) == 4 and result.to_dict()["train_examples"] == 40


def test_one_class_gives_a_clear_message():
    clf, ds = _tiny()
    one = Split(ds.train.items[::2], ds.train.labels[::2])
    with pytest.raises(dg.DiagnosticError, match="one class"):
        dg.run(clf, Dataset("one", "image", ("a", "b"), one, one, one, seed=0))
