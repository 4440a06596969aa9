"""Tests for data.baselines: the classic model's test accuracy is the one measured before."""

import pytest

from dense_attention.data.baselines import BASELINE_NAMES, baseline_accuracy
from dense_attention.data.builtin import DATASET_INFO, load_dataset


def test_baseline_accuracy():
    assert 0.94 <= baseline_accuracy(load_dataset("digits")) <= 0.98
    assert baseline_accuracy(load_dataset("bbc-topics", limit=500)) > 0.85


@pytest.mark.parametrize("name", list(DATASET_INFO))
def test_every_built_in_dataset_names_its_kinds_baseline(name):
    info = DATASET_INFO[name]
    assert info.baseline == BASELINE_NAMES[info.kind]
