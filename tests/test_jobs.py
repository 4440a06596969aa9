"""jobs: training, sweeps and tuning in worker processes; per-browser workspaces."""

import json
import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from dense_attention.core.config import TrainConfig
from dense_attention.core.seeding import init_parameters
from dense_attention.data.baselines import baseline_accuracy
from dense_attention.data.builtin import load_dataset
from dense_attention.data.dataset import Split, limit_indices
from dense_attention.data.uploads import parse_upload
from dense_attention.inputs.classifier import build_classifier
from dense_attention.server import executor, jobs
from dense_attention.training.train import evaluate, train

DIGITS = jobs.DataChoice("digits", limit=300)
OPTIONS = {"hidden_dim": 16}
QUICK = TrainConfig(epochs=3, batch_size=32, lr=1e-2)


def finish(job: jobs.Job, timeout: float = 120) -> jobs.Job:
    job.join(timeout)
    assert job.finished, f"{job.title} still {job.state} after {timeout} s: {job.phase}"
    return job


@pytest.fixture(scope="module")
def trained() -> jobs.Job:
    return finish(jobs.train_job(jobs.TrainRequest(DIGITS, OPTIONS, QUICK)))


def test_a_training_job_leaves_a_model_its_curves_and_the_baseline(trained):
    assert trained.state == jobs.DONE and trained.error is None and trained.progress == 1.0
    result = trained.result
    assert isinstance(result, jobs.TrainedModel) and not result.model.training
    assert [r.epoch for r in result.history] == [1, 2, 3] == [r.epoch for r in trained.history]
    ds = load_dataset("digits", limit=300)
    # The reported test accuracy is the model's, measured again here; the baseline is data's.
    assert evaluate(result.model, result.model.tensors(ds.test))[1] == pytest.approx(
        result.test_accuracy
    )
    assert result.baseline_accuracy == pytest.approx(baseline_accuracy(ds))
    assert json.loads(json.dumps(result.metrics()))["test_accuracy"] == round(
        result.test_accuracy, 4
    )
    steps = [s for s, _ in trained.steps]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) == 3 * 7  # 210 train / 32
    assert trained.steps_per_epoch == 7


