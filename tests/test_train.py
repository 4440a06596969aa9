"""The training loop on a real slice of digits: loss falls, accuracy beats chance, stops work."""

import math
import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dense_attention.core.config import ConfigError, TrainConfig
from dense_attention.core.seeding import init_parameters
from dense_attention.data.builtin import load_dataset
from dense_attention.inputs.classifier import build_classifier
from dense_attention.inputs.image_encoder import ImageConfig
from dense_attention.training.train import (
    TensorSplit,
    epoch_order,
    evaluate,
    penalised_parameters,
    pick_device,
    regularised_loss,
    subsample,
    train,
)


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
        with pytest.raises(ConfigError, match="not available"):
            pick_device("cuda")
    with pytest.raises(ConfigError, match="device"):
        TrainConfig(device="tpu")
    with pytest.raises(ConfigError, match="lr"):
        TrainConfig(lr=0)


def test_penalty_changes_the_loss_by_exactly_its_formula(digits):
    ds, (tr, _, _) = digits
    model = fresh(ds)
    batch = tr.take(slice(0, 16))
    logits = model(*batch.inputs)
    weights = penalised_parameters(model)
    # Independently: the core's weights, no biases, no positional embedding of the encoder.
    names = {"core.dense.weight", "core.pool_weight", "core.pool_vector", "core.out.weight"}
    assert set(weights) == names
    l1, l2 = 3e-4, 2e-3
    by_hand = sum(
        l1 * float(p.detach().double().abs().sum()) + l2 * float(p.detach().double().pow(2).sum())
        for name, p in model.named_parameters()
        if name in names
    )
    ce = F.cross_entropy(logits, batch.labels)
    total, ce_part, penalty = regularised_loss(logits, batch.labels, list(weights.values()), l1, l2)
    assert torch.equal(ce_part, ce)
    assert float((total - ce).detach()) == pytest.approx(by_hand, rel=1e-5) and by_hand > 0.01
    assert float(penalty.detach()) == pytest.approx(by_hand, rel=1e-5)
    only_l1 = regularised_loss(logits, batch.labels, list(weights.values()), l1, 0.0)[0]
    assert float((only_l1 - ce).detach()) == pytest.approx(
        l1 * sum(float(weights[n].detach().abs().sum()) for n in names), rel=1e-5
    )
    assert torch.equal(regularised_loss(logits, batch.labels, list(weights.values()))[0], ce)


def test_label_smoothing_objective_matches_its_formula(digits):
    ds, (tr, _, _) = digits
    batch = tr.take(slice(0, 16))
    logits = fresh(ds)(*batch.inputs).detach().double()
    eps = 0.1
    log_p = torch.log_softmax(logits, -1)
    # Independently: target = (1 - eps) * one-hot + eps / C, cross-entropy against it.
    target = torch.full_like(log_p, eps / log_p.shape[1])
    target[torch.arange(len(batch)), batch.labels] += 1 - eps
    by_hand = float(-(target * log_p).sum(-1).mean())
    plain = float(-log_p[torch.arange(len(batch)), batch.labels].mean())
    objective, ce, _ = regularised_loss(logits, batch.labels, [], label_smoothing=eps)
    assert float(objective) == pytest.approx(by_hand, rel=1e-9)
    assert float(ce) == pytest.approx(plain, rel=1e-9)  # the reported loss stays plain
    assert abs(by_hand - plain) > 1e-3


def test_keep_last_trains_every_epoch_and_keeps_the_last(digits):
    ds, (tr, va, _) = digits
    epochs, weights = 6, {}

    def remember(event):
        if event.record:
            weights[event.epoch] = {k: v.clone() for k, v in model.state_dict().items()}

    model = fresh(ds)
    # lr 1e-5 and patience 1 would stop early when keeping the best (see above); not here.
    cfg = TrainConfig(epochs=epochs, patience=1, lr=1e-5, keep="last", label_smoothing=0.05)
    result = train(model, tr, va, cfg, on_step=remember)
    assert result.stopped == "completed" and len(result.history) == epochs
    assert result.best_epoch == epochs and result.best is result.history[-1]
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[epochs][k]), k
    assert evaluate(model, va)[1] == pytest.approx(result.history[-1].val_accuracy)
    with pytest.raises(ConfigError, match="keep"):
        TrainConfig(keep="first")


def test_l1_and_l2_shrink_the_penalised_weights(digits):
    ds, (tr, va, _) = digits
    runs = {}
    for key, kw in {"none": {}, "l1": dict(l1=1e-3), "l2": dict(l2=1e-2)}.items():
        model = fresh(ds)
        cfg = TrainConfig(epochs=3, batch_size=16, lr=2e-2, probes=0, max_train_examples=128,
                          **kw)  # fmt: skip
        result = train(model, tr, va, cfg)
        weights = penalised_parameters(model).values()
        runs[key] = (
            sum(float(w.detach().abs().sum()) for w in weights),
            sum(float(w.detach().square().sum()) for w in weights),
            result.history,
        )
    assert runs["l1"][0] < 0.5 * runs["none"][0]
    assert runs["l2"][1] < 0.5 * runs["none"][1]
    assert all(r.train_penalty == 0 for r in runs["none"][2])
    assert all(r.train_penalty > 0 for r in runs["l1"][2] + runs["l2"][2])
    # The history's train loss is the cross-entropy alone, comparable with the validation loss.
    assert all(r.train_loss < math.log(10) + 1 for r in runs["l1"][2])


