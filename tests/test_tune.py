"""Optuna tuning on a small slice of digits: it completes, repeats with a seed, prunes, and its
best configuration trains to the value the search recorded."""

import optuna
import pytest

from dense_attention.core.config import ConfigError, TrainConfig
from dense_attention.core.seeding import init_parameters
from dense_attention.data.baselines import baseline_validation_accuracy
from dense_attention.data.builtin import load_dataset
from dense_attention.inputs.classifier import build_classifier
from dense_attention.training.train import TrainingError, train
from dense_attention.training.tune import (
    MODEL_PARAMS,
    TRAIN_PARAMS,
    SearchSpace,
    TuneResult,
    tune,
)

BASE = TrainConfig(epochs=2, batch_size=32, probes=0)
SMALL = SearchSpace(hidden_dims=(8, 16))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", limit=200)


@pytest.fixture(scope="module")
def searched(digits):
    seen = []
    result = tune(digits, 3, seed=7, base_train_config=BASE, space=SMALL,
                  on_trial=lambda *a: seen.append(a))  # fmt: skip
    return result, seen


def test_three_trials_complete(searched):
    result, seen = searched
    assert [t.number for t in result.trials] == [0, 1, 2] and not result.stopped
    assert [s[1:] for s in seen] == [(1, 3), (2, 3), (3, 3)]  # (finished, n_trials)
    assert all(t.state == "COMPLETE" and 0 <= t.value <= 1 for t in result.trials)
    assert all(len(t.val_curve) == 2 and t.seconds > 0 for t in result.trials)
    assert result.best_value == max(t.value for t in result.trials)
    assert result.best_params == result.trials[result.best_number].params
    assert set(result.best_params) == set(MODEL_PARAMS) | set(TRAIN_PARAMS)
    assert result.best_params["hidden_dim"] in (8, 16)
    table = result.table()
    assert len(table) == 3 and list(table.columns[:5]) == ["number", "state", "value", "seconds",
                                                            "epochs"]  # fmt: skip
    assert set(MODEL_PARAMS) | set(TRAIN_PARAMS) <= set(table.columns)


def test_same_seed_repeats_the_search(searched, digits):
    result, _ = searched
    again = tune(digits, 3, seed=7, base_train_config=BASE, space=SMALL)
    assert [t.params for t in again.trials] == [t.params for t in result.trials]
    assert [t.value for t in again.trials] == [t.value for t in result.trials]
    other = tune(digits, 1, seed=8, base_train_config=BASE, space=SMALL)
    assert other.trials[0].params != result.trials[0].params


def test_best_config_trains_to_the_recorded_value(searched, digits):
    result, _ = searched
    options, config = result.best_configs()
    assert config.lr == result.best_params["lr"] and config.l1 == result.best_params["l1"]
    assert config.epochs == BASE.epochs and result.best_configs(epochs=5)[1].epochs == 5
    model = init_parameters(build_classifier(digits, **options), config.seed)
    for name in MODEL_PARAMS:
        want = result.best_params[name]
        assert getattr(model.config.model, name) == want, name
    splits = [model.tensors(s) for s in (digits.train, digits.val)]
    run = train(model, *splits, config)
    assert run.best.val_accuracy == result.best_value  # the search's trial, reproduced
    flags = result.train_arguments()
    assert flags[flags.index("--similarity") + 1] == result.best_params["similarity"]
    assert float(flags[flags.index("--lr") + 1]) == result.best_params["lr"]  # exact round trip


def test_pruned_trials_stop_early(digits):
    always = optuna.pruners.ThresholdPruner(lower=1.5, n_warmup_steps=2)  # prunes at epoch 2
    result = tune(digits, 2, base_train_config=TrainConfig(epochs=5, batch_size=32, probes=0),
                  space=SMALL, pruner=always)  # fmt: skip
    assert [t.state for t in result.trials] == ["PRUNED", "PRUNED"]
    assert all(len(t.val_curve) == 2 and t.value is None for t in result.trials)
    assert result.best_number is None and result.best_value is None
    with pytest.raises(TrainingError, match="no trial completed"):
        result.best_configs()


