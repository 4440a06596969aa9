"""Long work off the server's threads: training, a similarity sweep or a tuning search runs in
a worker process (or a Ray task, executor.py) while the page polls its progress; no UI in here.

A `Job` is owned by one browser session (the app keeps it in that session's workspace), so two
sessions training at once each have their own model, history and stop button. At most
`MAX_RUNNING` jobs compute at the same time on the server, and at most one per owner (a job
created inside `owned_by(workspace)`): later ones wait for a free slot, first come first
served among the owners without a running job, so one browser cannot hold every slot.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ..core.config import TrainConfig
from ..core.errors import UNEXPECTED_MESSAGE
from ..core.seeding import init_parameters
from ..data.baselines import BASELINE_NAMES, baseline_accuracy
from ..data.builtin import load_dataset
from ..data.dataset import Dataset, Split, limit_indices
from ..data.images import Example, dataset_examples
from ..inputs.classifier import Classifier, build_classifier
from ..training.sweep import SweepResult, sweep_similarities
from ..training.train import EpochRecord, Snapshot, StepEvent, evaluate, train
from ..training.tune import SearchSpace, TrialRecord, TuneResult, tune
from . import executor

log = logging.getLogger(__name__)

MAX_RUNNING = 2  # jobs computing at once (one torch thread each); the others wait their turn
FOLLOW_BATCH_S = 0.05  # a job's server thread reads its worker's messages at most this often
REPLAY_FRAMES = 60  # about this many attention snapshots per training run
_IDS = itertools.count(1)
# Who the jobs created now belong to (a browser's Workspace; None: nobody, each job alone).
_OWNER: contextvars.ContextVar[object | None] = contextvars.ContextVar("job_owner", default=None)


@contextmanager
def owned_by(owner: object) -> Iterator[None]:
    """Jobs created inside belong to `owner` (the app passes the browser's Workspace): an owner
    runs at most one job at a time; its others queue behind other owners' jobs."""
    token = _OWNER.set(owner)
    try:
        yield
    finally:
        _OWNER.reset(token)


class _Slots:
    """MAX_RUNNING slots shared fairly: a waiting job gets one when it is the oldest waiting job
    whose owner runs nothing (a job without an owner is its own owner)."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._waiting: list[Job] = []
        self._running: list[Job] = []

    def acquire(self, job: Job, timeout: float) -> bool:
        with self._ready:
            if job not in self._waiting:
                self._waiting.append(job)
            if not self._ready.wait_for(lambda: self._next() is job, timeout):
                return False
            self._waiting.remove(job)
            self._running.append(job)
            return True

    def _next(self) -> Job | None:
        if len(self._running) >= MAX_RUNNING:
            return None
        busy = {id(j.owner) for j in self._running if j.owner is not None}
        return next((j for j in self._waiting if j.owner is None or id(j.owner) not in busy), None)

    def leave(self, job: Job) -> None:
        """`job` waits or runs no more: its slot or its place in the queue goes to the others."""
        with self._ready:
            for queue in (self._waiting, self._running):
                if job in queue:
                    queue.remove(job)
            self._ready.notify_all()


_SLOTS = _Slots()

# Job states
WAITING, RUNNING, DONE, STOPPED, FAILED = "waiting", "running", "done", "stopped", "failed"


class Job:
    """One piece of work in a worker (executor.py), with progress the page can read at any time.

    `work(request, reporter)` is a module-level function run in a worker process (or a Ray
    task); its reports (`reporter.update(...)`, `add`/`set` of `history`, `snapshots`, `steps`,
    `trials`, `probes`, `steps_per_epoch`) come back as messages that a server thread applies
    to this object, so the page reads them here; the work polls `reporter.should_stop()`, which
    turns true after `stop()`. Its return value becomes `job.result`. An error becomes
    `job.error` (a message for the user) and the state FAILED, as does a worker that dies:
    nothing raises into the page.
    """

    def __init__(
        self,
        kind: str,
        title: str,
        work: executor.Work,
        request: Any = None,
        runner: executor.Executor | None = None,
    ) -> None:
        self.id = next(_IDS)
        self.owner = _OWNER.get()  # the browser's Workspace it was created for (owned_by)
        self.request = request  # what was asked for (TrainRequest, SweepRequest, TuneRequest)
        self.kind = kind  # train | sweep | tune
        self.title = title
        self.state = WAITING
        self.phase = "Waiting for a free slot"  # what it is doing now, in words
        self.progress = 0.0  # 0..1
        self.history: list[EpochRecord] = []  # of the run in progress (train) or the last run
        self.snapshots: list[Snapshot] = []  # probe attention over training (train jobs)
        self.steps: list[tuple[int, float]] = []  # (step, batch loss) of the current run
        self.steps_per_epoch = 0  # optimiser steps in one epoch of the current run (train jobs)
        self.trials: list[TrialRecord] = []  # finished tuning trials (tune jobs)
        self.probes: list[Probe] = []  # the examples the snapshots follow (train jobs)
        self.result: Any = None
        self.error: str | None = None
        self.seconds = 0.0
        self.worker_pid: int | None = None  # the local worker process running it, once it runs
        self._work, self._runner = work, runner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{self.id}", daemon=True)

    def start(self) -> Job:
        """Start the thread that waits for a slot and follows the worker; returns the job."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the job to end; training keeps the best weights found so far."""
        self._stop.set()

    def should_stop(self) -> bool:
        """True once stop() was called."""
        return self._stop.is_set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        return self.state in (DONE, STOPPED, FAILED)

    def update(self, progress: float | None = None, phase: str | None = None) -> None:
        """Report progress (0..1, clipped) and/or what the job is doing now, in words."""
        if progress is not None:
            self.progress = min(max(progress, 0.0), 1.0)
        if phase is not None:
            self.phase = phase

    def _run(self) -> None:
        start = time.perf_counter()
        slot = False
        while not self._stop.is_set() and not slot:  # Stop works while it waits for a slot
            slot = _SLOTS.acquire(self, timeout=0.2)
        if not slot or self._stop.is_set():
            _SLOTS.leave(self)
            self.state, self.phase = STOPPED, "Stopped before it started"
            return
        try:
            self._work_in_slot(start)
        finally:
            _SLOTS.leave(self)

    def _work_in_slot(self, start: float) -> None:
        self.state, self.phase = RUNNING, "Starting a worker"
        try:
            outcome = self._follow((self._runner or executor.default()).submit(
                self._work, self.request
            ))  # fmt: skip
        except Exception:  # noqa: BLE001 - a bug (e.g. a request that cannot be pickled)
            log.exception("job %s could not start", self.id)
            outcome = ("failed", UNEXPECTED_MESSAGE)
        if outcome[0] == "failed":
            self.state, self.error = FAILED, outcome[1]
        else:
            self.result = outcome[1] if outcome[0] == "done" else self.result
            self.state = STOPPED if self._stop.is_set() else DONE
            self.progress = 1.0 if self.state == DONE else self.progress
        self.seconds = time.perf_counter() - start
        self.phase = {DONE: "Finished", STOPPED: "Stopped", FAILED: "Failed"}[self.state]

    def _follow(self, run: executor.Run) -> tuple:
        """Apply the worker's messages until its outcome, passing Stop on; the outcome."""
        self.worker_pid = run.pid
        stopping = False
        while True:
            if self._stop.is_set() and not stopping:
                run.stop()
                stopping = True
            messages = run.poll(0.1)
            for message in messages:
                if message[0] in executor.OUTCOMES:
                    return message
                apply(self, message)
            if messages:  # let the next ones gather: fewer wake-ups of the server
                time.sleep(FOLLOW_BATCH_S)


REPORTED = {"history", "snapshots", "steps", "trials", "probes", "steps_per_epoch", "result"}


def apply(job: Job, message: tuple) -> None:
    """One progress message of a worker (executor.Reporter) applied to the server's `job`."""
    kind, *args = message
    if kind == "update":
        job.update(*args)
    elif kind in ("add", "set") and args[0] in REPORTED:
        if kind == "add":
            getattr(job, args[0]).append(args[1])
        else:
            setattr(job, args[0], args[1])
    elif kind == "amend" and job.result is not None:
        for name, value in args[0].items():
            setattr(job.result, name, value)
    else:
        raise ValueError(f"unknown job message {kind!r}")


# ---------------------------------------------------------------------------------------------
# What the app asks for


@dataclass(frozen=True)
class DataChoice:
    """A built-in dataset by name (and a limit), or an uploaded one already read."""

    name: str  # a built-in dataset, or the upload's name
    limit: int | None = None  # built-in only: at most this many examples
    uploaded: Dataset | None = None
    seed: int = 0  # the split's seed

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


@dataclass
class TrainedModel:
    """What a training job leaves: the model (eval mode, CPU-ready) and how it was made."""

    model: Classifier
    dataset: str
    classes: tuple[str, ...]
    test_accuracy: float
    test_loss: float
    history: list[EpochRecord]
    snapshots: list[Snapshot]
    probes: list[Probe]
    stopped: str  # completed | early_stopping | time_limit | stopped_by_user
    best_epoch: int
    seconds: float
    device: str
    train_config: TrainConfig
    baseline_accuracy: float | None = None  # set when measured (after the test accuracy)
    baseline_name: str = ""
    baseline_note: str = ""  # why there is no baseline, e.g. the run was stopped
    split_seed: int = 0  # the seed the data was split with (test examples are found again by it)
    limit: int | None = None  # a built-in dataset cut to this many examples
    # Uploaded pictures: a sample of the held-out test split (an upload cannot be read again)
    held_out: list[Example] = field(default_factory=list)

    def training_metadata(self) -> dict[str, Any]:
        """What a checkpoint's metadata says of its data, as the CLI writes it: the Image page
        offers that dataset's test examples (never seen in training) for this model."""
        return {
            "dataset": self.dataset,
            "split_seed": self.split_seed,
            "limit": self.limit,
            "test_accuracy": round(self.test_accuracy, 4),
        }

    @property
    def stopped_by_user(self) -> bool:
        return self.stopped == "stopped_by_user"

    def run_summary(self) -> str:
        """How the run ended, e.g. "stopped by you during epoch 1 of 30" or "30 epochs"."""
        last, planned = len(self.history), self.train_config.epochs
        if self.stopped_by_user:
            return f"stopped by you during epoch {last} of {planned}"
        if self.stopped == "completed":
            return f"{last} epochs"
        return f"{self.stopped.replace('_', ' ')} after epoch {last} of {planned}"

    def metrics(self) -> dict[str, Any]:
        """metrics.json of a downloaded checkpoint: the CLI's fields that apply here."""
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
            "trained_in": "Dense Attention Lab train page",
            "torch": torch.__version__,
        }


