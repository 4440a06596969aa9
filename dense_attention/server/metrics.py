"""What a training run leaves: its metrics as metrics.json keeps them (`TrainedMetrics`, written
and read back here only), and the `TrainedModel` a training job returns (those metrics plus the
model, its probes and replay, which metrics.json does not keep).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch

from ..core.config import TrainConfig
from ..core.i18n import tr
from ..data.images import Example
from ..explain.familiarity import KEY as FAMILIARITY
from ..inputs.classifier import Classifier
from ..storage.catalog import EXAMPLES_KEY
from ..training.train import EpochRecord, Snapshot

TRAINED_IN = "Dense Attention Lab train page"  # metrics.json's "trained_in" of an app's run


def _sentences(value: Any) -> list[str]:
    """metrics.json's "examples" read back: its non-empty strings ([] for anything else)."""
    return [t for t in value if isinstance(t, str) and t.strip()] if isinstance(value, list) else []


@dataclass
class TrainedMetrics:
    """A finished run's numbers, one named field each. `to_json()` gives metrics.json (the CLI's
    keys, where they mean the same); `from_json()` reads that back, and the metrics.json the
    CLI writes (the shipped checkpoints' too: keys it does not know are left out)."""

    dataset: str
    test_accuracy: float
    test_loss: float
    history: list[EpochRecord]
    stopped: str  # completed | early_stopping | time_limit | stopped_by_user
    best_epoch: int
    seconds: float  # training time ("train_seconds")
    device: str
    train_config: TrainConfig
    baseline_accuracy: float | None = None  # set when measured (after the test accuracy)
    baseline_name: str = ""  # the classic baseline ("baseline")
    baseline_note: str = ""  # why there is no baseline, e.g. the run was stopped
    split_seed: int = 0  # the seed the data was split with (test examples are found again by it)
    limit: int | None = None  # a built-in dataset cut to this many examples
    familiarity: dict[str, Any] | None = None  # explain.familiarity's floor (validation split)
    examples: list[str] = field(default_factory=list)  # text: test sentences it gets right

    def to_json(self) -> dict[str, Any]:
        """metrics.json's object: accuracies and losses to 4 decimals, seconds to 1."""
        return {
            "dataset": self.dataset,
            "split_seed": self.split_seed,
            "limit": self.limit,
            "test_accuracy": round(self.test_accuracy, 4),
            "test_loss": round(self.test_loss, 4),
            "baseline_accuracy": None
            if self.baseline_accuracy is None
            else round(self.baseline_accuracy, 4),
            "baseline": self.baseline_name,
            **({"baseline_note": self.baseline_note} if self.baseline_note else {}),
            "best_epoch": self.best_epoch,
            "stopped": self.stopped,
            "train_seconds": round(self.seconds, 1),
            "device": self.device,
            "train_config": self.train_config.to_dict(),
            "history": [r.__dict__ for r in self.history],
            **({FAMILIARITY: self.familiarity} if self.familiarity else {}),
            **({EXAMPLES_KEY: self.examples} if self.examples else {}),
            "trained_in": TRAINED_IN,
            "torch": torch.__version__,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainedMetrics:
        """A metrics.json object read back. KeyError names a missing field; TypeError or
        ConfigError a field of the wrong shape (a history record, the training config)."""
        return cls(
            dataset=data["dataset"],
            test_accuracy=data["test_accuracy"],
            test_loss=data["test_loss"],
            history=[EpochRecord(**record) for record in data["history"]],
            stopped=data["stopped"],
            best_epoch=data["best_epoch"],
            seconds=data["train_seconds"],
            device=data["device"],
            train_config=TrainConfig.from_dict(data["train_config"]),
            baseline_accuracy=data.get("baseline_accuracy"),
            baseline_name=data.get("baseline", ""),
            baseline_note=data.get("baseline_note", ""),
            split_seed=data.get("split_seed", 0),
            limit=data.get("limit"),
            familiarity=data.get(FAMILIARITY),
            examples=_sentences(data.get(EXAMPLES_KEY)),
        )

    def training_metadata(self) -> dict[str, Any]:
        """What a checkpoint's metadata says of its data, as the CLI writes it: the Image page
        offers that dataset's test examples (never seen in training) for this model, the text
        pages its own example sentences; and its familiarity floor (the pages' caution for
        inputs unlike its data)."""
        return {
            "dataset": self.dataset,
            "split_seed": self.split_seed,
            "limit": self.limit,
            "test_accuracy": round(self.test_accuracy, 4),
            **({FAMILIARITY: self.familiarity} if self.familiarity else {}),
            **({EXAMPLES_KEY: self.examples} if self.examples else {}),
        }

    @property
    def stopped_by_user(self) -> bool:
        return self.stopped == "stopped_by_user"

    def run_summary(self) -> str:
        """How the run ended, e.g. "stopped by you during epoch 1 of 30" or "30 epochs"."""
        last, planned = len(self.history), self.train_config.epochs
        if self.stopped_by_user:
            return tr("stopped by you during epoch {last} of {planned}", last=last, planned=planned)
        if self.stopped == "completed":
            return tr("{last} epochs", last=last)
        return tr(
            "{replace} after epoch {last} of {planned}",
            replace=self.stopped.replace("_", " "),
            last=last,
            planned=planned,
        )


@dataclass(frozen=True)
class Probe:
    """One validation example whose attention the snapshots follow."""

    tokens: list[str]  # its real tokens (word pieces or patch names)
    label: str  # its true class
    image: np.ndarray | None = None  # (H, W, C) in [0, 1] for image datasets


@dataclass(kw_only=True)
class TrainedModel(TrainedMetrics):
    """What a training job leaves: its metrics (the fields of TrainedMetrics, kept in
    metrics.json) and what is not kept on disk: the model (eval mode, CPU-ready) itself, its
    class names, the replay's snapshots and probes, and an upload's held-out pictures."""

    model: Classifier
    classes: tuple[str, ...]
    snapshots: list[Snapshot] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    # Uploaded pictures: a sample of the held-out test split (an upload cannot be read again)
    held_out: list[Example] = field(default_factory=list)

    @classmethod
    def from_metrics(cls, model: Classifier, metrics: TrainedMetrics) -> TrainedModel:
        """A finished run rebuilt from its metrics (a saved run: no snapshots, no probes)."""
        numbers = {f.name: getattr(metrics, f.name) for f in fields(TrainedMetrics)}
        return cls(**numbers, model=model, classes=model.config.classes)