def test_max_train_examples_trains_on_a_stratified_slice(digits):
    ds, (tr, va, _) = digits
    small = subsample(tr, 30, seed=0)
    assert len(small) == 30 and set(small.labels.tolist()) == set(range(10))
    assert set(subsample(tr, 20, seed=0).inputs[0][:, 0, 0, 0].tolist()) <= set(
        small.inputs[0][:, 0, 0, 0].tolist()
    )  # a smaller slice is part of a larger one
    assert subsample(tr, None, 0) is tr and subsample(tr, 10**6, 0) is tr
    torch.manual_seed(0)  # 4x4 patches learn fast enough to memorise 30 examples in 25 epochs
    model = build_classifier(ds, hidden_dim=32, activation="gelu", image=ImageConfig(8, 1, 4, 16))
    tr, va = model.tensors(ds.train), model.tensors(ds.val)
    events = []
    cfg = TrainConfig(epochs=25, batch_size=10, lr=3e-2, patience=100, max_train_examples=30,
                      probes=0)  # fmt: skip
    result = train(model, tr, va, cfg, on_step=events.append)
    assert len(events) == 3 * 25  # 30 examples in batches of 10
    last = result.history[-1]
    assert last.train_accuracy > last.val_accuracy + 0.1  # the gap a small slice opens
    assert last.train_loss < last.val_loss


def test_dropout_model_trains_and_evaluates_deterministically(digits):
    ds, (tr, va, te) = digits
    torch.manual_seed(0)
    model = build_classifier(ds, hidden_dim=32, activation="gelu", dropout_h=0.3,
                             dropout_attn=0.2, similarity="cosine")  # fmt: skip
    train(model, tr, va, TrainConfig(epochs=2, batch_size=32, probes=0, max_train_examples=64))
    assert not model.training and evaluate(model, te) == evaluate(model, te)


def test_new_fields_validate():
    with pytest.raises(ConfigError, match="l1"):
        TrainConfig(l1=-1e-3)
    with pytest.raises(ConfigError, match="l2"):
        TrainConfig(l2=float("nan"))
    with pytest.raises(ConfigError, match="max_train_examples"):
        TrainConfig(max_train_examples=0)
    for bad in (-0.1, 1.0, float("nan"), "0.1"):
        with pytest.raises(ConfigError, match="label_smoothing"):
            TrainConfig(label_smoothing=bad)
    assert TrainConfig.from_dict(TrainConfig(l1=1e-5, max_train_examples=50).to_dict()).l1 == 1e-5


def test_penalised_parameters_of_any_module():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    assert set(penalised_parameters(model)) == {"0.weight", "0.bias"}
    split = TensorSplit((torch.randn(4, 3),), torch.zeros(4, dtype=torch.int64))
    assert len(subsample(split, 2, 0)) == 2


def seeded_run(ds, splits, out, key, rng_states=None):
    """One seeded run as a training job makes it: build, init from the seed, train, test."""
    tr, va, te = splits
    model = build_classifier(ds, hidden_dim=16, activation="gelu", dropout_h=0.2,
                             dropout_attn=0.2, similarity="scaled_dot")  # fmt: skip
    init_parameters(model, seed=11)
    cfg = TrainConfig(epochs=4, batch_size=32, lr=3e-2, seed=11, probes=2, snapshot_every=3)
    before = torch.get_rng_state()
    result = train(model, tr, va, cfg)
    if rng_states is not None:
        rng_states += [before, torch.get_rng_state()]
    out[key] = (model.state_dict(), result.history, result.snapshots, evaluate(model, te))


@pytest.fixture
def one_torch_thread():
    """torch's intra-op threads for the test, as in a job's worker process. With two threads,
    two runs at once can split a reduction differently from a run alone (seen once in six
    runs at load 7: one weight off in its last bit), which says nothing about the RNG."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_seeded_runs_repeat_bit_for_bit_beside_other_jobs(digits, one_torch_thread):
    """Two identical seeded runs in threads at once (and a thread drawing from the global RNG
    meanwhile) end exactly where the same run alone ends: weights, history, snapshots, test."""
    ds, splits = digits
    runs, states = {}, []
    seeded_run(ds, splits, runs, "alone", states)
    assert torch.equal(*states)  # training drew nothing from the global RNG

    done = threading.Event()

    def noise() -> None:  # another job's draws from the global RNG, all along
        while not done.is_set():
            torch.rand(100)
            time.sleep(0.005)

    threads = [threading.Thread(target=seeded_run, args=(ds, splits, runs, k)) for k in "ab"]
    drawing = threading.Thread(target=noise)
    for thread in [drawing, *threads]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    drawing.join()
    alone_state, alone_history, alone_snaps, alone_test = runs["alone"]
    for key in "ab":
        state, history, snaps, test = runs[key]
        for (name, value), other in zip(alone_state.items(), state.values(), strict=True):
            assert torch.equal(value, other), (key, name)
        assert [r.train_loss for r in history] == [r.train_loss for r in alone_history]
        assert [r.val_loss for r in history] == [r.val_loss for r in alone_history]
        assert all(np.array_equal(x.attn, y.attn) for x, y in zip(snaps, alone_snaps, strict=True))
        assert test == alone_test


def test_epoch_order_shares_each_global_batch_between_processes():
    single = epoch_order(10, seed=3, epoch=2)
    assert sorted(single.tolist()) == list(range(10))
    assert not torch.equal(single, epoch_order(10, seed=3, epoch=1))  # reshuffled each epoch
    shares = [epoch_order(10, seed=3, epoch=2, rank=r, world=2) for r in (0, 1)]
    for b in range(0, 5, 2):  # local batches of 2 make global batches of 4
        together = torch.cat([s[b : b + 2] for s in shares])
        assert sorted(together.tolist()) == sorted(single[2 * b : 2 * b + 4].tolist())
