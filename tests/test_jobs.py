"""jobs: job records, their kinds, the messages applied to them and the fair slots they run in;
a worker that dies or a request that fails turns into a message, never an exception."""

import os
import signal
import time
import types

import numpy as np
import pytest
import torch
from jobwait import finish, wait_for_history

from dense_attention.core.config import TrainConfig
from dense_attention.server import executor, jobs, messages, metrics, work
from dense_attention.training.train import EpochRecord, Snapshot
from dense_attention.training.tune import TrialRecord

DIGITS = work.DataChoice("digits", limit=300)
OPTIONS = {"hidden_dim": 16}
QUICK = TrainConfig(epochs=3, batch_size=32, lr=1e-2)


def test_a_killed_worker_fails_its_job_with_a_message_and_the_next_job_runs():
    job = jobs.train_job(
        work.TrainRequest(DIGITS, OPTIONS, TrainConfig(epochs=500, batch_size=8), baseline=False)
    )
    wait_for_history(job)
    os.kill(job.worker_pid, signal.SIGKILL)
    finish(job, timeout=30)
    assert job.state == jobs.FAILED and job.error == executor.WORKER_STOPPED
    assert "worker stopped" in job.error and job.result is None
    again = finish(jobs.train_job(work.TrainRequest(DIGITS, OPTIONS, QUICK, baseline=False)))
    assert again.state == jobs.DONE and again.worker_pid != job.worker_pid


def test_a_bad_request_fails_with_a_message_not_an_exception():
    job = finish(jobs.train_job(work.TrainRequest(work.DataChoice("nope"), OPTIONS, QUICK)))
    assert job.state == jobs.FAILED and "unknown dataset" in job.error and job.result is None
    bad = work.TrainRequest(DIGITS, {"hidden_dim": 16, "similarity": "manhattan"}, QUICK)
    job = finish(jobs.train_job(bad))
    assert job.state == jobs.FAILED and "manhattan" in job.error


def test_two_jobs_at_once_train_their_own_models():
    first = jobs.train_job(work.TrainRequest(DIGITS, OPTIONS, QUICK, baseline=False))
    second = jobs.train_job(
        work.TrainRequest(DIGITS, OPTIONS, TrainConfig(epochs=3, batch_size=32, lr=1e-2, seed=1),
                          baseline=False)
    )  # fmt: skip
    finish(first), finish(second)
    a, b = first.result.model, second.result.model
    assert a is not b and first.history is not second.history
    wa, wb = a.core.state_dict(), b.core.state_dict()
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)  # different seeds, own weights


def test_a_waiting_job_can_be_stopped():
    long = TrainConfig(epochs=500, batch_size=8)
    busy = [
        jobs.train_job(work.TrainRequest(DIGITS, OPTIONS, long, baseline=False))
        for _ in range(jobs.MAX_RUNNING)
    ]
    deadline = time.monotonic() + 60
    while any(j.state != jobs.RUNNING for j in busy) and time.monotonic() < deadline:
        time.sleep(0.05)
    waiting = jobs.train_job(work.TrainRequest(DIGITS, OPTIONS, QUICK))
    time.sleep(0.5)
    assert waiting.state == jobs.WAITING
    waiting.stop()
    waiting.join(5)
    assert waiting.state == jobs.STOPPED and waiting.result is None
    for job in busy:
        job.stop()
        finish(job)


def wait_for_file(path: str, job: executor.Reporter) -> None:
    """A job that runs until `path` exists (or it is stopped)."""
    while not os.path.exists(path) and not job.should_stop():
        time.sleep(0.01)


def blocking_job(owner: object, release: str) -> jobs.Job:
    with jobs.owned_by(owner):
        return jobs.Job(jobs.JobKind.TRAIN, "blocked", wait_for_file, release).start()


