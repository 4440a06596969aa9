"""work: the requests and the work functions a worker runs (training, sweeps, tuning), followed
through jobs in worker processes and run in-process with a recording reporter."""

import json
import os
import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch
from jobwait import finish, wait_for_history

from dense_attention.core.config import TrainConfig
from dense_attention.core.seeding import init_parameters
from dense_attention.data.baselines import baseline_accuracy
from dense_attention.data.builtin import load_dataset
from dense_attention.data.dataset import Split, limit_indices
from dense_attention.data.uploads import parse_upload
from dense_attention.explain import seed_variance
from dense_attention.inputs.classifier import build_classifier
from dense_attention.server import executor, jobs, messages, metrics, work
from dense_attention.training.train import evaluate, train

DIGITS = work.DataChoice("digits", limit=300)
OPTIONS = {"hidden_dim": 16}
QUICK = TrainConfig(epochs=3, batch_size=32, lr=1e-2)


@pytest.fixture(scope="module")
def trained() -> jobs.Job:
    return finish(jobs.train_job(work.TrainRequest(DIGITS, OPTIONS, QUICK)))


def test_a_training_job_leaves_a_model_its_curves_and_the_baseline(trained):
    assert trained.state == jobs.DONE and trained.error is None and trained.progress == 1.0
    result = trained.result
    assert isinstance(result, metrics.TrainedModel) and not result.model.training
    assert [r.epoch for r in result.history] == [1, 2, 3] == [r.epoch for r in trained.history]
    ds = load_dataset("digits", limit=300)
    # The reported test accuracy is the model's, measured again here; the baseline is data's.
    assert evaluate(result.model, result.model.tensors(ds.test))[1] == pytest.approx(
        result.test_accuracy
    )
    assert result.baseline_accuracy == pytest.approx(baseline_accuracy(ds))
    assert json.loads(json.dumps(result.to_json()))["test_accuracy"] == round(
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
    assert 3 <= len(snaps) <= work.REPLAY_FRAMES + 2
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
    every = work.replay_every(1258, config)
    frames = 40 * 40 // every  # 40 steps an epoch
    assert work.REPLAY_FRAMES <= frames < 2 * work.REPLAY_FRAMES
    assert work.replay_every(10, TrainConfig(epochs=1)) == 1


def assert_same_as_a_direct_train(job: jobs.Job, ds, options: dict, config: TrainConfig) -> None:
    """The worker's model gives the logits of `train()` called here with the same seed."""
    assert job.worker_pid is not None and job.worker_pid != os.getpid()
    model = init_parameters(build_classifier(ds, **options), config.seed)
    train_split, val_split, test_split = (model.tensors(s) for s in (ds.train, ds.val, ds.test))
    config = replace(config, snapshot_every=work.replay_every(len(train_split), config))
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
    request = work.TrainRequest(work.DataChoice(ds.name, uploaded=ds), OPTIONS, QUICK)
    job = finish(jobs.train_job(request))
    assert job.state == jobs.DONE and job.result.dataset == "topics"
    assert job.result.model.config.kind == "text" and job.result.baseline_accuracy is not None
    assert job.probes[0].tokens == job.result.probes[0].tokens  # word pieces of the tokenizer
    assert_same_as_a_direct_train(job, ds, OPTIONS, QUICK)
    explained = job.result.model.explain("rain and cloud")
    assert {"rain", "cloud"} <= set(explained.tokens) and explained.classes == ds.classes


def test_stop_keeps_the_best_model_so_far():
    """Stop crosses the process boundary; the worker's model comes back with its best epoch."""
    job = jobs.train_job(
        work.TrainRequest(DIGITS, OPTIONS, TrainConfig(epochs=500, batch_size=8), baseline=False)
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


def test_a_seeded_job_ends_the_same_beside_its_twin_as_alone():
    """With dropout on, two identical seeded jobs at once (two worker processes) end
    bit-identical to the same job alone (weights, history, test accuracy)."""
    options = {**OPTIONS, "dropout_h": 0.2, "dropout_attn": 0.2}
    config = replace(QUICK, epochs=4, lr=3e-2, seed=5)
    request = work.TrainRequest(DIGITS, options, config, baseline=False)
    alone = finish(jobs.train_job(request)).result
    twins = [jobs.train_job(request) for _ in range(2)]
    curve = lambda run: [(r.train_loss, r.val_loss, r.val_accuracy) for r in run.history]  # noqa: E731
    for twin in map(finish, twins):
        assert twin.result.test_accuracy == alone.test_accuracy
        assert curve(twin.result) == curve(alone)
        state = twin.result.model.state_dict()
        assert all(torch.equal(v, state[k]) for k, v in alone.model.state_dict().items())


def test_a_sweep_job_reports_each_run():
    request = work.SweepRequest(DIGITS, OPTIONS, QUICK, ("dot", "cosine"))
    job = finish(jobs.sweep_job(request))
    assert job.state == jobs.DONE and list(job.result.table()["similarity"]) == ["dot", "cosine"]
    assert job.request is request and job.progress == 1.0


def test_a_tune_job_lists_its_trials():
    request = work.TuneRequest(DIGITS, {}, TrainConfig(epochs=1, batch_size=32, probes=0), 3)
    job = finish(jobs.tune_job(request))
    assert job.state == jobs.DONE and len(job.trials) == 3 == len(job.result.trials)
    assert [t.number for t in job.trials] == [0, 1, 2]


def _digits_recipe() -> seed_variance.Recipe:
    ds = DIGITS.load()
    config = build_classifier(ds, **OPTIONS).config
    return seed_variance.Recipe(config, replace(QUICK, epochs=1), dataset="digits", limit=300)


def test_a_seeds_job_trains_in_a_worker_the_models_a_direct_call_gives():
    request = work.SeedsRequest(_digits_recipe(), (1, 2), "digits (test)", limit=20)
    job = finish(jobs.seeds_job(request))
    assert job.state == jobs.DONE and job.progress == 1.0
    assert job.title == "2 seeds of digits (test)"
    result = job.result
    assert isinstance(result, seed_variance.SeedVariance) and result.seeds == (1, 2)
    assert len(result.spreads) == 20 and len(result.models) == 2
    direct = seed_variance.train_seeds(request.recipe, DIGITS.load(), request.seeds)
    for ours, theirs in zip(result.models, direct, strict=True):
        for key, weight in theirs.state_dict().items():
            assert torch.equal(ours.state_dict()[key], weight), key


def test_a_seeds_job_for_data_that_is_not_kept_fails_with_why():
    recipe = replace(_digits_recipe(), dataset="my-upload")
    job = finish(jobs.seeds_job(work.SeedsRequest(recipe, (1, 2), "mine")))
    assert job.state == jobs.FAILED and "not a built-in dataset" in job.error


def test_the_baseline_of_a_sliced_run_sees_the_same_slice():
    config = TrainConfig(epochs=1, batch_size=32, max_train_examples=60)
    job = finish(jobs.train_job(work.TrainRequest(DIGITS, OPTIONS, config)))
    ds = load_dataset("digits", limit=300)
    keep = limit_indices(ds.train.labels, 60, config.seed)
    sliced = replace(ds, train=Split(ds.train.items[keep], ds.train.labels[keep]))
    assert job.result.baseline_accuracy == pytest.approx(baseline_accuracy(sliced))


def test_train_work_sends_typed_reports_in_order_then_amends_its_baseline():
    """In-process, with a recording reporter: each report is its own dataclass, in the order the
    page needs them, and each survives pickling (the bytes a worker sends)."""
    sent: list = []
    request = work.TrainRequest(
        work.DataChoice("digits", limit=120), OPTIONS, TrainConfig(epochs=2, batch_size=32)
    )
    outcome = executor.run_work(
        work.train_work, request, executor.Reporter(sent.append, lambda: False)
    )
    assert outcome == messages.DonePublished()  # the result went out once, published
    ds = load_dataset("digits", limit=120)
    kinds = [type(m) for m in sent]
    assert kinds.index(messages.StepsPerEpoch) < kinds.index(messages.ProbesChosen)
    assert kinds.index(messages.ProbesChosen) < kinds.index(messages.Step)
    (published,) = [m.result for m in sent if isinstance(m, messages.Published)]
    assert isinstance(published, metrics.TrainedModel) and kinds[-1] is messages.Amended
    per_epoch = -(-len(ds.train) // 32)
    steps = [m.step for m in sent if isinstance(m, messages.Step)]
    assert steps == list(range(1, 2 * per_epoch + 1))
    assert sent[kinds.index(messages.StepsPerEpoch)] == messages.StepsPerEpoch(per_epoch)
    assert [m.record for m in sent if isinstance(m, messages.EpochEnded)] == published.history
    snaps = [m.snapshot for m in sent if isinstance(m, messages.SnapshotTaken)]
    # every snapshot but step 0's, taken before training (no step reports it)
    assert [0] + [s.step for s in snaps] == [s.step for s in published.snapshots]
    assert list(sent[kinds.index(messages.ProbesChosen)].probes) == published.probes
    assert sent[-1].patch == work.Baseline(accuracy=pytest.approx(baseline_accuracy(ds)))
    assert published.baseline_accuracy == pytest.approx(baseline_accuracy(ds))
    for message in sent:
        again = pickle.loads(executor.dumps(message))
        assert type(again) is type(message)
    assert pickle.loads(executor.dumps(sent[0])) == sent[0]


def test_a_trained_model_carries_its_familiarity_floor_from_the_validation_split(trained):
    result = trained.result
    ds = load_dataset("digits", limit=300)
    with torch.no_grad():
        val = result.model(*result.model.tensors(ds.val).inputs).softmax(-1).amax(-1).numpy()
        test = result.model(*result.model.tensors(ds.test).inputs).softmax(-1).amax(-1).numpy()
    floor = float(np.percentile(val, 5))
    found = result.familiarity
    assert found["floor"] == pytest.approx(floor, abs=1e-4) and found["examples"] == len(ds.val)
    assert found["test_share"] == pytest.approx(float(np.mean(test < found["floor"])), abs=1e-4)
    assert result.to_json()["familiarity"] == found == result.training_metadata()["familiarity"]


def test_dataset_view_work_runs_a_zipped_model_over_the_test_split_and_reports_progress():
    """In-process with a recording reporter: the model crosses as checkpoint ZIP bytes, and
    the rows are those the library gives in this process."""
    from dense_attention.explain import dataset_view
    from dense_attention.storage import checkpoint

    ds = load_dataset("digits", limit=300)
    model = build_classifier(ds, **OPTIONS).eval()
    request = work.DatasetViewRequest(checkpoint.to_zip(model), work.DataChoice("digits", 300),
                                      limit=40, seed=3, key="k")  # fmt: skip
    sent: list = []
    outcome = executor.run_work(
        work.dataset_view_work, request, executor.Reporter(sent.append, lambda: False)
    )
    view = outcome.result
    direct = dataset_view.run(model, ds.test, limit=40, seed=3)
    assert list(view.rows["index"]) == list(direct.rows["index"])
    assert list(view.rows["prediction"]) == list(direct.rows["prediction"])
    np.testing.assert_allclose(view.rows["confidence"], direct.rows["confidence"], atol=1e-6)
    progress = [m.progress for m in sent if isinstance(m, messages.Progress)]
    assert progress[-1] == 1.0 and progress == sorted(progress)