@dataclass(frozen=True)
class Probe:
    """One validation example whose attention the snapshots follow."""

    tokens: list[str]  # its real tokens (word pieces or patch names)
    label: str  # its true class
    image: np.ndarray | None = None  # (H, W, C) in [0, 1] for image datasets


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


HELD_OUT_EXAMPLES = 20  # test pictures of an uploaded data set kept with the trained model


def _held_out(choice: DataChoice, ds: Dataset) -> list[Example]:
    """A built-in dataset's test examples are read again by name; an upload's are kept."""
    if choice.uploaded is None or ds.kind != "image":
        return []
    return dataset_examples(ds, HELD_OUT_EXAMPLES)


def train_work(request: TrainRequest, job: executor.Reporter) -> TrainedModel:
    """Train one classifier (in a worker); train_job's work."""
    job.update(0.0, "Reading the data")
    ds = request.data.load()
    config = request.train_config
    model = init_parameters(build_classifier(ds, **request.model_options), config.seed)
    job.update(0.0, "Encoding the examples")
    splits = [model.tensors(s) for s in (ds.train, ds.val, ds.test)]
    n_train = min(len(splits[0]), config.max_train_examples or len(splits[0]))
    job.set("steps_per_epoch", math.ceil(n_train / config.batch_size))
    config = replace(config, snapshot_every=replay_every(n_train, config))
    probes = _probes(model, ds, config.probes)
    job.set("probes", probes)
    job.update(0.0, "Training")

    def on_step(event: StepEvent) -> None:
        job.add("steps", (event.step, event.loss))
        if event.record is not None:
            job.add("history", event.record)
        if event.snapshot is not None:
            job.add("snapshots", event.snapshot)
        job.update(event.progress, f"Training: epoch {event.epoch} of {config.epochs}")

    run = train(model, splits[0], splits[1], config, on_step, should_stop=job.should_stop)
    job.update(1.0, "Measuring test accuracy")
    model.cpu().eval()
    test_loss, test_acc = evaluate(model, splits[2])
    trained = TrainedModel(
        model,
        ds.name,
        ds.classes,
        test_acc,
        test_loss,
        run.history,
        run.snapshots,
        probes,
        run.stopped,
        run.best_epoch,
        run.seconds,
        run.device,
        config,
        baseline_name=baseline_name(ds.kind),
        split_seed=request.data.seed,
        limit=request.data.limit,
        held_out=_held_out(request.data, ds),
    )
    job.publish(trained)  # the model is usable while the baseline is measured
    if request.baseline:
        job.amend(**_baseline(_sliced(ds, config), trained.baseline_name, job))
    return trained


