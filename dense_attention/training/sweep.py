"""The similarity sweep: one model per similarity function, same seed, split and budget, compared.

Answers "which similarity should I use on my data?" with measured numbers: test accuracy,
training time, trainable parameters, how sharp the attention is (its entropy), and the attention
matrix each trained model gives the same test example. Plain data out; no UI in here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core.config import SIMILARITY_NAMES, ConfigError, TrainConfig
from ..core.seeding import init_parameters
from ..core.trace import attention_entropy as row_entropy
from ..data.dataset import Dataset
from ..inputs.classifier import Classifier, build_classifier
from .train import (
    EpochRecord,
    StepEvent,
    TensorSplit,
    TrainingError,
    TrainResult,
    evaluate,
    train,
)

ProgressFn = Callable[[int, int, str, StepEvent], None]

TABLE_COLUMNS = (
    "similarity",
    "test_accuracy",
    "train_seconds",
    "parameters",
    "attention_entropy",
    "best_epoch",
    "val_accuracy",
    "test_loss",
    "epochs",
    "stopped",
)


@dataclass(frozen=True)
class SweepRun:
    """One similarity trained and measured."""

    similarity: str
    test_accuracy: float  # of the best-validation epoch's weights
    test_loss: float  # mean cross-entropy on the test split
    val_accuracy: float  # best validation accuracy (the epoch that was kept)
    train_seconds: float  # wall clock of `train`, validation included
    parameters: int  # trainable parameters of the whole classifier (encoder included)
    attention_entropy: float  # mean over the test set's real query rows of -sum_j a_ij log a_ij
    best_epoch: int  # 1-based epoch whose weights were kept
    epochs: int  # epochs run (early stopping may end before the budget)
    stopped: str  # completed | early_stopping | time_limit
    history: tuple[EpochRecord, ...]  # per-epoch train/validation loss and accuracy
    probe_attn: np.ndarray  # (n, n) attention a_ij of the probe example, real tokens only
    probe_probs: np.ndarray  # (C,) class probabilities of the probe example


@dataclass(frozen=True)
class SweepResult:
    """Every finished run of a sweep, plus what the probe example is."""

    dataset: str
    runs: tuple[SweepRun, ...]  # in sweep order; fewer than asked when stopped
    probe_index: int  # index of the probe example in the test split
    probe_tokens: tuple[str, ...]  # a label per token of the probe (word pieces or patch names)
    probe_label: str  # the probe's true class
    classes: tuple[str, ...]
    uniform_entropy: float  # mean log n over the same query rows: the entropy of uniform attention
    stopped: bool  # True when should_stop() ended the sweep before every similarity ran

    def table(self) -> pd.DataFrame:
        """One row per similarity with the TABLE_COLUMNS, in sweep order."""
        rows = [{name: getattr(run, name) for name in TABLE_COLUMNS} for run in self.runs]
        return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.table().to_csv(path, index=False)
        return path

    def probe_prediction(self, run: SweepRun) -> tuple[str, bool]:
        """The class `run`'s model predicts for the probe example, and whether it is right."""
        predicted = self.classes[int(np.argmax(run.probe_probs))]
        return predicted, predicted == self.probe_label

    def run(self, similarity: str) -> SweepRun:
        return next(r for r in self.runs if r.similarity == similarity)

    def best(self) -> SweepRun:
        """The run with the best validation accuracy (the first on a tie). Never chosen by test
        accuracy: the test split only measures the choice, or the choice overfits it."""
        if not self.runs:
            raise TrainingError("the sweep has no finished run")
        scores = [-math.inf if math.isnan(r.val_accuracy) else r.val_accuracy for r in self.runs]
        return self.runs[scores.index(max(scores))]


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (fixed buffers and frozen weights excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def attention_entropy(
    model: nn.Module, split: TensorSplit, batch_size: int = 256
) -> tuple[float, float]:
    """(mean entropy, mean log n) of the attention rows of `split`, in nats.

    The mean runs over every real query row i of every example: H_i = -sum_j a_ij log a_ij, with
    0 log 0 = 0. log n (n = the example's real tokens) is the entropy of uniform attention, the
    upper bound; 0 means each token attends to a single one.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, bound, rows = 0.0, 0.0, 0
    for start in range(0, len(split), batch_size):
        part = split.take(slice(start, start + batch_size)).to(device)
        t = model.trace(*part.inputs)
        total += float(row_entropy(t.attn, t.mask).sum())  # padding rows count 0
        lengths = t.mask.sum(dim=1, keepdim=True).expand_as(t.mask).float()  # (B, N)
        bound += lengths[t.mask].log().sum().item()
        rows += int(t.mask.sum())
    model.train(was_training)
    return total / max(rows, 1), bound / max(rows, 1)


def sweep_similarities(
    dataset: Dataset,
    model_options: dict[str, Any] | None = None,
    train_config: TrainConfig | None = None,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    probe_index: int = 0,
    similarities: Sequence[str] = SIMILARITY_NAMES,
) -> SweepResult:
    """Train one classifier per similarity on `dataset` and measure each on its test split.

    `model_options` are build_classifier's keyword arguments (hidden_dim, text, image and the
    ModelConfig fields such as activation, dropout_h or sequence_encoder); any `similarity` in it
    is replaced by the swept one. Every run starts from the same seed (`train_config.seed`), so
    the weights the similarities share start equal, and sees the same split and epoch budget.
    `on_progress(run_index, total_runs, similarity, event)` follows every optimiser step
    (run_index is 0-based); `should_stop()` ends the sweep, keeping only the finished runs.
    """
    options = {k: v for k, v in (model_options or {}).items() if k != "similarity"}
    config = replace(train_config or TrainConfig(), probes=0)  # snapshots are not needed here
    _check_request(dataset, similarities, probe_index)
    first = _build(dataset, options, similarities[0], config.seed)
    # Reuse the resolved encoder (e.g. the learned vocabulary) and the tensors for every run.
    options |= {first.config.kind: getattr(first.config, first.config.kind)}
    splits = [first.tensors(s) for s in (dataset.train, dataset.val, dataset.test)]
    runs: list[SweepRun] = []
    tokens: tuple[str, ...] = ()
    uniform, stopped = math.nan, False
    for index, similarity in enumerate(similarities):
        if should_stop is not None and should_stop():
            stopped = True
            break
        _warm_up(_build(dataset, options, similarity, config.seed), splits, config)
        model = _build(dataset, options, similarity, config.seed)
        step_fn = _step_fn(on_progress, index, len(similarities), similarity)
        result = train(model, splits[0], splits[1], config, on_step=step_fn,
                       should_stop=should_stop)  # fmt: skip
        if result.stopped == "stopped_by_user":  # a cut-short run would not compare fairly
            stopped = True
            break
        run, tokens, uniform = _measure(model, result, splits[2], dataset.test.items[probe_index])
        runs.append(run)
    return SweepResult(
        dataset=dataset.name,
        runs=tuple(runs),
        probe_index=probe_index,
        probe_tokens=tokens,
        probe_label=dataset.classes[int(dataset.test.labels[probe_index])],
        classes=dataset.classes,
        uniform_entropy=uniform,
        stopped=stopped,
    )


def _check_request(dataset: Dataset, similarities: Sequence[str], probe_index: int) -> None:
    unknown = sorted(set(similarities) - set(SIMILARITY_NAMES))
    if unknown or not similarities:
        raise ConfigError(f"similarities must be some of {', '.join(SIMILARITY_NAMES)}: {unknown}")
    if not 0 <= probe_index < len(dataset.test):
        raise ConfigError(
            f"probe_index {probe_index} is outside the test split ({len(dataset.test)})"
        )


def _step_fn(
    on_progress: ProgressFn | None, index: int, total: int, similarity: str
) -> Callable[[StepEvent], None] | None:
    """`train`'s on_step for run `index`: passes each event on, with which run it belongs to."""
    if on_progress is None:
        return None
    return lambda event: on_progress(index, total, similarity, event)


