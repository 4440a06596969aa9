"""job_panels: a job's bar (never 100% when stopped) and a stopped run's words."""

from types import SimpleNamespace

from dense_attention.core.config import TrainConfig
from dense_attention.server import jobs
from dense_attention.ui import job_panels


def _job(state: str, progress: float, steps: int, per_epoch: int = 10, epochs: int = 40):
    request = SimpleNamespace(train_config=TrainConfig(epochs=epochs))
    return SimpleNamespace(state=state, progress=progress, kind="train", request=request,
                           steps=[(k, 0.1) for k in range(1, steps + 1)],
                           steps_per_epoch=per_epoch)  # fmt: skip


def test_a_stopped_run_shows_the_share_of_its_steps_not_100_percent():
    # Stopped in epoch 14 of 40 (135 of 400 steps); the worker reported 1.0 while testing.
    assert job_panels.shown_progress(_job(jobs.STOPPED, 1.0, 135)) == 135 / 400
    assert job_panels.shown_progress(_job(jobs.STOPPED, 1.0, 400)) < 1.0
    assert job_panels.shown_progress(_job(jobs.DONE, 1.0, 400)) == 1.0
    assert job_panels.shown_progress(_job(jobs.RUNNING, 0.3, 120)) == 0.3


def _stopped(baseline: float | None, note: str, best: int = 3):
    return SimpleNamespace(
        run_summary=lambda: "stopped by you during epoch 4 of 40", test_accuracy=0.854,
        best_epoch=best, baseline_accuracy=baseline, baseline_name="TF-IDF", baseline_note=note,
    )  # fmt: skip


def test_a_stopped_run_says_its_test_accuracy_is_measured_and_gives_it():
    note = job_panels.stopped_note(_stopped(None, "not measured: the run was stopped"))
    assert "test accuracy, 85.4%, is measured on the test split with epoch 3's weights" in note
    assert "the baseline (TF-IDF): not measured: the run was stopped" in note
    assert "test accuracy is not" not in note and "accuracy is … not" not in note
    measured = job_panels.stopped_note(_stopped(0.9, "", best=0))
    assert "the baseline (TF-IDF) is 90.0%" in measured and "with its weights" in measured