def _baseline(ds: Dataset, name: str, job: executor.Reporter) -> dict[str, Any]:
    """The baseline's accuracy on the model's training examples, or why there is none."""
    if job.should_stop():  # Stop asked for an end, not more work
        return {"baseline_note": "not measured: the run was stopped"}
    job.update(phase=f"Measuring the baseline ({name})")
    try:
        return {"baseline_accuracy": baseline_accuracy(ds)}
    except MemoryError:
        return {"baseline_note": "could not be measured: not enough memory"}
    except Exception:  # noqa: BLE001 - a bug: logged; the trained model stays, without a baseline
        log.exception("the baseline (%s) could not be measured", name)
        return {"baseline_note": "could not be measured: an error inside the app (logged)"}


def train_job(request: TrainRequest, runner: executor.Executor | None = None) -> Job:
    """A started job that trains one classifier in a worker; its result is a TrainedModel."""
    return Job("train", f"Train on {request.data.name}", train_work, request, runner).start()


@dataclass(frozen=True)
class SweepRequest:
    """Train one classifier per similarity, same seed, split and budget (sweep.py)."""

    data: DataChoice
    model_options: dict[str, Any]
    train_config: TrainConfig
    similarities: tuple[str, ...]
    probe_index: int = 0


def sweep_work(request: SweepRequest, job: executor.Reporter) -> SweepResult:
    """Train one model per similarity (in a worker); sweep_job's work."""
    job.update(0.0, "Reading the data")
    ds = request.data.load()
    runs = len(request.similarities)

    def on_progress(index: int, total: int, similarity: str, event: StepEvent) -> None:
        if event.step == 1:
            job.set("history", [])
        if event.record is not None:
            job.add("history", event.record)
        job.update(
            (index + event.progress) / total,
            f"Run {index + 1} of {runs}: {similarity}, epoch {event.epoch}",
        )

    job.update(0.0, "Encoding the examples")
    return sweep_similarities(
        ds,
        request.model_options,
        request.train_config,
        on_progress=on_progress,
        should_stop=job.should_stop,
        probe_index=request.probe_index,
        similarities=request.similarities,
    )