def _measure(
    model: Classifier, result: TrainResult, test: TensorSplit, probe_item: Any
) -> tuple[SweepRun, tuple[str, ...], float]:
    """(the trained model's SweepRun, the probe's tokens, the test rows' mean log n)."""
    test_loss, test_acc = evaluate(model, test)
    entropy, uniform = attention_entropy(model, test)
    probe = model.explain(probe_item)
    run = SweepRun(
        similarity=model.config.model.similarity,
        test_accuracy=test_acc,
        test_loss=test_loss,
        val_accuracy=result.best.val_accuracy if result.best else math.nan,
        train_seconds=result.seconds,
        parameters=count_parameters(model),
        attention_entropy=entropy,
        best_epoch=result.best_epoch,
        epochs=len(result.history),
        stopped=result.stopped,
        history=tuple(result.history),
        probe_attn=probe.trace.attn[0].detach().float().cpu().numpy(),
        probe_probs=probe.trace.probs[0].detach().float().cpu().numpy(),
    )
    return run, tuple(probe.tokens), uniform


def _build(dataset: Dataset, options: dict[str, Any], similarity: str, seed: int) -> Classifier:
    return init_parameters(build_classifier(dataset, **options, similarity=similarity), seed)


def _warm_up(model: Classifier, splits: list[TensorSplit], config: TrainConfig) -> None:
    """One untimed step on a throwaway model: the timed run must not pay torch's first calls."""
    brief = replace(config, epochs=1, max_train_examples=None, max_seconds=None)
    train(model, splits[0].take(slice(0, config.batch_size)), splits[1].take(slice(0, 2)), brief)