def wait_for_states(job_list, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(j.state == jobs.WAITING for j in job_list[:1]):
        time.sleep(0.02)
    time.sleep(0.5)  # time for any job that could start to start
    return [j.state for j in job_list]


def test_one_browser_runs_one_job_at_a_time_and_others_get_the_second_slot(tmp_path):
    release, a, b = tmp_path / "release", object(), object()  # two browsers
    assert jobs.MAX_RUNNING == 2
    a1, a2 = blocking_job(a, str(release)), blocking_job(a, str(release))
    b1 = blocking_job(b, str(release))
    try:
        states = wait_for_states([a1, a2, b1])
        assert states == [jobs.RUNNING, jobs.WAITING, jobs.RUNNING]  # a2 queues behind b1
    finally:
        release.touch()
    for job in (a1, a2, b1):
        finish(job, timeout=60)
    assert a2.state == jobs.DONE  # it ran once a1 left


def test_every_report_kind_reaches_its_own_field_of_the_job():
    record = EpochRecord(1, 0.9, 0.5, 0.8, 0.6, 1.5)
    snapshot = Snapshot(3, 0.5, np.ones((1, 2, 2)) / 2, np.ones((1, 2)) / 2, np.ones((1, 3)) / 3)
    trial = TrialRecord(0, "COMPLETE", 0.75, {"hidden_dim": 8}, 2.0, (0.5, 0.75))
    probe = metrics.Probe(["a", "b"], "x")
    job = jobs.Job(jobs.JobKind.TRAIN, "t", wait_for_file, "unused")
    reports = [
        messages.Progress(2.0, "Training"),  # clipped to 1
        messages.Step(1, 0.5),
        messages.Step(2, 0.25),
        messages.StepsPerEpoch(7),
        messages.ProbesChosen((probe,)),
        messages.EpochEnded(record),
        messages.SnapshotTaken(snapshot),
        messages.TrialFinished(trial),
        messages.Progress(phase="Testing"),  # progress unchanged
    ]
    for report in reports:
        jobs.apply(job, report)
    assert (job.progress, job.phase, job.steps, job.steps_per_epoch) == (
        1.0, "Testing", [(1, 0.5), (2, 0.25)], 7,
    )  # fmt: skip
    assert job.probes == [probe] and job.history == [record] and job.trials == [trial]
    assert job.snapshots == [snapshot] and job.result is None
    jobs.apply(job, messages.RunStarted())  # a sweep's next run: its curve starts empty
    assert job.history == [] and job.steps == [(1, 0.5), (2, 0.25)]


def test_a_published_result_is_amended_by_its_patch_only_once_published():
    job = jobs.Job(jobs.JobKind.TRAIN, "t", wait_for_file, "unused")
    jobs.apply(job, messages.Amended(work.Baseline(0.5)))  # nothing published: nothing to amend
    assert job.result is None
    result = types.SimpleNamespace(baseline_accuracy=None, baseline_note="")
    jobs.apply(job, messages.Published(result))
    jobs.apply(job, messages.Amended(work.Baseline(note="not measured: the run was stopped")))
    assert job.result is result and result.baseline_note.startswith("not measured")
    jobs.apply(job, messages.Amended(work.Baseline(0.875)))
    assert (result.baseline_accuracy, result.baseline_note) == (0.875, "")


def test_anything_but_a_report_is_refused():
    job = jobs.Job(jobs.JobKind.TRAIN, "t", wait_for_file, "unused")
    for wrong in [("set", "_stop", None), ("update", 0.5, "x"), messages.Done(None), "steps"]:
        with pytest.raises(TypeError, match="not a job report"):
            jobs.apply(job, wrong)
    assert not job.should_stop() and job.progress == 0.0 and job.result is None


def test_job_kinds_are_the_words_index_json_stores():
    assert [kind.value for kind in jobs.JobKind] == ["train", "sweep", "tune", "dataset", "seeds"]
    assert jobs.JobKind.parse("sweep") is jobs.JobKind.SWEEP
    assert jobs.JobKind.parse("Sweep") is None and jobs.JobKind.parse(None) is None
    assert f"{jobs.JobKind.TUNE}_start" == "tune_start"  # widget keys built from a kind
    assert jobs.Job("tune", "t", wait_for_file).kind is jobs.JobKind.TUNE  # a stored word
    with pytest.raises(ValueError):
        jobs.Job("fit", "t", wait_for_file)