def sweep_job(request: SweepRequest, runner: executor.Executor | None = None) -> Job:
    """A started job that trains one model per similarity; its result is a SweepResult."""
    title = f"Similarity sweep on {request.data.name}"
    return Job("sweep", title, sweep_work, request, runner).start()


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


def tune_work(request: TuneRequest, job: executor.Reporter) -> TuneResult:
    """Search with Optuna (in a worker); tune_job's work."""
    job.update(0.0, "Reading the data")
    ds = request.data.load()
    trials, done = request.trials, [0]

    def on_trial(record: TrialRecord, finished: int, total: int | None) -> None:
        job.add("trials", record)
        done[0] += 1
        job.update(finished / trials, f"{finished} of {trials} trials finished")

    def on_step(number: int, event: StepEvent) -> None:
        job.update(
            (done[0] + event.progress) / trials,
            f"Trial {number + 1} of {trials}: epoch {event.epoch}",
        )

    job.update(0.0, "Encoding the examples")
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
    )


def tune_job(request: TuneRequest, runner: executor.Executor | None = None) -> Job:
    """A started job that searches with Optuna; its result is a TuneResult."""
    return Job("tune", f"Tune on {request.data.name}", tune_work, request, runner).start()


# ---------------------------------------------------------------------------------------------
# Workspaces: what one browser keeps across page reloads


