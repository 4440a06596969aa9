"""Automatic tuning with Optuna: a seeded TPE search over the model and training choices.

Each trial builds a classifier from the sampled choices, trains it with the base TrainConfig and
scores it by its best validation accuracy (the test split is never looked at). Poor trials are
pruned by a median rule on the per-epoch validation accuracy. The default settings, trained with
the same budget, and the classic baseline are what the best trial must beat on validation.
Plain data out; no UI in here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import torch

from ..core.config import (
    ACTIVATIONS,
    POOLINGS,
    SEQUENCE_ENCODERS,
    SIMILARITY_NAMES,
    ConfigError,
    TrainConfig,
)
from ..core.seeding import init_parameters
from ..data.dataset import Dataset
from ..inputs.classifier import build_classifier
from ..inputs.splits import TensorSplit
from .train import StepEvent, TrainingError, train

# Searched parameters: those that shape the model (ModelConfig / build_classifier) and those of
# the training run (TrainConfig), in the order the trials table shows them.
MODEL_PARAMS = (
    "hidden_dim",
    "similarity",
    "temperature",
    "activation",
    "pooling",
    "sequence_encoder",
    "dropout_h",
    "dropout_attn",
)
TRAIN_PARAMS = ("lr", "l1", "l2")
# How the CLI spells each parameter (python -m dense_attention train ...).
CLI_FLAGS = {
    "hidden_dim": "--hidden",
    "similarity": "--similarity",
    "temperature": "--temperature",
    "activation": "--activation",
    "pooling": "--pooling",
    "sequence_encoder": "--sequence-encoder",
    "dropout_h": "--dropout-h",
    "dropout_attn": "--dropout-attn",
    "lr": "--lr",
    "l1": "--l1",
    "l2": "--l2",
}
DEFAULT_TRAIN = TrainConfig(epochs=10, patience=4, probes=0)


@dataclass(frozen=True)
class SearchSpace:
    """What `tune` searches. Choices are tuples (one value fixes it); ranges are (low, high)."""

    hidden_dims: tuple[int, ...] = (16, 32, 64, 128)
    similarities: tuple[str, ...] = SIMILARITY_NAMES
    temperature: tuple[float, float] = (0.1, 10.0)  # log-uniform
    activations: tuple[str, ...] = ACTIVATIONS
    poolings: tuple[str, ...] = POOLINGS
    sequence_encoders: tuple[str, ...] = ("none",)  # add "lstm", "transformer" to search them
    lr: tuple[float, float] = (3e-4, 3e-2)  # log-uniform
    dropout_h: tuple[float, float] = (0.0, 0.5)  # uniform
    dropout_attn: tuple[float, float] = (0.0, 0.3)  # uniform
    l1: tuple[float, float] = (1e-8, 1e-3)  # log-uniform; the low end is practically no penalty
    l2: tuple[float, float] = (1e-8, 1e-2)  # log-uniform

    def __post_init__(self) -> None:
        choices = {
            "similarities": (self.similarities, SIMILARITY_NAMES),
            "activations": (self.activations, ACTIVATIONS),
            "poolings": (self.poolings, POOLINGS),
            "sequence_encoders": (self.sequence_encoders, SEQUENCE_ENCODERS),
        }
        for name, (chosen, allowed) in choices.items():
            if not chosen or not set(chosen) <= set(allowed):
                raise ConfigError(f"{name} must be some of {', '.join(allowed)}, got {chosen}")
        if not self.hidden_dims or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.hidden_dims
        ):
            raise ConfigError(f"hidden_dims must be positive integers, got {self.hidden_dims}")
        for name in ("temperature", "lr", "l1", "l2"):
            low, high = getattr(self, name)
            if not 0 < low <= high < math.inf:
                raise ConfigError(f"{name} range must satisfy 0 < low <= high, got {(low, high)}")
        for name in ("dropout_h", "dropout_attn"):
            low, high = getattr(self, name)
            if not 0 <= low <= high < 1:
                raise ConfigError(f"{name} range must lie in [0, 1), got {(low, high)}")

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """One point of the space, sampled by `trial`: MODEL_PARAMS + TRAIN_PARAMS."""
        cat, num = trial.suggest_categorical, trial.suggest_float
        return {
            "hidden_dim": cat("hidden_dim", self.hidden_dims),
            "similarity": cat("similarity", self.similarities),
            "temperature": num("temperature", *self.temperature, log=True),
            "activation": cat("activation", self.activations),
            "pooling": cat("pooling", self.poolings),
            "sequence_encoder": cat("sequence_encoder", self.sequence_encoders),
            "dropout_h": num("dropout_h", *self.dropout_h),
            "dropout_attn": num("dropout_attn", *self.dropout_attn),
            "lr": num("lr", *self.lr, log=True),
            "l1": num("l1", *self.l1, log=True),
            "l2": num("l2", *self.l2, log=True),
        }


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial."""

    number: int  # 0-based, in the order the trials ran
    state: str  # COMPLETE | PRUNED | FAIL
    value: float | None  # best validation accuracy (None unless COMPLETE)
    params: dict[str, Any]  # the sampled MODEL_PARAMS and TRAIN_PARAMS
    seconds: float  # wall clock of the trial
    val_curve: tuple[float, ...]  # validation accuracy after each epoch it ran
    note: str = ""  # completed | early_stopping | time_limit | pruned | stopped_by_user


