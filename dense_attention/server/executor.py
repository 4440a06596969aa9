"""Where a job's work runs: a spawned worker process of this machine (the default), or a Ray
task when DAL_RAY_ADDRESS names a cluster. The work reports through a `Reporter`; its messages
(messages.py: reports, then one outcome, last) come back to the server's `Job`. No UI and no
torch maths in here.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable
from multiprocessing import connection, spawn
from typing import Any, Protocol

from ..core.errors import UNEXPECTED_MESSAGE, DenseAttentionError
from ..core.i18n import use_language
from .messages import (
    Amended,
    Done,
    DonePublished,
    Failed,
    Message,
    Outcome,
    Patch,
    Progress,
    Published,
    Report,
    is_outcome,
)

RAY_ADDRESS_ENV = "DAL_RAY_ADDRESS"  # a Ray cluster's address ("auto": the local one)
WORKER_STOPPED = "the worker stopped: its process ended before the job did"
WARM_ENV = "DAL_WARM_WORKER"  # "0": no worker is started before the first job
WARM_WAIT_S = 30  # after a warm-up starts, jobs wait for its worker at most this long
WORKER_NICENESS = 10  # added to a local worker's niceness: the server's reruns come first
Work = Callable[[Any, "Reporter"], Any]  # a module-level function: picklable by reference
log = logging.getLogger(__name__)


class Reporter:
    """What a work function gets: progress out, Stop in. Each call becomes a message to the
    server's Job (`jobs.apply` reads them); the work never sees the Job itself."""

    def __init__(self, send: Callable[[Message], None], stopped: Callable[[], bool]) -> None:
        self._send, self._stopped = send, stopped
        self.published: Any = None

    def send(self, report: Report) -> None:
        """Send one report (messages.py: a step, an epoch's record, a snapshot, a trial...)."""
        self._send(report)

    def update(self, progress: float | None = None, phase: str | None = None) -> None:
        """The job's progress (0..1) and/or what it does now, in words."""
        self._send(Progress(progress, phase))

    def publish(self, result: Any) -> None:
        """Make `result` the job's result before the work ends (usable while more is measured)."""
        self.published = result
        self._send(Published(result))

    def amend(self, patch: Patch) -> None:
        """Change the published result, here and on the server (`patch.apply` on each)."""
        patch.apply(self.published)
        self._send(Amended(patch))

    def should_stop(self) -> bool:
        """True once the user asked the job to stop (the work polls it)."""
        return self._stopped()


def in_language(code: str, work: Work, request: Any, reporter: Reporter) -> Any:
    """`work(request, reporter)` with its words (phases, notes) in language `code`: the
    session's that started the job (a worker process has no session); bind it with partial."""
    with use_language(code):
        return work(request, reporter)


def run_work(work: Work, request: Any, reporter: Reporter) -> Outcome:
    """Run `work(request, reporter)` and give its outcome message. A DenseAttentionError
    (DataError, ConfigError, EncodingError, ...) fails the job with its message; any other
    exception is a bug: logged with its traceback in the worker, and the job fails with
    UNEXPECTED_MESSAGE, never the error's own text."""
    try:
        result = work(request, reporter)
    except DenseAttentionError as err:
        return Failed(str(err))
    except Exception:  # noqa: BLE001 - a bug: logged here, a generic message for the user
        log.exception("unexpected error in a job's work %s", getattr(work, "__name__", work))
        return Failed(UNEXPECTED_MESSAGE)
    if result is not None and result is reporter.published:
        return DonePublished()
    return Done(result)


def dumps(message: Message) -> bytes:
    """A message as bytes (plain pickle: tensors travel by value, no shared memory)."""
    try:
        return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an unpicklable result fails its job, not the worker
        log.exception("a job's %s message could not be pickled", type(message).__name__)
        return pickle.dumps(Failed(UNEXPECTED_MESSAGE))


class Run(Protocol):
    """One job's work, running somewhere."""

    pid: int | None  # the worker's process id (local processes), else None

    def poll(self, timeout: float) -> list[Message]:
        """Messages that arrived, waiting up to `timeout` s for the first; an outcome is last."""

    def stop(self) -> None:
        """Ask the work to stop (its reporter's should_stop() turns true)."""


class Executor(Protocol):
    def submit(self, work: Work, request: Any) -> Run:
        """Start `work(request, reporter)` in a worker."""


# ---------------------------------------------------------------------------------------------
# Local worker processes


def serve(conn: connection.Connection, stop: Any) -> None:
    """A worker process's loop: one task at a time from `conn`, its messages back on it, until
    the server closes the connection. One torch thread: MAX_RUNNING workers share the CPUs; a
    lower priority than the server's: a page's rerun goes first, training takes what is left."""
    import torch

    torch.set_num_threads(1)
    reporter = Reporter(lambda m: conn.send_bytes(dumps(m)), stop.is_set)
    try:
        while True:
            task = conn.recv_bytes()
            reporter.published = None
            conn.send_bytes(dumps(run_task(task, reporter)))
    except (EOFError, OSError):  # the server closed the connection, or is gone
        return


