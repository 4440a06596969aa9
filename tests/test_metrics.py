"""metrics: a finished run's numbers written to metrics.json and read back by name, the app's
files and the CLI's (the shipped checkpoints') alike; a TrainedModel rebuilt from them."""

import json
from dataclasses import fields
from pathlib import Path

import pytest

from dense_attention.core.config import TrainConfig
from dense_attention.data.builtin import load_dataset
from dense_attention.inputs.classifier import build_classifier
from dense_attention.server import metrics
from dense_attention.training.train import EpochRecord

SHIPPED = sorted(Path(__file__).parents[1].glob("assets/checkpoints/*/metrics.json"))
RECORDS = [EpochRecord(1, 0.9, 0.5, 0.8, 0.625, 1.5), EpochRecord(2, 0.5, 0.75, 0.6, 0.75, 3.0)]

# metrics.json exactly as the train page wrote it before TrainedMetrics (TrainedModel.metrics()):
# workspaces on disk hold files like this one.
WRITTEN_BEFORE = {
    "dataset": "digits",
    "split_seed": 3,
    "limit": 300,
    "test_accuracy": 0.9123,
    "test_loss": 0.3456,
    "baseline_accuracy": None,
    "baseline": "logistic regression on raw pixels",
    "baseline_note": "not measured: the run was stopped",
    "best_epoch": 2,
    "stopped": "stopped_by_user",
    "train_seconds": 12.3,
    "device": "cpu",
    "train_config": TrainConfig(epochs=30, batch_size=16, lr=0.02).to_dict(),
    "history": [r.__dict__ for r in RECORDS],
    "trained_in": "Dense Attention Lab train page",
    "torch": "2.13.0+cpu",
}


def numbers(run: metrics.TrainedMetrics) -> dict:
    return {f.name: getattr(run, f.name) for f in fields(metrics.TrainedMetrics)}


def test_a_file_written_before_reads_back_by_name_and_is_written_the_same():
    run = metrics.TrainedMetrics.from_json(WRITTEN_BEFORE)
    assert (run.dataset, run.split_seed, run.limit) == ("digits", 3, 300)
    assert (run.test_accuracy, run.test_loss, run.best_epoch) == (0.9123, 0.3456, 2)
    assert (run.seconds, run.device, run.stopped) == (12.3, "cpu", "stopped_by_user")
    assert run.baseline_accuracy is None and run.baseline_note.startswith("not measured")
    assert run.baseline_name == "logistic regression on raw pixels"
    assert run.history == RECORDS and run.train_config.lr == 0.02
    written = run.to_json()
    assert list(written) == list(WRITTEN_BEFORE)  # the same keys, in the same order
    assert {**written, "torch": "2.13.0+cpu"} == WRITTEN_BEFORE


def test_to_json_rounds_and_leaves_out_an_empty_note():
    run = metrics.TrainedMetrics(
        dataset="bbc-topics", test_accuracy=0.912345, test_loss=0.1, history=RECORDS,
        stopped="completed", best_epoch=2, seconds=9.87, device="cpu",
        train_config=TrainConfig(), baseline_accuracy=0.98765, baseline_name="TF-IDF",
    )  # fmt: skip
    data = json.loads(json.dumps(run.to_json()))
    assert (data["test_accuracy"], data["baseline_accuracy"], data["train_seconds"]) == (
        0.9123, 0.9877, 9.9,
    )  # fmt: skip
    assert "baseline_note" not in data and data["baseline"] == "TF-IDF"
    again = metrics.TrainedMetrics.from_json(data)
    assert again.history == RECORDS and again.train_config == TrainConfig()
    assert again.run_summary() == "2 epochs" and not again.stopped_by_user


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_every_shipped_checkpoints_metrics_json_reads(path):
    data = json.loads(path.read_text())
    run = metrics.TrainedMetrics.from_json(data)
    assert run.dataset == data["dataset"]  # the folder: the dataset, or dataset-variant
    assert path.parent.name in (run.dataset, f"{run.dataset}-heads")
    assert (run.test_accuracy, run.test_loss) == (data["test_accuracy"], data["test_loss"])
    assert run.baseline_accuracy == data["baseline_accuracy"]
    assert run.baseline_name == data["baseline"] and run.seconds == data["train_seconds"]
    assert run.train_config.epochs == data["train_config"]["epochs"]
    assert len(run.history) == len(data["history"]) >= run.best_epoch >= 1
    assert run.history[-1].val_accuracy == data["history"][-1]["val_accuracy"]
    assert run.training_metadata()["test_accuracy"] == data["test_accuracy"]


def test_shipped_checkpoints_are_all_read():
    assert {p.parent.name for p in SHIPPED} >= {"digits", "bbc-topics", "tweet-sentiment"}


def test_a_missing_or_malformed_field_is_named():
    for key in ("dataset", "history", "train_seconds", "train_config"):
        with pytest.raises(KeyError, match=key):
            metrics.TrainedMetrics.from_json({k: v for k, v in WRITTEN_BEFORE.items() if k != key})
    bad = {**WRITTEN_BEFORE, "history": [{"epoch": 1, "accuracy": 0.5}]}
    with pytest.raises(TypeError):
        metrics.TrainedMetrics.from_json(bad)


def test_a_trained_model_rebuilt_from_metrics_has_its_numbers_and_its_models_classes():
    model = build_classifier(load_dataset("digits", limit=60), hidden_dim=4)
    run = metrics.TrainedMetrics.from_json(WRITTEN_BEFORE)
    trained = metrics.TrainedModel.from_metrics(model, run)
    assert numbers(trained) == numbers(run) and trained.model is model
    assert trained.classes == model.config.classes and len(trained.classes) == 10
    assert trained.snapshots == [] and trained.probes == [] and trained.held_out == []
    assert trained.stopped_by_user
    assert trained.run_summary() == "stopped by you during epoch 2 of 30"
    assert trained.to_json() == run.to_json()