@dataclass(frozen=True)
class TuneResult:
    """Every trial of a search, the best one, and how to train it in full."""

    dataset: str
    trials: tuple[TrialRecord, ...]
    best_number: int | None  # None when no trial completed
    best_value: float | None  # best validation accuracy over the completed trials
    best_params: dict[str, Any]
    seed: int  # of the TPE sampler
    base_train_config: TrainConfig  # what every trial trained with (lr, l1, l2 replaced)
    model_options: dict[str, Any] = field(default_factory=dict)  # fixed build_classifier options
    stopped: bool = False  # should_stop() ended the search early
    # What the best trial must beat, on the same validation split: the default settings trained
    # with the same budget, and the classic baseline (None where not measured)
    default_value: float | None = None
    baseline_value: float | None = None

    def references(self) -> list[tuple[str, float]]:
        """(name, validation accuracy) of what the best trial is compared with, when measured:
        the default settings trained with the same budget, and the classic baseline."""
        pairs = (
            ("default settings", self.default_value),
            ("classic baseline", self.baseline_value),
        )
        return [(name, value) for name, value in pairs if value is not None]

    def shortfall(self) -> str:
        """A plain sentence when the best trial does not beat the default settings or the
        baseline on validation accuracy (then training it in full is not the better model);
        "" when it beats both, or when nothing was measured to compare."""
        if self.best_value is None:
            return ""
        behind = [
            f"the {name} ({value:.1%})"
            for name, value in self.references()
            if self.best_value <= value
        ]
        if not behind:
            return ""
        return (
            f"The search has not beaten {' or '.join(behind)}: its best trial reached "
            f"{self.best_value:.1%} validation accuracy. Train with the defaults, or search "
            "longer (more trials or epochs), before trusting its configuration."
        )

    def table(self) -> pd.DataFrame:
        """One row per trial: number, state, value, seconds, epochs and one column per parameter."""
        return trials_table(self.trials)

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.table().to_csv(path, index=False)
        return path

    def best_configs(self, epochs: int | None = None) -> tuple[dict[str, Any], TrainConfig]:
        """(build_classifier keyword arguments, TrainConfig) of the best trial, for a full run.

        `epochs` replaces the search's per-trial budget (a full run usually trains longer).
        """
        if self.best_number is None:
            raise TrainingError(
                "no trial completed: nothing to train (raise the trials or timeout)"
            )
        options = {**self.model_options, **{k: self.best_params[k] for k in MODEL_PARAMS}}
        config = replace(self.base_train_config, **{k: self.best_params[k] for k in TRAIN_PARAMS})
        return options, replace(config, epochs=epochs) if epochs else config

    def train_arguments(self) -> list[str]:
        """The best trial as `python -m dense_attention train` flags (exact float values)."""
        if self.best_number is None:
            raise TrainingError("no trial completed")
        args: list[str] = []
        for name in (*MODEL_PARAMS, *TRAIN_PARAMS):
            value = self.best_params[name]
            args += [CLI_FLAGS[name], repr(value) if isinstance(value, float) else str(value)]
        return args


