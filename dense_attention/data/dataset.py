"""The Dataset and Split types, DataError, and the deterministic stratified split they share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..core.errors import DenseAttentionError
from ..core.i18n import tr

__all__ = [
    "MAX_CLASSES",
    "DataError",
    "Dataset",
    "Source",
    "Split",
    "check_class_count",
    "check_labels",
    "decode_text",
    "limit_indices",
    "make_dataset",
    "read_bytes",
    "split_indices",
]

Source = str | Path | bytes | IO[bytes]

# Classes a dataset may have: a model's output layer, the baseline's coefficients and every
# per-class chart grow with it (20,000 classes made the baseline ask for 11.7 GiB).
MAX_CLASSES = 100


class DataError(DenseAttentionError):
    """A dataset cannot be built; the message says what to fix."""


@dataclass(frozen=True, eq=False)
class Split:
    """One part of a dataset: n inputs and their class indices."""

    items: list[str] | np.ndarray  # texts (list[str]) or images float32 (n, H, W, C) in [0, 1]
    labels: np.ndarray  # (n,) int64 class indices

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled dataset split into train, validation and test parts."""

    name: str
    kind: str  # "text" | "image"
    classes: tuple[str, ...]  # class names, index = label
    train: Split
    val: Split
    test: Split
    seed: int  # seed of the split (and of the `limit` subsample)

    def summary(self) -> dict[str, Any]:
        """Sizes at a glance: name, kind, number of classes and examples per split."""
        sizes = {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
        return {
            "name": self.name,
            "kind": self.kind,
            "classes": len(self.classes),
            **sizes,
            "total": sum(sizes.values()),
        }

    def train_and_val(self) -> Split:
        """Training and validation examples together: what the baseline is fit on, and what a
        final refit trains on once the settings are chosen (`python -m dense_attention train
        --refit`)."""
        if isinstance(self.train.items, np.ndarray):
            items: list[str] | np.ndarray = np.concatenate([self.train.items, self.val.items])
        else:
            items = list(self.train.items) + list(self.val.items)
        return Split(items, np.concatenate([self.train.labels, self.val.labels]))


def split_indices(
    labels: np.ndarray, seed: int, test: float = 0.2, val: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified (train, val, test) indices into `labels`, sorted, deterministic from `seed`.

    `test` and `val` are fractions of the whole, rounded per class; every class keeps at least
    one example in train, one in test (2+ examples) and one in val (3+ examples).
    """
    labels = np.asarray(labels)
    if not (0 <= test < 1 and 0 <= val < 1 and test + val < 1):
        raise DataError(
            tr(
                "test={test} and val={val} must be fractions that leave room for train",
                test=test,
                val=val,
            )
        )
    check_labels(labels)
    rng = np.random.default_rng(seed)
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        n = len(members)
        n_test = min(n - 1, max(1, round(test * n))) if test > 0 else 0
        n_val = max(1, round(val * n)) if val > 0 and n - n_test >= 2 else 0
        n_val = min(n_val, n - n_test - 1)
        parts[2].append(members[:n_test])
        parts[1].append(members[n_test : n_test + n_val])
        parts[0].append(members[n_test + n_val :])
    train, val_idx, test_idx = (np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
    return train, val_idx, test_idx


def check_labels(labels: np.ndarray, names: Sequence[str] | None = None, context: str = "") -> None:
    """Refuse fewer than 2 classes, or a class with a single example; `names` name the labels
    in the message, `context` is appended to it."""
    values, counts = np.unique(labels, return_counts=True)
    if len(values) < 2:
        found = ", ".join(_name(v, names) for v in values) or "none"
        raise DataError(
            tr(
                "need at least 2 classes{context}; found {values} ({found})",
                context=context,
                values=len(values),
                found=found,
            )
        )
    for value, count in zip(values, counts, strict=True):
        if count < 2:
            raise DataError(
                tr(
                    "label '{name}' has only {count} example{context}; each class needs at least 2",
                    name=_name(value, names),
                    count=count,
                    context=context,
                )
            )


def check_class_count(count: int) -> None:
    """Refuse more than MAX_CLASSES classes before any model, baseline or image array is built."""
    if count > MAX_CLASSES:
        raise DataError(
            tr(
                "{count:,} classes; the limit is {MAX_CLASSES}: is the label column the right one?",
                count=count,
                MAX_CLASSES=MAX_CLASSES,
            )
        )


def _name(value: Any, names: Sequence[str] | None) -> str:
    return str(names[int(value)]) if names is not None else str(value)


def limit_indices(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most `limit` examples, each class kept in proportion.

    Each class is shuffled and its k-th member ranked (k + 0.5) / class size; the `limit`
    lowest ranks win, so a smaller limit gives a subset of a larger one.
    """
    n = len(labels)
    if limit is None or limit >= n:
        return np.arange(n)
    if limit < 1:
        raise DataError(tr("limit must be a positive number of examples, not {limit}", limit=limit))
    rng = np.random.default_rng(seed)
    rank = np.empty(n)
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        rank[members] = (np.arange(len(members)) + 0.5) / len(members)
    return np.sort(np.argsort(rank, kind="stable")[:limit])


def make_dataset(
    name: str,
    kind: str,
    classes: Sequence[str],
    items: Sequence[str] | np.ndarray,
    labels: np.ndarray,
    seed: int,
    limit: int | None = None,
) -> Dataset:
    """A Dataset of all `items` (texts, or images (n, H, W, C) uint8 or float in [0, 1]) and
    their `labels`: at most `limit` of them kept (limit_indices), then split 70/10/20
    (split_indices), both seeded by `seed`. Each Split holds fresh copies, images as float32."""
    labels = np.asarray(labels, dtype=np.int64)
    check_labels(labels, classes)
    keep = limit_indices(labels, limit, seed)
    if len(keep) < len(labels):
        check_labels(labels[keep], classes, f" (with limit={limit}: raise the limit)")
    train, val, test = (keep[part] for part in split_indices(labels[keep], seed))
    return Dataset(
        name=name,
        kind=kind,
        classes=tuple(classes),
        train=_take(items, labels, train),
        val=_take(items, labels, val),
        test=_take(items, labels, test),
        seed=seed,
    )


def _take(items: Sequence[str] | np.ndarray, labels: np.ndarray, index: np.ndarray) -> Split:
    """A fresh Split (copies, so callers cannot touch the cached raw data)."""
    if isinstance(items, np.ndarray):
        chosen = items[index].astype(np.float32)
        return Split(chosen / 255 if items.dtype == np.uint8 else chosen, labels[index].copy())
    return Split([items[i] for i in index], labels[index].copy())


def read_bytes(source: Source) -> bytes:
    """Bytes of a path, a bytes object, or a binary file-like (e.g. Streamlit's UploadedFile)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | Path):
        try:
            return Path(source).expanduser().read_bytes()
        except OSError as err:
            raise DataError(
                tr("cannot read {source}: {value}", source=source, value=err.strerror or err)
            ) from err
    getvalue = getattr(source, "getvalue", None)  # whole buffer, even if already read
    data = getvalue() if callable(getvalue) else source.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def decode_text(raw: bytes) -> str:
    """UTF-8 (a BOM dropped), else Latin-1 (one BBC article has a Latin-1 pound sign)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