def run_task(task: bytes, reporter: Reporter) -> Outcome:
    """The outcome of a pickled (work, request), or why the worker could not read it."""
    try:
        work, request = pickle.loads(task)
    except Exception:  # noqa: BLE001 - e.g. the work's module is missing in the worker
        log.exception("the worker could not read its job")
        return Failed(UNEXPECTED_MESSAGE)
    return run_work(work, request, reporter)


_spawning = threading.local()  # set while this thread starts a worker
_preparation_data = spawn.get_preparation_data


def _worker_preparation_data(name: str) -> dict[str, Any]:
    """Streamlit installs the page script as sys.modules["__main__"] (with its __file__), and
    spawn runs __main__ again in every child: a worker would run the app. Ours need no __main__."""
    data = _preparation_data(name)
    if getattr(_spawning, "worker", False):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


spawn.get_preparation_data = _worker_preparation_data


class Worker:
    """One spawned process and its connection; `stop` is the Stop flag its reporter reads."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.stop = ctx.Event()
        self.process = ctx.Process(
            target=serve, args=(child, self.stop), name="dal-worker", daemon=True
        )
        _spawning.worker = True
        try:
            self.process.start()
        finally:
            _spawning.worker = False
        # Lower its priority from here, at once: the worker's own start (importing torch) takes
        # seconds of CPU that a page's rerun should have first.
        niceness = min(os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICENESS, 19)
        os.setpriority(os.PRIO_PROCESS, self.process.pid, niceness)
        child.close()  # only the worker holds its end: its death reads as end of file here

    def close(self) -> None:
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


class LocalRun:
    """A job on a local worker; the worker goes back to the pool with the outcome."""

    def __init__(self, pool: LocalProcesses, worker: Worker, task: bytes) -> None:
        self._pool, self._worker = pool, worker
        self.pid = worker.process.pid
        worker.stop.clear()
        worker.conn.send_bytes(task)

    def poll(self, timeout: float) -> list[Message]:
        conn, process = self._worker.conn, self._worker.process
        messages: list[Message] = []
        if not connection.wait([conn, process.sentinel], timeout):
            return messages
        try:
            while conn.poll():
                messages.append(pickle.loads(conn.recv_bytes()))
                if is_outcome(messages[-1]):
                    self._pool.give_back(self._worker)
                    return messages
        except (EOFError, OSError):
            pass  # the worker's end closed: it died
        else:
            if process.is_alive():
                return messages
        self._pool.discard(self._worker)
        return [*messages, Failed(WORKER_STOPPED)]

    def stop(self) -> None:
        self._worker.stop.set()


def warm_up(modules: tuple[str, ...], reporter: Reporter) -> None:
    """A worker's first task when started ahead of any job: import what jobs will need."""
    for name in modules:
        importlib.import_module(name)


class LocalProcesses:
    """Spawned worker processes, reused from job to job (a spawn costs an interpreter start and
    the imports of torch and this library); at most `keep` idle ones are kept."""

    def __init__(self, keep: int = 2) -> None:
        self.keep = keep
        self._idle: list[Worker] = []
        self._lock = threading.Lock()
        self._warming: threading.Event | None = None  # set when the warming worker is ready
        self._warm_deadline = 0.0  # no job waits for the warming worker past this (monotonic)

    def warm(self, modules: tuple[str, ...] = ()) -> None:
        """Start a worker now, importing `modules`, so the first job does not wait for a spawn
        (2-5 s here); nothing when a worker is idle or already warming."""
        with self._lock:
            if self._idle or self._warming is not None:
                return
            self._warming = threading.Event()
            self._warm_deadline = time.monotonic() + WARM_WAIT_S
        threading.Thread(target=self._warm, args=(modules,), name="dal-warm", daemon=True).start()

    def _warm(self, modules: tuple[str, ...]) -> None:
        try:
            run = LocalRun(self, Worker(), pickle.dumps((warm_up, modules)))
            while not any(is_outcome(message) for message in run.poll(1.0)):
                pass
        finally:
            assert self._warming is not None
            self._warming.set()

    def submit(self, work: Work, request: Any) -> LocalRun:
        task = pickle.dumps((work, request), protocol=pickle.HIGHEST_PROTOCOL)
        warming = self._warming
        if warming is not None:  # the warming worker is nearer ready than a new one would be;
            # one deadline for all jobs: a warm-up that hangs delays them once, not each
            warming.wait(max(self._warm_deadline - time.monotonic(), 0.0))
        with self._lock:
            for dead in [w for w in self._idle if not w.process.is_alive()]:
                self._idle.remove(dead)
                dead.close()
            worker = self._idle.pop() if self._idle else None
        if worker is not None:
            try:
                return LocalRun(self, worker, task)
            except OSError:  # it died after the check: a fresh one takes the job
                self.discard(worker)
        return LocalRun(self, Worker(), task)

    def give_back(self, worker: Worker) -> None:
        with self._lock:
            if len(self._idle) < self.keep:
                self._idle.append(worker)
                return
        worker.close()

    def discard(self, worker: Worker) -> None:
        """A worker that died (or broke its connection) is never used again."""
        worker.conn.close()
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5)

    def close(self) -> None:
        """End the idle workers (busy ones end when their job does and the pool is gone)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()


# ---------------------------------------------------------------------------------------------
# Ray


class RayChannel:
    """A Ray actor between one task and the server: the task's messages wait here until the
    server drains them; the server's Stop waits here until the task reads it."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.stopping = False

    def put(self, batch: list[bytes]) -> None:
        self.messages.extend(batch)

    def drain(self) -> list[bytes]:
        batch, self.messages = self.messages, []
        return batch

    def stop(self) -> None:
        self.stopping = True

    def stopped(self) -> bool:
        return self.stopping


