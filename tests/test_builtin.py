"""Tests for data.builtin: the built-in datasets, read through the one table."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from dense_attention.data import builtin
from dense_attention.data.builtin import (
    DATASET_INFO,
    DATASET_KINDS,
    DATASET_SIZES,
    DATASETS,
    DatasetInfo,
    load_dataset,
)
from dense_attention.data.dataset import DataError, Dataset

TWEETS_KEPT = 33_224  # 38,158 rows minus the 4,934 that are not valid UTF-8


def check_dataset(ds: Dataset, total: int, classes: int) -> None:
    summary = ds.summary()
    assert summary["total"] == total and len(ds.classes) == classes
    for part in (ds.train, ds.val, ds.test):
        assert part.labels.dtype == np.int64 and len(part.items) == len(part.labels)
        assert set(part.labels) == set(range(classes))
    assert summary["train"] > summary["test"] > summary["val"]


def test_digits():
    ds = load_dataset("digits")
    check_dataset(ds, 1797, 10)
    assert ds.kind == "image" and ds.classes == tuple("0123456789")
    assert ds.train.items.shape[1:] == (8, 8, 1) and ds.train.items.dtype == np.float32
    assert ds.train.items.min() == 0 and ds.train.items.max() == 1


def test_bbc_topics():
    ds = load_dataset("bbc-topics")
    check_dataset(ds, 2225, 5)
    assert ds.classes == ("business", "entertainment", "politics", "sports", "tech")
    assert all(isinstance(t, str) and len(t) > 100 for t in ds.test.items)
    assert any("£" in t for t in ds.train.items + ds.val.items + ds.test.items)  # Latin-1 file


def test_tweet_sentiment_drops_garbled_rows():
    ds = load_dataset("tweet-sentiment")
    check_dataset(ds, TWEETS_KEPT, 3)
    assert ds.classes == ("negative", "neutral", "positive")
    texts = ds.train.items + ds.val.items + ds.test.items
    assert not any("Õ¢" in t or "\r" in t or not t.strip() for t in texts)


def test_fashion_mnist_from_debian_or_a_clear_error():
    folder = builtin.FASHION_DIR
    if all((folder / f"{n}-idx3-ubyte.gz").is_file() for n in ("train-images", "t10k-images")):
        ds = load_dataset("fashion-mnist", limit=2000)
        check_dataset(ds, 2000, 10)
        assert ds.train.items.shape[1:] == (28, 28, 1) and ds.classes[9] == "Ankle boot"
        assert load_dataset("fashion-mnist").summary()["total"] == 70_000
    with pytest.raises(
        DataError, match="Fashion-MNIST not found at .*apt-get install dataset-fashion"
    ):
        load_dataset("fashion-mnist", path="/nonexistent/fashion")


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    raw = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += array.astype(np.uint8).tobytes()
    (path.with_suffix(".gz") if compress else path).write_bytes(
        gzip.compress(raw) if compress else raw
    )


def fake_fashion(folder: Path, per_class: int = 5) -> None:
    folder.mkdir()
    labels = np.tile(np.arange(10), per_class)
    images = np.arange(len(labels) * 784).reshape(-1, 28, 28) % 256
    for prefix, compress in (("train", True), ("t10k", False)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, compress)


def test_fashion_mnist_idx_parser_reads_plain_and_gzip_and_rejects_corrupt(tmp_path):
    fake_fashion(tmp_path / "good")
    ds = load_dataset("fashion-mnist", path=tmp_path / "good")
    check_dataset(ds, 100, 10)
    assert ds.train.items.max() <= 1 and ds.train.items.dtype == np.float32
    bad_files = {
        "magic": (b"\x08\x03\x00\x00junk", "not an IDX file .*magic"),
        "short": (bytes([0, 0, 8, 1, 0, 0, 0, 9, 1]), "corrupt: shape \\(9,\\) needs 9 bytes"),
        "gzip": (b"\x1f\x8b not really gzip", "corrupt gzip"),
    }
    for folder, (raw, words) in bad_files.items():
        fake_fashion(tmp_path / folder)
        (tmp_path / folder / "t10k-labels-idx1-ubyte").write_bytes(raw)
        with pytest.raises(DataError, match=words):
            load_dataset("fashion-mnist", path=tmp_path / folder)


def test_limit_is_stratified_deterministic_and_nested():
    small = load_dataset("tweet-sentiment", seed=1, limit=300)
    again = load_dataset("tweet-sentiment", seed=1, limit=300)
    larger = load_dataset("tweet-sentiment", seed=1, limit=600)
    assert small.summary()["total"] == 300
    assert small.test.items == again.test.items
    all_small = set(small.train.items + small.val.items + small.test.items)
    assert all_small <= set(larger.train.items + larger.val.items + larger.test.items)
    shares = np.bincount(np.concatenate([small.train.labels, small.val.labels, small.test.labels]))
    assert np.allclose(shares / 300, [0.441, 0.392, 0.167], atol=0.01)  # as in the whole corpus
    with pytest.raises(DataError, match="limit"):
        load_dataset("digits", limit=15)


def test_unknown_dataset_and_misplaced_path():
    with pytest.raises(DataError, match="unknown dataset 'mnist'; choose one of: digits"):
        load_dataset("mnist")
    with pytest.raises(DataError, match="takes no path"):
        load_dataset("digits", path="/tmp")
    with pytest.raises(DataError, match="BBC topics not found"):
        load_dataset("bbc-topics", path="/nonexistent")


@pytest.mark.parametrize("name", DATASETS)
def test_the_kinds_and_sizes_known_without_loading_are_right(name):
    ds = load_dataset(name)
    assert ds.kind == DATASET_KINDS[name] and ds.summary()["total"] == DATASET_SIZES[name]


def test_load_dataset_reads_what_the_table_names(monkeypatch):
    """A new table entry is a new dataset: load_dataset has no list of its own."""
    calls = []

    def loader(path):
        calls.append(path)
        return ("even", "odd"), [f"number {k}" for k in range(20)], np.arange(20) % 2

    entry = DatasetInfo("text", 20, None, None, loader)
    monkeypatch.setitem(DATASET_INFO, "numbers", entry)
    ds = load_dataset("numbers", seed=1, path="/somewhere")
    assert calls == ["/somewhere"] and ds.name == "numbers" and ds.kind == "text"
    assert ds.classes == ("even", "odd") and ds.summary()["total"] == 20
    assert entry.baseline == "TF-IDF (1-2-grams) + logistic regression"
    assert all(callable(info.loader) for info in builtin.DATASET_INFO.values())
