"""executor: work in spawned worker processes (and one Ray task), its messages and outcome."""

import logging
import os
import signal
import sys
import time
import types
from dataclasses import dataclass

import pytest
import torch

from dense_attention.core.config import ConfigError, TrainConfig
from dense_attention.core.errors import UNEXPECTED_MESSAGE
from dense_attention.data.dataset import DataError
from dense_attention.server import executor, jobs, messages, work
from dense_attention.server.messages import Amended, Done, DonePublished, Failed, Published


def collect(run: executor.Run, timeout: float = 120) -> list[messages.Message]:
    """Every message of `run` up to and with its outcome."""
    sent: list[messages.Message] = []
    deadline = time.monotonic() + timeout
    while not sent or not messages.is_outcome(sent[-1]):
        assert time.monotonic() < deadline, sent[-5:]
        sent += run.poll(0.1)
    return sent


def result_of(run: executor.Run) -> object:
    """The result of a run that must end Done."""
    outcome = collect(run)[-1]
    assert isinstance(outcome, Done), outcome
    return outcome.result


def describe_worker(request: str, job: executor.Reporter) -> dict:
    job.update(0.5, request)
    job.send(messages.Step(1, 0.25))
    job.send(messages.StepsPerEpoch(3))
    main_file = getattr(sys.modules["__main__"], "__file__", None)
    return {
        "wave_imported": "wave" in sys.modules,  # a module only warm_up imports (the warm test)
        "pid": os.getpid(),
        "threads": torch.get_num_threads(),
        "nice": os.nice(0),
        "main_file": main_file,
    }


class Result:
    accuracy = 0.5
    note = ""


@dataclass(frozen=True)
class Note:
    """A patch (messages.Patch) for a published Result."""

    text: str

    def apply(self, result: Result) -> None:
        result.note = self.text


def publish_result(request: None, job: executor.Reporter) -> Result:
    result = Result()
    job.publish(result)
    job.amend(Note("measured"))
    assert result.note == "measured"  # amended here too
    return result


def raise_error(request: Exception, job: executor.Reporter) -> None:
    raise request


def run_until_stopped(request: None, job: executor.Reporter) -> str:
    job.update(phase="looping")
    while not job.should_stop():
        time.sleep(0.01)
    return "stopped"


@pytest.fixture(scope="module")
def pool():
    processes = executor.LocalProcesses(keep=1)
    yield processes
    processes.close()


def test_work_runs_in_a_spawned_process_with_one_torch_thread_and_reports_in_order(pool):
    sent = collect(pool.submit(describe_worker, "hello"))
    assert sent[:3] == [messages.Progress(0.5, "hello"), messages.Step(1, 0.25),
                        messages.StepsPerEpoch(3)]  # fmt: skip
    assert isinstance(sent[-1], Done)
    found = sent[-1].result
    assert found["pid"] != os.getpid() and found["threads"] == 1
    assert found["nice"] == min(os.nice(0) + executor.WORKER_NICENESS, 19)  # pages before training
    assert found["main_file"] is None  # spawn ran no __main__ script in the worker
    again = result_of(pool.submit(describe_worker, "again"))
    assert again["pid"] == found["pid"]  # the worker is reused


def test_a_warmed_worker_takes_the_first_job_with_its_imports_done():
    pool = executor.LocalProcesses(keep=1)
    try:
        pool.warm(("wave",))
        warming = pool._warming
        pool.warm(("wave",))  # once: a second call starts no second worker
        assert pool._warming is warming
        # Submitted at once: it waits for the warming worker rather than spawning its own (only
        # warm_up imports `wave`, so a fresh worker would not have it).
        first = result_of(pool.submit(describe_worker, "first"))
        assert first["wave_imported"] and first["nice"] == min(
            os.nice(0) + executor.WORKER_NICENESS, 19
        )
    finally:
        pool.close()


def test_no_warm_worker_when_switched_off(monkeypatch):
    pool = executor.LocalProcesses(keep=1)
    monkeypatch.setattr(executor, "_DEFAULT", [pool])
    monkeypatch.setenv(executor.WARM_ENV, "0")
    executor.warm(("wave",))
    assert pool._warming is None and not pool._idle


def test_without_a_ray_address_jobs_run_in_local_processes(monkeypatch):
    monkeypatch.delenv(executor.RAY_ADDRESS_ENV, raising=False)
    assert isinstance(executor.from_environment(), executor.LocalProcesses)


def test_a_worker_never_runs_the_servers_main_script(tmp_path, monkeypatch):
    """Streamlit installs app.py as __main__: spawn would run it again in each worker."""
    marker, script = tmp_path / "ran", tmp_path / "app.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", fake_main)
    fresh = executor.LocalProcesses()
    try:
        assert isinstance(collect(fresh.submit(describe_worker, "x"))[-1], Done)
    finally:
        fresh.close()
    assert not marker.exists()


def test_library_errors_become_their_message_and_a_bug_the_generic_one(pool):
    failed = collect(pool.submit(raise_error, DataError("bad data: label 'x' has 1 example")))[-1]
    assert failed == Failed("bad data: label 'x' has 1 example")
    for bug in (ValueError("secret internals"), KeyError("k")):
        assert collect(pool.submit(raise_error, bug))[-1] == Failed(UNEXPECTED_MESSAGE)