RAY_FLUSH_S = 0.25  # a Ray task sends its messages at most this often (and with its outcome)


class RayReporting:
    """A task's side of its channel: messages batched, Stop read at most every RAY_FLUSH_S."""

    def __init__(self, channel: Any) -> None:
        self.channel, self.batch, self.sent, self.stopping = channel, [], 0.0, False

    def send(self, message: Message) -> None:
        self.batch.append(dumps(message))
        if time.monotonic() - self.sent > RAY_FLUSH_S:
            self.flush()

    def flush(self) -> None:
        import ray

        if self.batch:
            ray.get(self.channel.put.remote(self.batch))
        self.batch, self.sent = [], time.monotonic()

    def stopped(self) -> bool:
        import ray

        if not self.stopping and time.monotonic() - self.sent > RAY_FLUSH_S:
            self.stopping = ray.get(self.channel.stopped.remote())
            self.flush()
        return self.stopping


def ray_task(work: Work, request: Any, channel: Any) -> None:
    """The Ray task: the work, with its messages and outcome sent to `channel`."""
    import torch

    torch.set_num_threads(1)
    reporting = RayReporting(channel)
    reporting.send(run_work(work, request, Reporter(reporting.send, reporting.stopped)))
    reporting.flush()


class RayRun:
    """A job as a Ray task; a task whose worker died turns into WORKER_STOPPED."""

    pid = None

    def __init__(self, task: Any, actor: Any, work: Work, request: Any) -> None:
        self._channel = actor.remote()
        self._done = task.remote(work, request, self._channel)

    def poll(self, timeout: float) -> list[Message]:
        import ray

        finished, _ = ray.wait([self._done], timeout=timeout)
        try:
            messages = [pickle.loads(m) for m in ray.get(self._channel.drain.remote())]
        except ray.exceptions.RayError as err:  # the channel's actor died with its node
            return [Failed(f"{WORKER_STOPPED} ({type(err).__name__})")]
        if (messages and is_outcome(messages[-1])) or not finished:
            return messages
        try:
            ray.get(self._done)
            reason = "the Ray task ended without an outcome"
        except ray.exceptions.RayError as err:  # its worker died (kill -9, a lost node)
            reason = f"{WORKER_STOPPED} ({type(err).__name__})"
        return [*messages, Failed(reason)]

    def stop(self) -> None:
        self._channel.stop.remote()


class RayTasks:
    """Jobs as Ray tasks on the cluster at `address` (joined once; None: Ray is initialised)."""

    def __init__(self, address: str | None = None) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(address=address)
        self._task = ray.remote(max_retries=0, num_cpus=1)(ray_task)
        self._actor = ray.remote(num_cpus=0)(RayChannel)

    def submit(self, work: Work, request: Any) -> RayRun:
        return RayRun(self._task, self._actor, work, request)


def from_environment() -> Executor:
    """Ray tasks when DAL_RAY_ADDRESS is set (joining that cluster), else local processes."""
    address = os.environ.get(RAY_ADDRESS_ENV)
    return RayTasks(address) if address else LocalProcesses()


_DEFAULT: list[Executor] = []
_DEFAULT_LOCK = threading.Lock()


def default() -> Executor:
    """The server's executor, made once from the environment (`from_environment`)."""
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            _DEFAULT.append(from_environment())
        return _DEFAULT[0]


def warm(modules: tuple[str, ...]) -> None:
    """Start a local worker ahead of the first job (see LocalProcesses.warm), unless the server
    runs jobs on Ray or DAL_WARM_WORKER is 0."""
    if os.environ.get(WARM_ENV, "1") == "0" or os.environ.get(RAY_ADDRESS_ENV):
        return  # switched off, or jobs run on Ray: nothing to start here (nor Ray to join)
    pool = default()
    if isinstance(pool, LocalProcesses):
        pool.warm(modules)
