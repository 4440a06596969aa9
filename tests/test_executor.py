"""executor: work in spawned worker processes (and one Ray task), its messages and outcome."""

import logging
import os
import signal
import sys
import time
import types

import pytest
import torch

from dense_attention.core.config import ConfigError, TrainConfig
from dense_attention.core.errors import UNEXPECTED_MESSAGE
from dense_attention.data.dataset import DataError
from dense_attention.server import executor, jobs


def collect(run: executor.Run, timeout: float = 120) -> list[tuple]:
    """Every message of `run` up to and with its outcome."""
    messages: list[tuple] = []
    deadline = time.monotonic() + timeout
    while not messages or messages[-1][0] not in executor.OUTCOMES:
        assert time.monotonic() < deadline, messages[-5:]
        messages += run.poll(0.1)
    return messages


def describe_worker(request: str, job: executor.Reporter) -> dict:
    job.update(0.5, request)
    job.add("steps", (1, 0.25))
    job.set("steps_per_epoch", 3)
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


def publish_result(request: None, job: executor.Reporter) -> Result:
    result = Result()
    job.publish(result)
    job.amend(note="measured")
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
    messages = collect(pool.submit(describe_worker, "hello"))
    assert messages[:3] == [("update", 0.5, "hello"), ("add", "steps", (1, 0.25)),
                            ("set", "steps_per_epoch", 3)]  # fmt: skip
    kind, found = messages[-1]
    assert kind == "done" and found["pid"] != os.getpid() and found["threads"] == 1
    assert found["nice"] == min(os.nice(0) + executor.WORKER_NICENESS, 19)  # pages before training
    assert found["main_file"] is None  # spawn ran no __main__ script in the worker
    again = collect(pool.submit(describe_worker, "again"))[-1][1]
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
        first = collect(pool.submit(describe_worker, "first"))[-1][1]
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
        assert collect(fresh.submit(describe_worker, "x"))[-1][0] == "done"
    finally:
        fresh.close()
    assert not marker.exists()


def test_library_errors_become_their_message_and_a_bug_the_generic_one(pool):
    failed = collect(pool.submit(raise_error, DataError("bad data: label 'x' has 1 example")))[-1]
    assert failed == ("failed", "bad data: label 'x' has 1 example")
    for bug in (ValueError("secret internals"), KeyError("k")):
        assert collect(pool.submit(raise_error, bug))[-1] == ("failed", UNEXPECTED_MESSAGE)


def test_a_bug_in_a_work_is_logged_with_its_traceback(caplog):
    reporter = executor.Reporter(lambda message: None, lambda: False)
    with caplog.at_level(logging.ERROR, logger=executor.__name__):
        outcome = executor.run_work(raise_error, ValueError("secret internals"), reporter)
    assert outcome == ("failed", UNEXPECTED_MESSAGE) and "secret" not in outcome[1]
    [record] = caplog.records
    assert record.exc_info and record.exc_info[0] is ValueError
    with caplog.at_level(logging.ERROR, logger=executor.__name__):
        outcome = executor.run_work(raise_error, ConfigError("epochs must be positive"), reporter)
    assert outcome == ("failed", "epochs must be positive") and len(caplog.records) == 1


def test_a_job_the_worker_cannot_import_fails_as_a_bug(pool, monkeypatch):
    phantom = types.ModuleType("phantom_module")  # exists here only, not in the worker

    def phantom_work(request: None, job: executor.Reporter) -> None:
        return None

    phantom_work.__module__, phantom_work.__qualname__ = "phantom_module", "phantom_work"
    phantom.phantom_work = phantom_work
    monkeypatch.setitem(sys.modules, "phantom_module", phantom)
    assert collect(pool.submit(phantom_work, None))[-1] == ("failed", UNEXPECTED_MESSAGE)
    assert collect(pool.submit(describe_worker, "x"))[-1][0] == "done"  # the worker lives on


def test_a_published_result_is_amended_not_sent_twice(pool):
    messages = collect(pool.submit(publish_result, None))
    assert [m[0] for m in messages] == ["set", "amend", "done_published"]
    assert messages[1] == ("amend", {"note": "measured"})
    job = jobs.Job("train", "t", publish_result)
    for message in messages[:2]:
        jobs.apply(job, message)
    assert isinstance(job.result, Result) and job.result.note == "measured"
    assert collect(pool.submit(describe_worker, "x"))[-1][0] == "done"  # not published


def test_stop_reaches_the_worker(pool):
    run = pool.submit(run_until_stopped, None)
    assert run.poll(60) == [("update", None, "looping")]
    run.stop()
    assert collect(run)[-1] == ("done", "stopped")


def test_a_killed_worker_gives_the_message_and_a_fresh_worker_follows(pool):
    run = pool.submit(run_until_stopped, None)
    assert run.poll(60)  # it runs
    os.kill(run.pid, signal.SIGKILL)
    assert collect(run, timeout=30)[-1] == ("failed", executor.WORKER_STOPPED)
    after = collect(pool.submit(describe_worker, "after"))[-1][1]
    assert after["pid"] != run.pid


def test_an_idle_worker_that_died_is_replaced_without_failing_the_next_job(pool):
    first = collect(pool.submit(describe_worker, "first"))[-1][1]["pid"]
    os.kill(first, signal.SIGKILL)
    time.sleep(0.5)
    outcome = collect(pool.submit(describe_worker, "next"))[-1]
    assert outcome[0] == "done" and outcome[1]["pid"] != first


def test_a_training_job_through_ray_gives_the_local_result(monkeypatch):
    """One Ray test (a local Ray start takes about 10 s): the same seeded job through a Ray
    task and through a local worker gives identical weights and test accuracy; Stop reaches
    a Ray task through its actor."""
    import ray

    request = jobs.TrainRequest(
        jobs.DataChoice("digits", limit=300), {"hidden_dim": 16},
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
        long = jobs.TrainRequest(request.data, request.model_options,
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