def test_stop_and_timeout_end_the_search(digits):
    stopped = tune(digits, 5, base_train_config=BASE, space=SMALL, should_stop=lambda: True,
                   default_run=False)  # fmt: skip
    assert stopped.stopped and len(stopped.trials) == 1
    assert stopped.trials[0].state == "PRUNED" and stopped.trials[0].note == "stopped_by_user"
    timed = tune(digits, None, timeout=0.5, space=SMALL, default_run=False,
                 base_train_config=TrainConfig(epochs=500, patience=500, batch_size=32,
                                               probes=0))  # fmt: skip
    assert len(timed.trials) == 1 and timed.trials[0].note == "time_limit"
    assert timed.trials[0].state == "COMPLETE" and len(timed.trials[0].val_curve) < 500


def test_sequence_encoders_can_be_searched(digits):
    space = SearchSpace(hidden_dims=(8,), sequence_encoders=("lstm", "transformer"))
    result = tune(digits, 3, seed=1, base_train_config=BASE, space=space)
    chosen = {t.params["sequence_encoder"] for t in result.trials}
    assert chosen <= {"lstm", "transformer"} and all(t.state == "COMPLETE" for t in result.trials)


def test_bad_arguments(digits):
    with pytest.raises(ConfigError, match="similarities"):
        SearchSpace(similarities=("manhattan",))
    with pytest.raises(ConfigError, match="l1"):
        SearchSpace(l1=(0.0, 1e-3))  # log-uniform needs low > 0
    with pytest.raises(ConfigError, match="dropout_h"):
        SearchSpace(dropout_h=(0.0, 1.0))
    with pytest.raises(ConfigError, match="searched"):
        tune(digits, 1, model_options={"similarity": "dot"})
    with pytest.raises(ConfigError, match="end"):
        tune(digits, None)


def test_a_search_that_does_not_beat_the_defaults_says_so(digits):
    """Issue #28.9: trials that cannot learn (lr fixed at 1e-7) are compared with the default
    settings, trained with the same budget, and with the baseline, on validation accuracy."""
    hopeless = SearchSpace(hidden_dims=(8,), lr=(1e-7, 1e-7))
    budget = TrainConfig(epochs=8, batch_size=16, probes=0)
    result = tune(digits, 2, base_train_config=budget, space=hopeless,
                  reference=baseline_validation_accuracy)  # fmt: skip
    model = init_parameters(build_classifier(digits), budget.seed)  # the defaults, independently
    run = train(model, *(model.tensors(s) for s in (digits.train, digits.val)), budget)
    assert result.default_value == run.best.val_accuracy
    assert result.baseline_value == baseline_validation_accuracy(digits) > 0.5
    assert result.best_value < result.default_value and result.best_value < result.baseline_value
    said = result.shortfall()
    assert said.startswith("The search has not beaten the default settings")
    assert f"({result.default_value:.1%})" in said and "classic baseline" in said
    assert f"reached {result.best_value:.1%}" in said


def test_shortfall_is_silent_only_when_the_best_beats_both():
    made = lambda best, default, baseline: TuneResult(  # noqa: E731
        "d", (), 0, best, {}, 0, BASE, default_value=default, baseline_value=baseline
    )
    assert made(0.9, 0.8, 0.7).shortfall() == ""
    assert made(0.9, None, None).shortfall() == ""  # nothing measured to compare
    assert "default settings (90.0%)" in made(0.9, 0.9, 0.5).shortfall()  # a tie is not a win
    assert "baseline" in made(0.9, 0.5, 0.95).shortfall()
    assert "default settings" not in made(0.9, 0.5, 0.95).shortfall()