@dataclass
class Workspace:
    """One browser's models and jobs. The app finds it by a random token kept in a cookie, so a
    reload (a new Streamlit session) finds its trained models again; no other browser has the
    token."""

    models: dict[str, Classifier] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)  # slot (train | sweep | tune) -> job
    results: dict[str, TrainedModel] = field(default_factory=dict)  # model name -> its run
    # model name -> its training metadata (dataset, split_seed, limit), trained or uploaded
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    touched: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock)  # for registering results

    def empty(self) -> bool:
        """Nothing to lose: no model, no result, no job."""
        return not (self.models or self.results or self.jobs)

    def model_bytes(self) -> int:
        """Bytes of the weights of this browser's models (parameters and buffers)."""
        tensors = [
            t
            for model in self.models.values()
            if isinstance(model, torch.nn.Module)
            for t in itertools.chain(model.parameters(), model.buffers())
        ]
        return sum(t.numel() * t.element_size() for t in tensors)


class Workspaces:
    """Token -> Workspace, forgetting the ones unused for `ttl` seconds.

    Bounds: at most `limit` workspaces, and `max_model_bytes` of models in all. A new token
    past `limit` pushes out the least recently used *empty* workspace first (so a flood of
    cookie-less sessions never costs anyone a trained model), then the least recently used
    idle one; models past `max_model_bytes` push out the least recently used idle workspaces
    holding them. A workspace with a job still running is never forgotten.
    """

    def __init__(
        self, ttl: float = 6 * 3600, limit: int = 1000, max_model_bytes: int = 2 * 2**30
    ) -> None:
        self.ttl, self.limit, self.max_model_bytes = ttl, limit, max_model_bytes
        self._spaces: dict[str, Workspace] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Workspace:
        now = time.time()
        with self._lock:
            for old in [k for k, w in self._spaces.items() if now - w.touched > self.ttl]:
                if not _busy(self._spaces[old]):
                    del self._spaces[old]
            space = self._spaces.get(token)
            if space is None:
                if len(self._spaces) >= self.limit:
                    self._forget(self._evictable(token, empty_first=True)[:1])
                space = self._spaces[token] = self.create(token)
            space.touched = now
            self._bound_bytes(token)
            return space

    def create(self, token: str) -> Workspace:
        """A new workspace for `token` (store.Workspaces reads it from disk)."""
        return Workspace()

    def _evictable(self, keep: str, empty_first: bool = False) -> list[str]:
        """Idle workspaces other than `keep`, least recently used first (empty ones first)."""
        idle = [k for k, w in self._spaces.items() if k != keep and not _busy(w)]

        def order(token: str) -> tuple[bool, float]:
            space = self._spaces[token]
            return (empty_first and not space.empty(), space.touched)

        return sorted(idle, key=order)

    def _bound_bytes(self, keep: str) -> None:
        sizes = {k: w.model_bytes() for k, w in self._spaces.items()}
        total = sum(sizes.values())
        for old in self._evictable(keep):
            if total <= self.max_model_bytes:
                return
            if sizes[old]:
                total -= sizes[old]
                del self._spaces[old]

    def _forget(self, tokens: list[str]) -> None:
        for token in tokens:
            del self._spaces[token]

    def __len__(self) -> int:
        return len(self._spaces)


def _busy(space: Workspace) -> bool:
    """A workspace with a running job is kept: its owner may be waiting for it."""
    return any(not job.finished for job in space.jobs.values())


def warm_workers() -> None:
    """Start a worker process now, with this module and the data loaders imported, so the
    first training does not wait for a spawn (executor.warm)."""
    executor.warm((__name__, "sklearn.datasets", "sklearn.linear_model"))
