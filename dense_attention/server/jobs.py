"""Jobs and their scheduling: a training, a similarity sweep, a tuning search or a seed-variance
run runs in a worker (work.py, run by executor.py) while a server thread per job follows its
messages into a `Job` the page polls; no UI in here.

A `Job` is owned by one browser session (the app keeps it in that session's workspace), so two
sessions training at once each have their own model, history and stop button. At most
`MAX_RUNNING` jobs compute at the same time on the server, and at most one per owner (a job
created inside `owned_by(workspace)`): later ones wait for a free slot, first come first
served among the owners without a running job, so one browser cannot hold every slot.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from ..core import i18n
from ..core.errors import UNEXPECTED_MESSAGE
from ..core.i18n import N_, tr
from ..training.train import EpochRecord, Snapshot
from ..training.tune import TrialRecord
from . import executor, work
from .messages import (
    Amended,
    Done,
    EpochEnded,
    Failed,
    Outcome,
    ProbesChosen,
    Progress,
    Published,
    Report,
    RunStarted,
    SnapshotTaken,
    Step,
    StepsPerEpoch,
    TrialFinished,
    is_outcome,
)
from .metrics import Probe

log = logging.getLogger(__name__)

MAX_RUNNING = 2  # jobs computing at once (one torch thread each); the others wait their turn
FOLLOW_BATCH_S = 0.05  # a job's server thread reads its worker's messages at most this often
_IDS = itertools.count(1)
# Who the jobs created now belong to (a browser's Workspace; None: nobody, each job alone).
_OWNER: contextvars.ContextVar[object | None] = contextvars.ContextVar("job_owner", default=None)


class JobKind(StrEnum):
    """What a job does, and the slot it takes in a browser's workspace (one job per slot).
    The values are the words a workspace's index.json stores."""

    TRAIN = "train"  # one classifier (work.train_work)
    SWEEP = "sweep"  # one classifier per similarity (work.sweep_work)
    TUNE = "tune"  # an Optuna search (work.tune_work)
    DATASET = "dataset"  # a model over a test split (work.dataset_view_work)
    SEEDS = "seeds"  # one model's recipe trained with k seeds (work.seeds_work)

    @classmethod
    def parse(cls, value: object) -> JobKind | None:
        """The kind whose value is `value` (as index.json stores it), else None."""
        return next((kind for kind in cls if kind.value == value), None)


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
    task); its reports (messages.py: progress, steps, epochs, snapshots, probes, trials, an
    early result) come back as messages that a server thread applies to this object (`apply`),
    so the page reads them here; the work polls `reporter.should_stop()`, which
    turns true after `stop()`. Its return value becomes `job.result`. An error becomes
    `job.error` (a message for the user) and the state FAILED, as does a worker that dies:
    nothing raises into the page.
    """

    def __init__(
        self,
        kind: JobKind | str,
        title: str,
        work: executor.Work,
        request: Any = None,
        runner: executor.Executor | None = None,
    ) -> None:
        self.id = next(_IDS)
        self.owner = _OWNER.get()  # the browser's Workspace it was created for (owned_by)
        self.request = request  # what was asked for (TrainRequest, SweepRequest, TuneRequest)
        self.kind = JobKind(kind)
        self.title = title
        self.state = WAITING
        self.language = i18n.language()  # the session's: the worker writes its phases in it
        self.phase = N_("Waiting for a free slot")  # what it is doing now, in words (tr it)
        self.progress = 0.0  # 0..1
        self.history: list[EpochRecord] = []  # of the run in progress (train) or the last run
        self.snapshots: list[Snapshot] = []  # probe attention over training (train jobs)
        self.steps: list[tuple[int, float]] = []  # (step, batch loss) of the current run
        self.steps_per_epoch = 0  # optimiser steps in one epoch of the current run (train jobs)
        self.trials: list[TrialRecord] = []  # finished tuning trials (tune jobs)
        self.probes: list[Probe] = []  # the examples the snapshots follow (train jobs)
        self.result: Any = None  # a TrainedModel, SweepResult or TuneResult
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
            self.state, self.phase = STOPPED, N_("Stopped before it started")
            return
        try:
            self._work_in_slot(start)
        finally:
            _SLOTS.leave(self)

    def _work_in_slot(self, start: float) -> None:
        self.state, self.phase = RUNNING, N_("Starting a worker")
        try:
            outcome = self._follow((self._runner or executor.default()).submit(
                functools.partial(executor.in_language, self.language, self._work), self.request
            ))  # fmt: skip
        except Exception:  # noqa: BLE001 - a bug (e.g. a request that cannot be pickled)
            log.exception("job %s could not start", self.id)
            outcome = Failed(UNEXPECTED_MESSAGE)
        if isinstance(outcome, Failed):
            self.state, self.error = FAILED, outcome.message
        else:
            self.result = outcome.result if isinstance(outcome, Done) else self.result
            self.state = STOPPED if self._stop.is_set() else DONE
            self.progress = 1.0 if self.state == DONE else self.progress
        self.seconds = time.perf_counter() - start
        self.phase = {DONE: "Finished", STOPPED: "Stopped", FAILED: "Failed"}[self.state]

    def _follow(self, run: executor.Run) -> Outcome:
        """Apply the worker's messages until its outcome, passing Stop on; the outcome."""
        self.worker_pid = run.pid
        stopping = False
        while True:
            if self._stop.is_set() and not stopping:
                run.stop()
                stopping = True
            messages = run.poll(0.1)
            for message in messages:
                if is_outcome(message):
                    return message
                apply(self, message)
            if messages:  # let the next ones gather: fewer wake-ups of the server
                time.sleep(FOLLOW_BATCH_S)


