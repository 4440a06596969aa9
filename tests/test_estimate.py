"""estimate: a training run's time, from a few timed steps of the run's own model."""

import math
from dataclasses import replace

import pytest

from dense_attention.core.config import TrainConfig
from dense_attention.data.builtin import load_dataset
from dense_attention.inputs.image_encoder import ImageConfig
from dense_attention.training.estimate import TrainingEstimate, estimate_training

OPTIONS = dict(image=ImageConfig(8, 1, 4, 32), hidden_dim=16)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", limit=300)


def test_the_estimate_adds_encoding_to_every_epoch(digits):
    config = TrainConfig(epochs=7, batch_size=32)
    found = estimate_training(digits, OPTIONS, config)
    assert found.epochs == 7
    assert math.isfinite(found.seconds) and found.epoch_seconds > 0 and found.encode_seconds >= 0
    assert found.seconds == pytest.approx(found.encode_seconds + 7 * found.epoch_seconds)


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
