"""The similarity sweep on a small slice of digits: six comparable runs, measured and reported."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from dense_attention import DenseAttention, ModelConfig
from dense_attention.core.config import SIMILARITY_NAMES, ConfigError, TrainConfig
from dense_attention.data.builtin import load_dataset
from dense_attention.training.sweep import attention_entropy, count_parameters, sweep_similarities
from dense_attention.training.train import TensorSplit

HIDDEN = 8
CFG = TrainConfig(epochs=2, batch_size=32, lr=1e-2)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", limit=200)


@pytest.fixture(scope="module")
def swept(digits):
    calls = []
    options = {"hidden_dim": HIDDEN, "activation": "gelu", "similarity": "dot"}  # dot is replaced
    result = sweep_similarities(digits, options, CFG, on_progress=lambda *a: calls.append(a),
                                probe_index=3)  # fmt: skip
    return result, calls


def test_all_six_trained_and_reported(swept, digits):
    result, _ = swept
    table = result.table()
    assert list(table["similarity"]) == list(SIMILARITY_NAMES) and not result.stopped
    assert table["test_accuracy"].between(0, 1).all() and table["val_accuracy"].between(0, 1).all()
    assert (table["train_seconds"] > 0).all() and table["best_epoch"].between(1, 2).all()
    n = 16  # 8x8 digits in 2x2 patches, no padding: uniform attention has entropy log 16
    assert result.uniform_entropy == pytest.approx(math.log(n))
    assert (table["attention_entropy"] >= 0).all()
    assert (table["attention_entropy"] <= math.log(n) + 1e-5).all()
    assert table["attention_entropy"].nunique() == 6  # each similarity attends differently
    for run in result.runs:
        assert len(run.history) == run.epochs == 2
        accuracy = run.test_accuracy * len(digits.test)
        assert accuracy == pytest.approx(round(accuracy))  # a fraction of the 40 test examples


def test_parameter_counts_differ_by_the_similarity_weights(swept):
    params = swept[0].table().set_index("similarity")["parameters"]
    plain = params["dot"]
    assert {params[s] for s in ("dot", "scaled_dot", "cosine", "neg_euclidean")} == {plain}
    assert params["additive"] - plain == 2 * HIDDEN**2 + HIDDEN  # W_q, W_k (d x d) and w (d)
    assert params["bilinear"] - plain == HIDDEN**2  # W_s (d x d)


def test_probe_attention_of_the_same_example_under_each_model(swept, digits):
    result, _ = swept
    assert result.probe_index == 3 and len(result.probe_tokens) == 16
    assert result.probe_tokens[:2] == ("r0c0", "r0c1")
    assert result.probe_label == digits.classes[int(digits.test.labels[3])]
    for run in result.runs:
        assert run.probe_attn.shape == (16, 16) and run.probe_probs.shape == (10,)
        np.testing.assert_allclose(run.probe_attn.sum(-1), 1, atol=1e-5)
    assert not np.allclose(result.run("dot").probe_attn, result.run("neg_euclidean").probe_attn)


def test_progress_follows_every_step_of_every_run(swept):
    result, calls = swept
    steps = math.ceil(140 / CFG.batch_size) * CFG.epochs  # 140 training examples
    assert len(calls) == 6 * steps
    assert [c[0] for c in calls[::steps]] == list(range(6)) and {c[1] for c in calls} == {6}
    assert [c[2] for c in calls[::steps]] == list(SIMILARITY_NAMES)
    ends = [c for c in calls if c[3].record is not None]
    assert len(ends) == 12 and all(c[3].step <= steps for c in calls)


def test_table_and_csv(swept, tmp_path):
    result, _ = swept
    path = result.to_csv(tmp_path / "out" / "sweep.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == list(result.table().columns)
    assert list(back["similarity"]) == list(SIMILARITY_NAMES)
    np.testing.assert_allclose(back["test_accuracy"], result.table()["test_accuracy"])


def test_stop_keeps_only_finished_runs(digits):
    calls = []
    steps = math.ceil(140 / CFG.batch_size) * CFG.epochs
    result = sweep_similarities(
        digits, {"hidden_dim": HIDDEN}, CFG, on_progress=lambda *a: calls.append(a),
        should_stop=lambda: len(calls) > steps + 1, similarities=("dot", "cosine", "additive"),
    )  # fmt: skip
    assert result.stopped and [r.similarity for r in result.runs] == ["dot"]
    assert calls[-1][0] == 1  # stopped during the second run, which is left out


def test_sweep_with_a_sequence_encoder_and_a_subset(digits):
    options = {"hidden_dim": HIDDEN, "sequence_encoder": "transformer"}
    result = sweep_similarities(digits, options, CFG, similarities=("cosine", "bilinear"))
    assert [r.similarity for r in result.runs] == ["cosine", "bilinear"]
    plain = sweep_similarities(digits, {"hidden_dim": HIDDEN}, CFG, similarities=("cosine",))
    D = 2 * 2 + 16  # 2x2 patches of one channel + 16 position features
    # attention 4D^2 + 4D, feed-forward (2D wide) 4D^2 + 3D, two LayerNorms 4D
    assert result.runs[0].parameters - plain.runs[0].parameters == 8 * D * D + 11 * D


def test_bad_arguments(digits):
    with pytest.raises(ConfigError, match="probe_index"):
        sweep_similarities(digits, {"hidden_dim": 4}, CFG, probe_index=len(digits.test))
    with pytest.raises(ConfigError, match="similarities"):
        sweep_similarities(digits, {"hidden_dim": 4}, CFG, similarities=("manhattan",))


def entropy_model(similarity, temperature):
    torch.manual_seed(0)
    cfg = ModelConfig(5, 6, 3, similarity=similarity, temperature=temperature, activation="tanh")
    return DenseAttention(cfg).double()


def test_attention_entropy_bounds_are_reached():
    lengths = torch.tensor([4, 2, 3])
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    mask = torch.arange(4)[None, :] < lengths[:, None]
    split = TensorSplit((x, mask), torch.zeros(3, dtype=torch.int64))
    log_n = (4 * math.log(4) + 2 * math.log(2) + 3 * math.log(3)) / 9  # mean over 9 real rows
    flat, bound = attention_entropy(entropy_model("scaled_dot", 1e3), split, batch_size=2)
    assert bound == pytest.approx(log_n) and flat == pytest.approx(log_n, abs=1e-6)
    sharp, _ = attention_entropy(entropy_model("neg_euclidean", 1e-3), split)  # self only
    assert sharp == pytest.approx(0.0, abs=1e-6)
    middle, _ = attention_entropy(entropy_model("dot", 1.0), split)
    assert 0.01 < middle < log_n - 0.01


def test_count_parameters_skips_buffers():
    model = entropy_model("cosine", 1.0)
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())
    assert count_parameters(model) < sum(t.numel() for t in model.state_dict().values())
