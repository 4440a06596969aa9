"""The training loop on a real slice of digits: loss falls, accuracy beats chance, stops work."""

import numpy as np
import pytest
import torch

from dense_attention.classifier import build_classifier
from dense_attention.config import ConfigError, TrainConfig
from dense_attention.data import load_dataset
from dense_attention.train import evaluate, pick_device, train


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset("digits", limit=600)
    model = build_classifier(ds, hidden_dim=32, activation="gelu")
    return ds, [model.tensors(s) for s in (ds.train, ds.val, ds.test)]


def fresh(ds, seed=0):
    torch.manual_seed(seed)
    return build_classifier(ds, hidden_dim=32, activation="gelu")


def test_loss_falls_and_accuracy_beats_chance(digits):
    ds, (tr, va, te) = digits
    model = fresh(ds)
    before = evaluate(model, te)
    events = []
    cfg = TrainConfig(epochs=12, batch_size=32, lr=1e-2, snapshot_every=5, probes=3)
    result = train(model, tr, va, cfg, on_step=events.append)
    after = evaluate(model, te)
    assert after[0] < before[0] * 0.8
    assert after[1] > 0.4  # chance is 0.1
    assert [r.epoch for r in result.history] == list(range(1, len(result.history) + 1))
    assert result.best.val_accuracy == max(r.val_accuracy for r in result.history)
    assert evaluate(model, va)[1] == pytest.approx(result.best.val_accuracy)  # best epoch kept
    assert events[-1].step == len(events) and 0 < events[-1].progress <= 1
    assert sum(e.record is not None for e in events) == len(result.history)
    assert not model.training


def test_snapshots_have_probe_shapes(digits):
    ds, (tr, va, _) = digits
    cfg = TrainConfig(epochs=2, batch_size=32, snapshot_every=4, probes=3)
    result = train(fresh(ds), tr, va, cfg)
    n, c = 16, 10  # 8x8 digits in 2x2 patches
    assert result.snapshots[0].step == 0
    assert [s.step for s in result.snapshots[1:]] == list(range(4, 4 * len(result.snapshots), 4))
    for s in result.snapshots:
        assert s.attn.shape == (3, n, n) and s.alpha.shape == (3, n) and s.probs.shape == (3, c)
        np.testing.assert_allclose(s.attn.sum(-1), 1, atol=1e-5)
    assert not np.allclose(result.snapshots[0].attn, result.snapshots[-1].attn)


def test_seed_makes_runs_repeatable(digits):
    ds, (tr, va, te) = digits
    cfg = TrainConfig(epochs=2, batch_size=32, seed=3)
    a, b = fresh(ds), fresh(ds)
    ra, rb = train(a, tr, va, cfg), train(b, tr, va, cfg)
    assert [r.train_loss for r in ra.history] == [r.train_loss for r in rb.history]
    for (k, va_), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va_, vb), k


def test_stop_from_outside_keeps_a_model(digits):
    ds, (tr, va, _) = digits
    calls = []
    result = train(fresh(ds), tr, va, TrainConfig(epochs=50), should_stop=lambda: len(calls) > 3,
                   on_step=calls.append)  # fmt: skip
    assert result.stopped == "stopped_by_user"
    assert len(calls) == 5 and len(result.history) == 1  # validated once before stopping
    assert result.best_epoch == 1


def test_early_stopping_and_time_limit(digits):
    ds, (tr, va, _) = digits
    result = train(fresh(ds), tr, va, TrainConfig(epochs=200, patience=1, lr=1e-5))
    assert result.stopped == "early_stopping" and len(result.history) < 200
    result = train(fresh(ds), tr, va, TrainConfig(epochs=200, max_seconds=0.01))
    assert result.stopped == "time_limit" and len(result.history) == 1


def test_devices_and_config_errors():
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            pick_device("cuda")
    with pytest.raises(ConfigError, match="device"):
        TrainConfig(device="tpu")
    with pytest.raises(ConfigError, match="lr"):
        TrainConfig(lr=0)