def test_snapshots_follow_the_probes_from_step_0(trained):
    result = trained.result
    snaps, probes = result.snapshots, result.probes
    assert len(probes) == QUICK.probes and snaps[0].step == 0
    assert [s.step for s in snaps] == sorted({s.step for s in snaps})
    assert 3 <= len(snaps) <= jobs.REPLAY_FRAMES + 2
    ds = load_dataset("digits", limit=300)
    assert [p.label for p in probes] == [ds.classes[k] for k in ds.val.labels[: QUICK.probes]]
    assert probes[0].tokens == result.model.encoder.patch_labels()
    np.testing.assert_array_equal(probes[0].image, ds.val.items[0])
    for snap in snaps:
        n = len(probes[0].tokens)
        np.testing.assert_allclose(snap.attn[:, :n, :n].sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(snap.probs.sum(-1), 1.0, atol=1e-5)
    # Attention changes as the model learns.
    assert not np.allclose(snaps[0].attn, snaps[-1].attn)


def test_replay_every_gives_about_the_wanted_number_of_frames():
    config = TrainConfig(epochs=40, batch_size=32)
    every = jobs.replay_every(1258, config)
    frames = 40 * 40 // every  # 40 steps an epoch
    assert jobs.REPLAY_FRAMES <= frames < 2 * jobs.REPLAY_FRAMES
    assert jobs.replay_every(10, TrainConfig(epochs=1)) == 1


def assert_same_as_a_direct_train(job: jobs.Job, ds, options: dict, config: TrainConfig) -> None:
    """The worker's model gives the logits of `train()` called here with the same seed."""
    assert job.worker_pid is not None and job.worker_pid != os.getpid()
    model = init_parameters(build_classifier(ds, **options), config.seed)
    train_split, val_split, test_split = (model.tensors(s) for s in (ds.train, ds.val, ds.test))
    config = replace(config, snapshot_every=jobs.replay_every(len(train_split), config))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the worker: the sums of a matmul depend on the threads
    try:
        direct = train(model, train_split, val_split, config)
    finally:
        torch.set_num_threads(threads)
    model.cpu().eval()
    with torch.no_grad():
        assert torch.equal(job.result.model(*test_split.inputs), model(*test_split.inputs))
    assert [r.val_loss for r in job.result.history] == [r.val_loss for r in direct.history]


def test_a_job_trains_in_a_worker_process_the_model_a_direct_train_call_gives(trained):
    assert_same_as_a_direct_train(trained, load_dataset("digits", limit=300), OPTIONS, QUICK)


def test_an_uploaded_text_dataset_and_its_tokenizer_cross_the_process_boundary():
    words = {"sports": "match goal team", "weather": "rain sun cloud", "food": "bread soup cake"}
    rows = ["text,label"] + [
        f"the {w} number {k},{label}" for label, ws in words.items() for k in range(20)
        for w in ws.split()
    ]  # fmt: skip
    ds = parse_upload("\n".join(rows).encode(), "topics.csv")
    request = jobs.TrainRequest(jobs.DataChoice(ds.name, uploaded=ds), OPTIONS, QUICK)
    job = finish(jobs.train_job(request))
    assert job.state == jobs.DONE and job.result.dataset == "topics"
    assert job.result.model.config.kind == "text" and job.result.baseline_accuracy is not None
    assert job.probes[0].tokens == job.result.probes[0].tokens  # word pieces of the tokenizer
    assert_same_as_a_direct_train(job, ds, OPTIONS, QUICK)
    explained = job.result.model.explain("rain and cloud")
    assert {"rain", "cloud"} <= set(explained.tokens) and explained.classes == ds.classes


def wait_for_history(job: jobs.Job, epochs: int = 1, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(job.history) < epochs and not job.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(job.history) >= epochs, (job.state, job.phase, job.error)


def test_stop_keeps_the_best_model_so_far():
    """Stop crosses the process boundary; the worker's model comes back with its best epoch."""
    job = jobs.train_job(
        jobs.TrainRequest(DIGITS, OPTIONS, TrainConfig(epochs=500, batch_size=8), baseline=False)
    )
    wait_for_history(job, epochs=2)
    job.stop()
    finish(job)
    result = job.result
    assert job.state == jobs.STOPPED and result.stopped == "stopped_by_user"
    assert 2 <= len(result.history) < 500 and result.baseline_accuracy is None
    best = next(r for r in result.history if r.epoch == result.best_epoch)
    assert best.val_accuracy == max(r.val_accuracy for r in result.history)
    val = result.model.tensors(load_dataset("digits", limit=300).val)
    assert evaluate(result.model, val)[1] == pytest.approx(best.val_accuracy)


def test_a_killed_worker_fails_its_job_with_a_message_and_the_next_job_runs():
    job = jobs.train_job(
        jobs.TrainRequest(DIGITS, OPTIONS, TrainConfig(epochs=500, batch_size=8), baseline=False)
    )
    wait_for_history(job)
    os.kill(job.worker_pid, signal.SIGKILL)
    finish(job, timeout=30)
    assert job.state == jobs.FAILED and job.error == executor.WORKER_STOPPED
    assert "worker stopped" in job.error and job.result is None
    again = finish(jobs.train_job(jobs.TrainRequest(DIGITS, OPTIONS, QUICK, baseline=False)))
    assert again.state == jobs.DONE and again.worker_pid != job.worker_pid


def test_a_bad_request_fails_with_a_message_not_an_exception():
    job = finish(jobs.train_job(jobs.TrainRequest(jobs.DataChoice("nope"), OPTIONS, QUICK)))
    assert job.state == jobs.FAILED and "unknown dataset" in job.error and job.result is None
    bad = jobs.TrainRequest(DIGITS, {"hidden_dim": 16, "similarity": "manhattan"}, QUICK)
    job = finish(jobs.train_job(bad))
    assert job.state == jobs.FAILED and "manhattan" in job.error


def test_two_jobs_at_once_train_their_own_models():
    first = jobs.train_job(jobs.TrainRequest(DIGITS, OPTIONS, QUICK, baseline=False))
    second = jobs.train_job(
        jobs.TrainRequest(DIGITS, OPTIONS, TrainConfig(epochs=3, batch_size=32, lr=1e-2, seed=1),
                          baseline=False)
    )  # fmt: skip
    finish(first), finish(second)
    a, b = first.result.model, second.result.model
    assert a is not b and first.history is not second.history
    wa, wb = a.core.state_dict(), b.core.state_dict()
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)  # different seeds, own weights


def test_a_seeded_job_ends_the_same_beside_its_twin_as_alone():
    """With dropout on, two identical seeded jobs at once (two worker processes) end
    bit-identical to the same job alone (weights, history, test accuracy)."""
    options = {**OPTIONS, "dropout_h": 0.2, "dropout_attn": 0.2}
    config = replace(QUICK, epochs=4, lr=3e-2, seed=5)
    request = jobs.TrainRequest(DIGITS, options, config, baseline=False)
    alone = finish(jobs.train_job(request)).result
    twins = [jobs.train_job(request) for _ in range(2)]
    curve = lambda run: [(r.train_loss, r.val_loss, r.val_accuracy) for r in run.history]  # noqa: E731
    for twin in map(finish, twins):
        assert twin.result.test_accuracy == alone.test_accuracy
        assert curve(twin.result) == curve(alone)
        state = twin.result.model.state_dict()
        assert all(torch.equal(v, state[k]) for k, v in alone.model.state_dict().items())


def test_a_sweep_job_reports_each_run():
    request = jobs.SweepRequest(DIGITS, OPTIONS, QUICK, ("dot", "cosine"))
    job = finish(jobs.sweep_job(request))
    assert job.state == jobs.DONE and list(job.result.table()["similarity"]) == ["dot", "cosine"]
    assert job.request is request and job.progress == 1.0


def test_a_tune_job_lists_its_trials():
    request = jobs.TuneRequest(DIGITS, {}, TrainConfig(epochs=1, batch_size=32, probes=0), 3)
    job = finish(jobs.tune_job(request))
    assert job.state == jobs.DONE and len(job.trials) == 3 == len(job.result.trials)
    assert [t.number for t in job.trials] == [0, 1, 2]


def test_workspaces_are_per_token_and_forget_old_ones():
    spaces = jobs.Workspaces(ttl=60, limit=2)
    a, b = spaces.get("a"), spaces.get("b")
    assert a is spaces.get("a") and a is not b and a.models is not b.models
    a.models["m"] = object()
    assert "m" not in b.models
    spaces.get("c")  # over the limit: the least recently used ("b") goes
    assert len(spaces) == 2 and spaces.get("a") is a and spaces.get("b") is not b
    old = spaces.get("old")
    old.touched -= 61
    spaces.get("a")
    assert spaces.get("old") is not old


def test_a_waiting_job_can_be_stopped():
    long = TrainConfig(epochs=500, batch_size=8)
    busy = [
        jobs.train_job(jobs.TrainRequest(DIGITS, OPTIONS, long, baseline=False))
        for _ in range(jobs.MAX_RUNNING)
    ]
    deadline = time.monotonic() + 60
    while any(j.state != jobs.RUNNING for j in busy) and time.monotonic() < deadline:
        time.sleep(0.05)
    waiting = jobs.train_job(jobs.TrainRequest(DIGITS, OPTIONS, QUICK))
    time.sleep(0.5)
    assert waiting.state == jobs.WAITING
    waiting.stop()
    waiting.join(5)
    assert waiting.state == jobs.STOPPED and waiting.result is None
    for job in busy:
        job.stop()
        finish(job)


def test_the_baseline_of_a_sliced_run_sees_the_same_slice():
    config = TrainConfig(epochs=1, batch_size=32, max_train_examples=60)
    job = finish(jobs.train_job(jobs.TrainRequest(DIGITS, OPTIONS, config)))
    ds = load_dataset("digits", limit=300)
    keep = limit_indices(ds.train.labels, 60, config.seed)
    sliced = replace(ds, train=Split(ds.train.items[keep], ds.train.labels[keep]))
    assert job.result.baseline_accuracy == pytest.approx(baseline_accuracy(sliced))


def wait_for_file(path: str, job: executor.Reporter) -> None:
    """A job that runs until `path` exists (or it is stopped)."""
    while not os.path.exists(path) and not job.should_stop():
        time.sleep(0.01)


def blocking_job(owner: object, release: str) -> jobs.Job:
    with jobs.owned_by(owner):
        return jobs.Job("train", "blocked", wait_for_file, release).start()


def wait_for_states(job_list, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(j.state == jobs.WAITING for j in job_list[:1]):
        time.sleep(0.02)
    time.sleep(0.5)  # time for any job that could start to start
    return [j.state for j in job_list]


def test_one_browser_runs_one_job_at_a_time_and_others_get_the_second_slot(tmp_path):
    release, a, b = tmp_path / "release", jobs.Workspace(), jobs.Workspace()
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


def test_worker_messages_reach_the_jobs_public_attributes():
    job = jobs.Job("train", "t", wait_for_file, "unused")
    jobs.apply(job, ("update", 2.0, "Training"))
    jobs.apply(job, ("add", "steps", (1, 0.5)))
    jobs.apply(job, ("set", "steps_per_epoch", 7))
    jobs.apply(job, ("set", "result", jobs.Probe(["a"], "x")))
    assert (job.progress, job.phase, job.steps, job.steps_per_epoch) == (
        1.0,
        "Training",
        [(1, 0.5)],
        7,
    )
    with pytest.raises(ValueError, match="unknown"):
        jobs.apply(job, ("set", "_stop", None))  # only the reported fields


def test_a_flood_of_empty_sessions_never_evicts_a_workspace_with_models():
    spaces = jobs.Workspaces(ttl=60, limit=3)
    keeper = spaces.get("keeper")
    keeper.models["m"] = torch.nn.Linear(2, 2)
    for k in range(20):  # cookie-less visits: a new token each
        spaces.get(f"visitor{k}")
    assert len(spaces) == 3 and spaces.get("keeper") is keeper


def test_models_past_the_byte_bound_evict_the_least_recently_used_idle_workspace():
    spaces = jobs.Workspaces(ttl=60, limit=100, max_model_bytes=6000)
    first, second = spaces.get("first"), spaces.get("second")
    first.models["m"] = torch.nn.Linear(999, 1)  # 1,000 floats: 4,000 bytes
    second.models["m"] = torch.nn.Linear(999, 1)
    assert first.model_bytes() == 4000
    spaces.get("second")  # 8,000 bytes > 6,000: the least recently used holder goes
    assert spaces.get("first") is not first and spaces.get("second") is second