def trials_table(trials: Sequence[TrialRecord]) -> pd.DataFrame:
    """Trials as rows: number, state, value, seconds, epochs, every parameter, note."""
    rows = [
        {
            "number": t.number,
            "state": t.state,
            "value": t.value,
            "seconds": t.seconds,
            "epochs": len(t.val_curve),
            **t.params,
            "note": t.note,
        }
        for t in trials
    ]
    columns = ["number", "state", "value", "seconds", "epochs", *MODEL_PARAMS, *TRAIN_PARAMS]
    return pd.DataFrame(rows, columns=[*columns, "note"])


TrialFn = Callable[[TrialRecord, int, int | None], None]


def tune(
    dataset: Dataset,
    n_trials: int | None = 20,
    timeout: float | None = None,
    seed: int = 0,
    on_trial: TrialFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    base_train_config: TrainConfig = DEFAULT_TRAIN,
    space: SearchSpace | None = None,
    model_options: dict[str, Any] | None = None,
    on_step: Callable[[int, StepEvent], None] | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    reference: Callable[[Dataset], float] | None = None,
    default_run: bool = True,
) -> TuneResult:
    """Search `space` with Optuna for the best validation accuracy on `dataset`.

    At most `n_trials` trials and about `timeout` seconds (a running trial is cut at the
    deadline and keeps its best epoch). `seed` seeds the TPE sampler, so a search without a
    timeout repeats exactly (training itself is seeded by `base_train_config.seed`).
    `model_options` fixes build_classifier options outside the space (text, image,
    pool_activation, skip). Pruning: `pruner`, by default MedianPruner(n_startup_trials=3,
    n_warmup_steps=2) fed each epoch's validation accuracy. `on_trial(record, finished, n_trials)`
    follows every finished trial; `on_step(trial_number, event)` every optimiser step;
    `should_stop()` ends the search (the running trial is recorded as PRUNED, note stopped_by_user).
    `default_run`: first train the default settings (ModelConfig's defaults, the base config's
    lr, l1, l2) with the same budget, outside the trials (its steps reach on_step as trial -1);
    `reference(dataset)`: the baseline's validation accuracy. The best trial is compared with
    both (TuneResult.shortfall).
    """
    _check_budget(n_trials, timeout)
    fixed = _fixed_options(model_options)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = replace(base_train_config, probes=0)
    encoder, splits = _encode_once(dataset, fixed, base.seed)
    deadline = None if timeout is None else time.monotonic() + timeout
    search = _Search(dataset, space or SearchSpace(), base, {**fixed, **encoder}, splits,
                     deadline, n_trials, on_trial, on_step, should_stop)  # fmt: skip
    default = search.default_value() if default_run else None
    baseline = reference(dataset) if reference is not None else None
    study = _study(seed, n_trials, pruner)
    if not search.stopped:  # the user may stop it during the default settings' run
        study.optimize(search.objective, n_trials=n_trials, timeout=timeout,
                       callbacks=[search.after_trial])  # fmt: skip
    complete = [t for t in search.records if t.state == "COMPLETE"]
    best = max(complete, key=lambda t: t.value, default=None)  # first of equals, as Optuna
    return TuneResult(
        dataset=dataset.name,
        trials=tuple(search.records),
        best_number=best.number if best else None,
        best_value=best.value if best else None,
        best_params=dict(best.params) if best else {},
        seed=seed,
        base_train_config=base_train_config,
        model_options=fixed,
        stopped=search.stopped,
        default_value=default,
        baseline_value=baseline,
    )


def _check_budget(n_trials: int | None, timeout: float | None) -> None:
    if n_trials is None and timeout is None:
        raise ConfigError("give n_trials, timeout, or both: the search needs an end")
    if n_trials is not None and n_trials < 1:
        raise ConfigError(f"n_trials must be at least 1, got {n_trials}")


def _fixed_options(model_options: dict[str, Any] | None) -> dict[str, Any]:
    fixed = dict(model_options or {})
    clash = sorted(set(fixed) & set(MODEL_PARAMS))
    if clash:
        raise ConfigError(f"{', '.join(clash)} are searched: fix them through the SearchSpace")
    return fixed


def _encode_once(
    dataset: Dataset, fixed: dict[str, Any], seed: int
) -> tuple[dict[str, Any], list[TensorSplit]]:
    """The resolved encoder option (e.g. the learned vocabulary) and the train and validation
    splits as tensors: every trial reuses both."""
    torch.manual_seed(seed)
    first = build_classifier(dataset, **fixed)
    encoder = {first.config.kind: getattr(first.config, first.config.kind)}
    return encoder, [first.tensors(s) for s in (dataset.train, dataset.val)]