def test_a_bug_in_a_work_is_logged_with_its_traceback(caplog):
    reporter = executor.Reporter(lambda message: None, lambda: False)
    with caplog.at_level(logging.ERROR, logger=executor.__name__):
        outcome = executor.run_work(raise_error, ValueError("secret internals"), reporter)
    assert outcome == Failed(UNEXPECTED_MESSAGE) and "secret" not in outcome.message
    [record] = caplog.records
    assert record.exc_info and record.exc_info[0] is ValueError
    with caplog.at_level(logging.ERROR, logger=executor.__name__):
        outcome = executor.run_work(raise_error, ConfigError("epochs must be positive"), reporter)
    assert outcome == Failed("epochs must be positive") and len(caplog.records) == 1


def test_a_job_the_worker_cannot_import_fails_as_a_bug(pool, monkeypatch):
    phantom = types.ModuleType("phantom_module")  # exists here only, not in the worker

    def phantom_work(request: None, job: executor.Reporter) -> None:
        return None

    phantom_work.__module__, phantom_work.__qualname__ = "phantom_module", "phantom_work"
    phantom.phantom_work = phantom_work
    monkeypatch.setitem(sys.modules, "phantom_module", phantom)
    assert collect(pool.submit(phantom_work, None))[-1] == Failed(UNEXPECTED_MESSAGE)
    assert isinstance(collect(pool.submit(describe_worker, "x"))[-1], Done)  # it lives on


def test_a_published_result_is_amended_not_sent_twice(pool):
    sent = collect(pool.submit(publish_result, None))
    assert [type(m) for m in sent] == [Published, Amended, DonePublished]
    assert sent[1] == Amended(Note("measured"))
    job = jobs.Job(jobs.JobKind.TRAIN, "t", publish_result)
    for message in sent[:2]:
        jobs.apply(job, message)
    assert isinstance(job.result, Result) and job.result.note == "measured"
    assert isinstance(collect(pool.submit(describe_worker, "x"))[-1], Done)  # not published


def test_stop_reaches_the_worker(pool):
    run = pool.submit(run_until_stopped, None)
    assert run.poll(60) == [messages.Progress(None, "looping")]
    run.stop()
    assert collect(run)[-1] == Done("stopped")


def test_a_killed_worker_gives_the_message_and_a_fresh_worker_follows(pool):
    run = pool.submit(run_until_stopped, None)
    assert run.poll(60)  # it runs
    os.kill(run.pid, signal.SIGKILL)
    assert collect(run, timeout=30)[-1] == Failed(executor.WORKER_STOPPED)
    after = result_of(pool.submit(describe_worker, "after"))
    assert after["pid"] != run.pid


def test_an_idle_worker_that_died_is_replaced_without_failing_the_next_job(pool):
    first = result_of(pool.submit(describe_worker, "first"))["pid"]
    os.kill(first, signal.SIGKILL)
    time.sleep(0.5)
    assert result_of(pool.submit(describe_worker, "next"))["pid"] != first


def test_a_training_job_through_ray_gives_the_local_result(monkeypatch):
    """One Ray test (a local Ray start takes about 10 s): the same seeded job through a Ray
    task and through a local worker gives identical weights and test accuracy; Stop reaches
    a Ray task through its actor."""
    import ray

    request = work.TrainRequest(
        work.DataChoice("digits", limit=300), {"hidden_dim": 16},
        TrainConfig(epochs=2, batch_size=32, lr=1e-2, seed=3),
    )  # fmt: skip
    local = jobs.train_job(request)
    local.join(180)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": root}})
    try:
        remote = jobs.train_job(request, runner=executor.RayTasks())
        remote.join(300)
        assert remote.state == jobs.DONE, (remote.state, remote.error)
        assert remote.worker_pid is None and len(remote.steps) == 2 * 7
        assert [r.epoch for r in remote.history] == [1, 2]
        assert remote.result.test_accuracy == local.result.test_accuracy
        assert remote.result.baseline_accuracy == local.result.baseline_accuracy
        ours, theirs = remote.result.model.state_dict(), local.result.model.state_dict()
        assert all(torch.equal(v, theirs[k]) for k, v in ours.items())
        long = work.TrainRequest(request.data, request.model_options,
                                 TrainConfig(epochs=500, batch_size=8), baseline=False)  # fmt: skip
        stopped = jobs.train_job(long, runner=executor.RayTasks())
        deadline = time.monotonic() + 120
        while not stopped.history and not stopped.finished and time.monotonic() < deadline:
            time.sleep(0.05)
        stopped.stop()
        stopped.join(120)
        assert stopped.state == jobs.STOPPED and stopped.result.stopped == "stopped_by_user"
        assert 1 <= len(stopped.result.history) < 500
        monkeypatch.setenv(executor.RAY_ADDRESS_ENV, "auto")  # joins the Ray started above
        assert isinstance(executor.from_environment(), executor.RayTasks)
    finally:
        ray.shutdown()