def apply(job: Job, report: Report) -> None:
    """One report of a worker (messages.py) applied to the server's `job`, field by field."""
    match report:
        case Progress(progress, phase):
            job.update(progress, phase)
        case Step(step, loss):
            job.steps.append((step, loss))
        case EpochEnded(record):
            job.history.append(record)
        case RunStarted():
            job.history = []
        case SnapshotTaken(snapshot):
            job.snapshots.append(snapshot)
        case ProbesChosen(probes):
            job.probes = list(probes)
        case StepsPerEpoch(steps):
            job.steps_per_epoch = steps
        case TrialFinished(record):
            job.trials.append(record)
        case Published(result):
            job.result = result
        case Amended(patch):
            if job.result is not None:
                patch.apply(job.result)
        case _:
            raise TypeError(f"not a job report: {report!r}")


# ---------------------------------------------------------------------------------------------
# Jobs the app starts, one per kind


def train_job(request: work.TrainRequest, runner: executor.Executor | None = None) -> Job:
    """A started job that trains one classifier in a worker; its result is a TrainedModel."""
    title = tr("Train on {name}", name=request.data.name)
    return Job(JobKind.TRAIN, title, work.train_work, request, runner).start()


def sweep_job(request: work.SweepRequest, runner: executor.Executor | None = None) -> Job:
    """A started job that trains one model per similarity; its result is a SweepResult."""
    title = tr("Similarity sweep on {name}", name=request.data.name)
    return Job(JobKind.SWEEP, title, work.sweep_work, request, runner).start()


def tune_job(request: work.TuneRequest, runner: executor.Executor | None = None) -> Job:
    """A started job that searches with Optuna; its result is a TuneResult."""
    title = tr("Tune on {name}", name=request.data.name)
    return Job(JobKind.TUNE, title, work.tune_work, request, runner).start()


def dataset_view_job(
    request: work.DatasetViewRequest, runner: executor.Executor | None = None
) -> Job:
    """A started job that runs a model over a test split; its result is a DatasetView."""
    title = tr("Dataset view of {name}", name=request.data.name)
    return Job(JobKind.DATASET, title, work.dataset_view_work, request, runner).start()


def seeds_job(request: work.SeedsRequest, runner: executor.Executor | None = None) -> Job:
    """A started job that trains a recipe once per seed; its result is a SeedVariance."""
    title = tr(
        "{seeds} seeds of {model_name}", seeds=len(request.seeds), model_name=request.model_name
    )
    return Job(JobKind.SEEDS, title, work.seeds_work, request, runner).start()


def warm_workers() -> None:
    """Start a worker process now, with the work and the data loaders imported, so the first
    training does not wait for a spawn (executor.warm)."""
    executor.warm((work.__name__, "sklearn.datasets", "sklearn.linear_model"))