def _study(
    seed: int, n_trials: int | None, pruner: optuna.pruners.BasePruner | None
) -> optuna.Study:
    startup = 10 if n_trials is None else max(3, min(10, n_trials // 3))
    return optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup),
        pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )


@dataclass
class _Search:
    """One search: what every trial trains on, Optuna's objective and callback, what finished."""

    dataset: Dataset
    space: SearchSpace
    base: TrainConfig  # every trial's TrainConfig before its sampled lr, l1, l2
    options: dict[str, Any]  # fixed build_classifier options, the resolved encoder included
    splits: list[TensorSplit]  # train, validation
    deadline: float | None  # time.monotonic() at which the search ends
    n_trials: int | None
    on_trial: TrialFn | None
    on_step: Callable[[int, StepEvent], None] | None
    should_stop: Callable[[], bool] | None
    records: list[TrialRecord] = field(default_factory=list)
    stopped: bool = False

    def objective(self, trial: optuna.Trial) -> float:
        params = self.space.suggest(trial)
        trial.set_user_attr("val_curve", [])
        config = self._train_config(params)
        choices = {k: params[k] for k in MODEL_PARAMS}
        model = build_classifier(self.dataset, **self.options, **choices)
        init_parameters(model, self.base.seed)
        result = train(model, *self.splits, config, on_step=self._step_fn(trial),
                       should_stop=self.should_stop)  # fmt: skip
        trial.set_user_attr("note", result.stopped)
        if result.stopped == "stopped_by_user":
            self.stopped = True
            trial.study.stop()
            raise optuna.TrialPruned("stopped by user")
        return result.best.val_accuracy

    def default_value(self) -> float | None:
        """The best validation accuracy of the default settings (None if stopped by the user)."""
        model = build_classifier(self.dataset, **self.options)
        init_parameters(model, self.base.seed)
        config = self._train_config({k: getattr(self.base, k) for k in TRAIN_PARAMS})
        on_step = None if self.on_step is None else partial(self.on_step, -1)
        result = train(model, *self.splits, config, on_step=on_step, should_stop=self.should_stop)
        if result.stopped == "stopped_by_user":
            self.stopped = True
            return None
        return result.best.val_accuracy

    def _train_config(self, params: dict[str, Any]) -> TrainConfig:
        """The base config with the sampled training choices, cut at the search's deadline."""
        config = replace(self.base, **{k: params[k] for k in TRAIN_PARAMS})
        if self.deadline is None:
            return config
        left = max(self.deadline - time.monotonic(), 1e-3)
        return replace(config, max_seconds=min(config.max_seconds or left, left))

    def _step_fn(self, trial: optuna.Trial) -> Callable[[StepEvent], None]:
        """Forwards steps to on_step; reports each epoch's validation accuracy for pruning."""
        curve: list[float] = []

        def step(event: StepEvent) -> None:
            if self.on_step is not None:
                self.on_step(trial.number, event)
            if event.record is not None:
                curve.append(event.record.val_accuracy)
                trial.set_user_attr("val_curve", list(curve))
                trial.report(event.record.val_accuracy, event.record.epoch)
                if trial.should_prune():
                    trial.set_user_attr("note", "pruned")
                    raise optuna.TrialPruned(f"epoch {event.record.epoch}")

        return step

    def after_trial(self, study: optuna.Study, frozen: optuna.trial.FrozenTrial) -> None:
        record = _record(frozen)
        self.records.append(record)
        if self.on_trial is not None:
            self.on_trial(record, len(self.records), self.n_trials)
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
        out_of_time = self.deadline is not None and time.monotonic() >= self.deadline
        if self.stopped or out_of_time:
            study.stop()


def _record(frozen: optuna.trial.FrozenTrial) -> TrialRecord:
    seconds = frozen.duration.total_seconds() if frozen.duration else 0.0
    state = frozen.state.name
    return TrialRecord(
        number=frozen.number,
        state=state,
        value=frozen.value if state == "COMPLETE" else None,
        params=dict(frozen.params),
        seconds=seconds,
        val_curve=tuple(frozen.user_attrs.get("val_curve", ())),
        note=frozen.user_attrs.get("note", state.lower()),
    )
