"""What a job's worker runs: the requests the app makes (training, a similarity sweep, a tuning
search, seed variance) and the module-level work functions that carry them out in a worker
process or a Ray task (executor.py), reporting through an `executor.Reporter`; no UI in here.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from itertools import zip_longest
from typing import Any

import numpy as np
import torch

from ..core.config import TrainConfig
from ..core.i18n import tr
from ..core.seeding import init_parameters
from ..data.baselines import BASELINE_NAMES, baseline_accuracy, baseline_validation_accuracy
from ..data.builtin import load_dataset
from ..data.dataset import Dataset, Split, limit_indices
from ..data.images import Example, dataset_examples
from ..explain import dataset_view, seed_variance
from ..explain.faithfulness import TrainingMeans
from ..explain.familiarity import calibrate_tensors
from ..inputs.classifier import Classifier, build_classifier
from ..inputs.splits import TensorSplit
from ..storage import checkpoint
from ..training.sweep import SweepResult, sweep_similarities
from ..training.train import StepEvent, evaluate, train
from ..training.tune import SearchSpace, TrialRecord, TuneResult, tune
from .executor import Reporter
from .messages import (
    EpochEnded,
    ProbesChosen,
    RunStarted,
    SnapshotTaken,
    Step,
    StepsPerEpoch,
    TrialFinished,
)
from .metrics import Probe, TrainedModel

log = logging.getLogger(__name__)

REPLAY_FRAMES = 60  # about this many attention snapshots per training run
PROGRESS_EVERY_S = 0.25  # a training run's progress is sent at most this often (and each epoch)
HELD_OUT_EXAMPLES = 20  # test pictures of an uploaded data set kept with the trained model
OWN_EXAMPLES = 6  # test sentences a text model gets right, offered as its example pills


@dataclass(frozen=True)
class DataChoice:
    """A built-in dataset by name (and a limit), or an uploaded one already read."""

    name: str  # a built-in dataset, or the upload's name
    limit: int | None = None  # built-in only: at most this many examples
    uploaded: Dataset | None = None
    seed: int = 0  # the split's seed
    refit: bool = False  # one model only: fit on train + val, as `train --refit` (sweeps and
    # tuning choose on validation and ignore it)

    def load(self) -> Dataset:
        if self.uploaded is not None:
            return self.uploaded
        return load_dataset(self.name, seed=self.seed, limit=self.limit)


@dataclass(frozen=True)
class TrainRequest:
    """Train one classifier on `data` and measure it (and the baseline) on the test split."""

    data: DataChoice
    model_options: dict[str, Any]  # build_classifier's keyword arguments
    train_config: TrainConfig
    baseline: bool = True  # also measure the classic baseline on the same split


@dataclass(frozen=True)
class SweepRequest:
    """Train one classifier per similarity, same seed, split and budget (sweep.py)."""

    data: DataChoice
    model_options: dict[str, Any]
    train_config: TrainConfig
    similarities: tuple[str, ...]
    probe_index: int = 0


@dataclass(frozen=True)
class TuneRequest:
    """Search the space with Optuna (tune.py) under a trial budget and a time limit."""

    data: DataChoice
    model_options: dict[str, Any]  # fixed options outside the search space (text, image)
    train_config: TrainConfig  # per trial: epochs, batch size, patience, seed
    trials: int
    timeout: float | None = None
    search_seed: int = 0
    space: SearchSpace = field(default_factory=SearchSpace)


@dataclass(frozen=True)
class DatasetViewRequest:
    """Run a model over a sample of a test split, one row per input (explain.dataset_view)."""

    model_zip: bytes  # the model as checkpoint.to_zip writes it (our weights, never MiniLM's)
    data: DataChoice  # whose test split: a built-in dataset's (its split seed) or an upload's
    limit: int | None  # inputs in the seeded sample; None: the whole split
    seed: int = 0  # the sample's seed
    means: TrainingMeans | None = None  # what the verdict's h_o ablation puts in (None: 0)
    key: str = ""  # the page's cache key of the result


@dataclass(frozen=True)
class SeedsRequest:
    """Train a model's recipe once per seed and measure the spreads (explain.seed_variance)."""

    recipe: seed_variance.Recipe
    seeds: tuple[int, ...]
    model_name: str  # the model whose recipe it is (the page shows the result beside it only)
    epochs: int | None = None  # None: the recipe's own
    limit: int = seed_variance.SAMPLE_SIZE  # test inputs the spreads are measured on


@dataclass(frozen=True)
class Baseline:
    """The baseline's measure, amended into a published TrainedModel (a messages.Patch):
    its accuracy, or why there is none."""

    accuracy: float | None = None
    note: str = ""

    def apply(self, result: TrainedModel) -> None:
        result.baseline_accuracy, result.baseline_note = self.accuracy, self.note


# ---------------------------------------------------------------------------------------------
# Training


def baseline_name(kind: str) -> str:
    """The classic baseline a model of this kind (text | image) is compared with."""
    return BASELINE_NAMES[kind]


