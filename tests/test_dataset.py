"""Tests for data.dataset: deterministic stratified splits, limits and fresh copies."""

import numpy as np
import pytest

from dense_attention.data.builtin import load_dataset
from dense_attention.data.dataset import DataError, limit_indices, make_dataset, split_indices


def unbalanced_labels() -> np.ndarray:
    return np.repeat(np.arange(4), [500, 200, 50, 3])


def test_split_is_deterministic_disjoint_covering_and_sorted():
    labels = unbalanced_labels()
    train, val, test = split_indices(labels, seed=3)
    again = split_indices(labels, seed=3)
    other = split_indices(labels, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again, strict=True))
    assert not np.array_equal(test, other[2])
    everything = np.concatenate([train, val, test])
    assert np.array_equal(np.sort(everything), np.arange(len(labels)))  # disjoint and covering
    for part in (train, val, test):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)


def test_split_is_stratified_with_the_requested_fractions():
    labels = unbalanced_labels()
    train, val, test = split_indices(labels, seed=0, test=0.2, val=0.1)
    n = len(labels)
    assert abs(len(test) / n - 0.2) < 0.01 and abs(len(val) / n - 0.1) < 0.01
    whole = np.bincount(labels) / n
    for part in (train, val, test):
        assert set(labels[part]) == {0, 1, 2, 3}  # even the class with 3 examples
        assert np.abs(np.bincount(labels[part]) / len(part) - whole).max() < 0.02


def test_split_keeps_a_two_example_class_in_train_and_test():
    labels = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    train, val, test = split_indices(labels, seed=0)
    assert 0 in labels[train] and 0 in labels[test]


def test_split_rejects_a_class_with_one_example_and_a_single_class():
    with pytest.raises(
        DataError, match="label '7' has only 1 example; each class needs at least 2"
    ):
        split_indices(np.array([1, 1, 1, 7]), seed=0)
    with pytest.raises(DataError, match="at least 2 classes"):
        split_indices(np.array([1, 1, 1]), seed=0)
    with pytest.raises(DataError, match="fractions"):
        split_indices(np.array([0, 0, 1, 1]), seed=0, test=0.6, val=0.5)


def test_cached_loads_cannot_be_corrupted_by_callers():
    first = load_dataset("digits")
    first.train.items[:] = 7
    first.train.labels[:] = 0
    second = load_dataset("digits")
    assert second.train.items.max() == 1 and len(set(second.train.labels)) == 10


@pytest.mark.parametrize("name", ["digits", "bbc-topics"])
def test_train_and_val_is_both_splits_in_order(name):
    ds = load_dataset(name, limit=300)
    both = ds.train_and_val()
    assert len(both) == len(ds.train) + len(ds.val)
    np.testing.assert_array_equal(both.labels, np.r_[ds.train.labels, ds.val.labels])
    if ds.kind == "image":
        np.testing.assert_array_equal(both.items[: len(ds.train)], ds.train.items)
        np.testing.assert_array_equal(both.items[len(ds.train) :], ds.val.items)
    else:
        assert both.items == [*ds.train.items, *ds.val.items]


def test_limit_keeps_classes_in_proportion_and_a_smaller_limit_is_a_subset():
    labels = np.repeat(np.arange(3), [600, 300, 100])
    small, large = limit_indices(labels, 100, seed=2), limit_indices(labels, 400, seed=2)
    assert set(small) <= set(large) and len(small) == 100 and len(large) == 400
    np.testing.assert_array_equal(np.bincount(labels[small]), [60, 30, 10])
    np.testing.assert_array_equal(limit_indices(labels, None, seed=2), np.arange(1000))


def test_make_dataset_scales_uint8_pictures_and_copies_them():
    images = np.arange(40, dtype=np.uint8).reshape(10, 2, 2, 1) * 6
    labels = np.array([0, 1] * 5)
    ds = make_dataset("tiny", "image", ("a", "b"), images, labels, seed=0)
    both = np.concatenate([ds.train.items, ds.val.items, ds.test.items])
    assert both.dtype == np.float32 and both.max() == np.float32(234 / 255)
    ds.train.items[:] = 0
    assert images.max() == 234  # the caller's array is untouched
