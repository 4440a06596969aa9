"""estimate: a training run's time, from a few timed steps of the run's own model."""

import math
from dataclasses import replace

import pytest

from dense_attention.core.config import TrainConfig
from dense_attention.data.builtin import load_dataset
from dense_attention.inputs.image_encoder import ImageConfig
from dense_attention.training.estimate import Pace, TrainingEstimate, estimate_training

OPTIONS = dict(image=ImageConfig(8, 1, 4, 32), hidden_dim=16)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", limit=300)


def test_the_estimate_adds_encoding_to_every_epoch(digits):
    config = TrainConfig(epochs=7, batch_size=32)
    found = estimate_training(digits, OPTIONS, config)
    assert found.epochs == 7
    assert math.isfinite(found.seconds) and found.epoch_seconds > 0 and found.encode_seconds >= 0
    assert found.test_seconds > 0
    assert found.seconds == pytest.approx(
        found.encode_seconds + 7 * found.epoch_seconds + found.test_seconds
    )


def test_seconds_scale_with_the_epochs_asked_for():
    one = TrainingEstimate(encode_seconds=2.0, epoch_seconds=0.5, epochs=1)
    assert one.seconds == pytest.approx(2.5)
    assert replace(one, epochs=40).seconds == pytest.approx(22.0)


def test_estimating_leaves_the_dataset_and_config_alone(digits):
    config = TrainConfig(epochs=3, batch_size=16, max_train_examples=50)
    before = (len(digits.train), len(digits.val), digits.train.labels.copy())
    estimate_training(digits, OPTIONS, config)
    assert (len(digits.train), len(digits.val)) == before[:2]
    assert (digits.train.labels == before[2]).all()
    assert config.epochs == 3 and config.max_train_examples == 50


def _steady_run(total: float = 40.0, epochs: int = 40, polls: float = 4.0, seen_at: float = 3.0):
    """What a page sees of a steady run of `total` s that began at clock 100: every `polls` s
    from clock 100 + `seen_at`, its progress and its last finished epoch's seconds."""
    per_epoch = total / epochs
    clock = 100.0 + seen_at
    while clock < 100.0 + total:
        t = clock - 100.0
        done = int(t // per_epoch)
        yield clock, t / total, (done * per_epoch if done else None), t
        clock += polls


def test_time_spent_rises_and_time_left_falls_over_a_steady_run():
    pace, seen = Pace(), []
    for clock, progress, seconds, truth in _steady_run():
        spent, left = pace.observe(clock, progress, seconds)
        seen.append((spent, left))
        assert spent <= truth + 1e-9  # never more than has passed
        if seconds is not None:  # once an epoch has ended, its record pins the start
            assert spent == pytest.approx(truth, abs=1e-6)
            assert left == pytest.approx(40.0 - truth, abs=1e-6)
    spent_seen, left_seen = zip(*seen, strict=True)
    assert all(b > a for a, b in zip(spent_seen, spent_seen[1:], strict=False))
    assert all(b < a for a, b in zip(left_seen, left_seen[1:], strict=False))


def test_a_page_that_first_sees_a_run_at_epoch_14_does_not_say_0_s_so_far():
    """The issue's "0.0 s training so far · about 0.8 s left" at epoch 14 of 40."""
    pace = Pace()
    spent, left = pace.observe(1000.0, 14.2 / 40, seconds=14 * 0.2)  # 0.2 s an epoch
    assert spent == pytest.approx(14 * 0.2)
    assert left == pytest.approx(spent * (1 - 14.2 / 40) / (14.2 / 40))
    again = pace.observe(1000.0, 14.2 / 40, seconds=14 * 0.2)  # two reads in one page run
    assert again == (spent, left)


def test_a_late_epoch_record_never_moves_the_start_later():
    pace = Pace()
    first = pace.observe(10.0, 0.5, seconds=5.0)  # began at 5
    later = pace.observe(12.0, 0.6, seconds=5.0)  # same record, seen again: still began at 5
    assert first[0] == 5.0 and later[0] == 7.0
    assert pace.observe(13.0, 0.0) is None  # no progress: nothing to say