def replay_every(train_examples: int, config: TrainConfig) -> int:
    """snapshot_every that gives about REPLAY_FRAMES snapshots over the whole run."""
    steps = math.ceil(train_examples / config.batch_size) * config.epochs
    return max(1, steps // REPLAY_FRAMES)


def _probes(model: Classifier, ds: Dataset, count: int) -> list[Probe]:
    """The first `count` validation examples, as train() picks its probes."""
    items = ds.val.items[:count]
    labels = [ds.classes[int(k)] for k in ds.val.labels[:count]]
    if ds.kind == "text":
        tokens = model.encoder.tokenize(list(items)).tokens
        return [Probe(list(t), y) for t, y in zip(tokens, labels, strict=True)]
    patches = model.encoder.patch_labels()
    return [Probe(list(patches), y, np.asarray(im)) for im, y in zip(items, labels, strict=True)]


def _sliced(ds: Dataset, config: TrainConfig) -> Dataset:
    """`ds` with the training split cut as train() cuts it (max_train_examples, its seed)."""
    n = config.max_train_examples
    if n is None or n >= len(ds.train):
        return ds
    keep = limit_indices(ds.train.labels, n, config.seed)
    items = ds.train.items
    items = [items[k] for k in keep] if isinstance(items, list) else items[keep]
    return replace(ds, train=Split(items, ds.train.labels[keep]))


def _held_out(choice: DataChoice, ds: Dataset) -> list[Example]:
    """A built-in dataset's test examples are read again by name; an upload's are kept."""
    if choice.uploaded is None or ds.kind != "image":
        return []
    return dataset_examples(ds, HELD_OUT_EXAMPLES)


@torch.no_grad()
def own_examples(
    model: Classifier, ds: Dataset, test: TensorSplit, count: int = OWN_EXAMPLES
) -> list[str]:
    """Up to `count` test sentences `model` classifies correctly, one class after another (the
    text pages offer them, so a model trained on other data is not handed sentences it cannot
    read); [] for images."""
    if ds.kind != "text":
        return []
    hits: dict[int, list[str]] = {}
    for start in range(0, len(test), 256):
        part = test.take(slice(start, start + 256))
        right = model(*part.inputs).argmax(-1) == part.labels
        for k in right.nonzero().flatten().tolist():
            hits.setdefault(int(part.labels[k]), []).append(ds.test.items[start + k])
    rounds = zip_longest(*(hits[c] for c in sorted(hits)))
    found = [t for row in rounds for t in row if t is not None and t.strip()]
    return found[:count]


def train_work(request: TrainRequest, job: Reporter) -> TrainedModel:
    """Train one classifier (in a worker); jobs.train_job's work."""
    job.update(0.0, tr("Reading the data"))
    ds = request.data.load()
    config = request.train_config
    fit = replace(ds, train=ds.train_and_val()) if request.data.refit else ds
    model = init_parameters(build_classifier(fit, **request.model_options), config.seed)
    job.update(0.0, tr("Encoding the examples"))
    splits = [model.tensors(s) for s in (fit.train, ds.val, ds.test)]
    n_train = min(len(splits[0]), config.max_train_examples or len(splits[0]))
    job.send(StepsPerEpoch(math.ceil(n_train / config.batch_size)))
    config = replace(config, snapshot_every=replay_every(n_train, config))
    probes = _probes(model, ds, config.probes)
    job.send(ProbesChosen(tuple(probes)))
    job.update(0.0, tr("Training"))

    said = [-math.inf]  # when the progress was last sent (monotonic seconds)

    def on_step(event: StepEvent) -> None:
        job.send(Step(event.step, event.loss))
        if event.record is not None:
            job.send(EpochEnded(event.record))
        if event.snapshot is not None:
            job.send(SnapshotTaken(event.snapshot))
        now = time.monotonic()
        if event.record is not None or now - said[0] >= PROGRESS_EVERY_S:
            said[0] = now  # not every step: each message costs the worker and the server
            job.update(event.progress, tr("Training: epoch {epoch} of {epochs}",
                                          epoch=event.epoch, epochs=config.epochs))  # fmt: skip

    run = train(model, splits[0], splits[1], config, on_step, should_stop=job.should_stop)
    job.update(1.0, tr("Measuring test accuracy"))
    model.cpu().eval()
    test_loss, test_acc = evaluate(model, splits[2])
    familiar = calibrate_tensors(model, splits[1], ds.name, test=splits[2])
    trained = TrainedModel(
        dataset=ds.name,
        test_accuracy=test_acc,
        test_loss=test_loss,
        history=run.history,
        stopped=run.stopped,
        best_epoch=run.best_epoch,
        seconds=run.seconds,
        device=run.device,
        train_config=config,
        baseline_name=baseline_name(ds.kind),
        split_seed=request.data.seed,
        limit=request.data.limit,
        familiarity=familiar.to_dict() if familiar else None,
        model=model,
        classes=ds.classes,
        snapshots=run.snapshots,
        probes=probes,
        held_out=_held_out(request.data, ds),
        examples=own_examples(model, ds, splits[2]),
    )
    job.publish(trained)  # the model is usable while the baseline is measured
    if request.baseline:
        job.amend(_baseline(_sliced(ds, config), trained.baseline_name, job))
    return trained


def _baseline(ds: Dataset, name: str, job: Reporter) -> Baseline:
    """The baseline's accuracy on the model's training examples, or why there is none."""
    if job.should_stop():  # Stop asked for an end, not more work
        return Baseline(note=tr("not measured: the run was stopped"))
    job.update(phase=tr("Measuring the baseline ({name})", name=name))
    try:
        return Baseline(accuracy=baseline_accuracy(ds))
    except MemoryError:
        return Baseline(note=tr("could not be measured: not enough memory"))
    except Exception:  # noqa: BLE001 - a bug: logged; the trained model stays, without a baseline
        log.exception("the baseline (%s) could not be measured", name)
        return Baseline(note=tr("could not be measured: an error inside the app (logged)"))


# ---------------------------------------------------------------------------------------------
# Searches


def sweep_work(request: SweepRequest, job: Reporter) -> SweepResult:
    """Train one model per similarity (in a worker); jobs.sweep_job's work."""
    job.update(0.0, tr("Reading the data"))
    ds = request.data.load()
    runs = len(request.similarities)

    def on_progress(index: int, total: int, similarity: str, event: StepEvent) -> None:
        if event.step == 1:
            job.send(RunStarted())
        if event.record is not None:
            job.send(EpochEnded(event.record))
        job.update(
            (index + event.progress) / total,
            tr(
                "Run {value} of {runs}: {similarity}, epoch {epoch}",
                value=index + 1,
                runs=runs,
                similarity=similarity,
                epoch=event.epoch,
            ),
        )

    job.update(0.0, tr("Encoding the examples"))
    return sweep_similarities(
        ds,
        request.model_options,
        request.train_config,
        on_progress=on_progress,
        should_stop=job.should_stop,
        probe_index=request.probe_index,
        similarities=request.similarities,
    )


def tune_work(request: TuneRequest, job: Reporter) -> TuneResult:
    """Search with Optuna (in a worker); jobs.tune_job's work."""
    job.update(0.0, tr("Reading the data"))
    ds = request.data.load()
    trials, done = request.trials, [0]

    def on_trial(record: TrialRecord, finished: int, total: int | None) -> None:
        job.send(TrialFinished(record))
        done[0] += 1
        job.update(
            finished / trials,
            tr("{finished} of {trials} trials finished", finished=finished, trials=trials),
        )

    def on_step(number: int, event: StepEvent) -> None:
        if number < 0:  # the default settings' run, before the trials
            job.update(
                0.0,
                tr(
                    "Default settings (what the trials must beat): epoch {epoch}", epoch=event.epoch
                ),
            )
            return
        job.update(
            (done[0] + event.progress) / trials,
            tr(
                "Trial {value} of {trials}: epoch {epoch}",
                value=number + 1,
                trials=trials,
                epoch=event.epoch,
            ),
        )

    job.update(0.0, tr("Encoding the examples"))
    return tune(
        ds,
        trials,
        timeout=request.timeout,
        seed=request.search_seed,
        on_trial=on_trial,
        should_stop=job.should_stop,
        base_train_config=request.train_config,
        space=request.space,
        model_options=request.model_options,
        on_step=on_step,
        reference=baseline_validation_accuracy,
    )


# ---------------------------------------------------------------------------------------------
# The dataset view


def dataset_view_work(
    request: DatasetViewRequest, job: Reporter
) -> dataset_view.DatasetView | None:
    """The dataset view of a model over a test split (in a worker); jobs.dataset_view_job's
    work. None when stopped."""
    job.update(0.0, tr("Reading the model and the data"))
    model = checkpoint.from_zip(request.model_zip).model
    ds = request.data.load()
    labels = dataset_view.aligned_labels(ds.test.labels, ds.classes, model.classes)
    job.update(0.0, tr("Encoding the inputs"))
    return dataset_view.run(
        model, Split(ds.test.items, labels), request.limit, request.seed, request.means,
        on_progress=lambda done, total: job.update(done / total, f"{done} of {total} inputs"),
        should_stop=job.should_stop,
    )  # fmt: skip


def seeds_work(request: SeedsRequest, job: Reporter) -> seed_variance.SeedVariance:
    """Train the recipe with each seed and measure the spreads (in a worker); jobs.seeds_job's
    work."""
    job.update(0.0, tr("Reading the data"))
    ds = request.recipe.load_data()
    runs, epochs = len(request.seeds), request.epochs or request.recipe.training.epochs

    def on_step(index: int, event: StepEvent) -> None:
        job.update((index + event.progress) / runs,
                   tr(
                       "Seed {seeds} ({value} of {runs}): epoch {epoch} of {epochs}",
                       seeds=request.seeds[index],
                       value=index + 1,
                       runs=runs,
                       epoch=event.epoch,
                       epochs=epochs,
                   ))  # fmt: skip

    job.update(0.0, tr("Encoding the examples"))
    result = seed_variance.run(request.recipe, ds, request.seeds, epochs=request.epochs,
                               limit=request.limit, on_step=on_step,
                               should_stop=job.should_stop)  # fmt: skip
    job.update(1.0, tr("Measured the spreads"))
    return result
