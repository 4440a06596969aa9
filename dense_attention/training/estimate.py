"""How long a training run will take, estimated before it starts from a few timed steps."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from ..core.config import TrainConfig
from ..core.seeding import init_parameters
from ..data.dataset import Dataset, Split
from ..inputs.classifier import build_classifier
from .train import evaluate, train

SAMPLE_STEPS = 4  # optimiser steps timed (after the first, which warms up)
ENCODE_SAMPLE = 16  # examples encoded to time the encoder (MiniLM's cost on text)


@dataclass(frozen=True)
class TrainingEstimate:
    """Seconds a run should take on this machine now: measured on a sample, scaled up."""

    encode_seconds: float  # encoding every example once before training (MiniLM on text)
    epoch_seconds: float  # one epoch: its optimiser steps and the validation pass
    epochs: int
    test_seconds: float = 0.0  # the test split's pass after training

    @property
    def seconds(self) -> float:
        """The whole run if it trains every epoch (early stopping may end it sooner), until
        its result: encoding, the epochs and the test pass (not the baseline after it)."""
        return self.encode_seconds + self.epoch_seconds * self.epochs + self.test_seconds


def _head(split: Split, n: int) -> Split:
    return Split(split.items[:n], split.labels[:n])


def _timed(work: Any) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def estimate_training(
    ds: Dataset, model_options: dict[str, Any], config: TrainConfig
) -> TrainingEstimate:
    """Time SAMPLE_STEPS optimiser steps, one validation batch and the encoding of
    ENCODE_SAMPLE examples of `ds` with the run's own model and batch size, then scale them to
    the run's split sizes and epochs. The model is built afresh and thrown away."""
    model = init_parameters(build_classifier(ds, **model_options), config.seed)
    n_train = min(len(ds.train), config.max_train_examples or len(ds.train))
    batch = min(config.batch_size, n_train)
    sample = _head(ds.train, min(n_train, batch * (SAMPLE_STEPS + 1)))
    per_example = _timed(lambda: model.tensors(_head(ds.train, ENCODE_SAMPLE))) / min(
        ENCODE_SAMPLE, len(ds.train)
    )
    train_split, val_split = model.tensors(sample), model.tensors(_head(ds.val, batch))
    warm = replace(config, epochs=1, probes=0, max_seconds=None, max_train_examples=None)
    train(model, train_split.take(slice(0, batch)), val_split, warm)  # warm-up step
    steps = math.ceil(len(train_split) / batch)
    per_step = _timed(lambda: train(model, train_split, val_split, warm)) / steps
    per_val = _timed(lambda: evaluate(model, val_split)) / max(1, len(val_split))
    n_all = len(ds.train) + len(ds.val) + len(ds.test)
    epoch = per_step * math.ceil(n_train / batch) + per_val * len(ds.val)
    return TrainingEstimate(per_example * n_all, epoch, config.epochs, per_val * len(ds.test))


@dataclass
class Pace:
    """Time spent and time left of a run in progress, from what a page sees of it, poll by poll.

    Training began no later than the first time the page saw it train, and no later than
    `clock - seconds` whenever an epoch record says `seconds` had passed since it began: the
    earliest of these is its start, so the time spent never goes back. The time left is the
    time spent scaled by the share of the run still to do.
    """

    start: float | None = None  # the clock when training began, as best known

    def observe(
        self, clock: float, progress: float, seconds: float | None = None
    ) -> tuple[float, float] | None:
        """(seconds spent, seconds left) at `clock` with `progress` in [0, 1] done and, once an
        epoch has ended, `seconds` its record's time since training began; None before any
        progress."""
        began = clock - seconds if seconds is not None else clock
        self.start = began if self.start is None else min(self.start, began)
        spent = clock - self.start
        if progress <= 0 or spent <= 0:
            return None
        return spent, spent * (1 - min(progress, 1.0)) / progress
