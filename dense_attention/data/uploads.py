"""Datasets a user uploads: a CSV of text,label rows or a ZIP of one picture folder per class."""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from ..core.i18n import tr
from ..inputs.encoding import MAX_IMAGE_SIZE
from .archive import (
    MEMBER_TOO_LARGE,
    NOT_A_ZIP,
    TOO_MANY_FILES,
    ByteBudget,
    ZipRefused,
    open_zip,
    read_member,
)
from .dataset import (
    DataError,
    Dataset,
    Source,
    check_class_count,
    check_labels,
    decode_text,
    make_dataset,
    read_bytes,
)
from .image_files import load_image, open_image

__all__ = [
    "CSV_DELIMITERS",
    "SMALL_CLASS",
    "csv_delimiter",
    "from_csv",
    "from_image_zip",
    "parse_upload",
    "small_data_warning",
]

MAX_ZIP_FILES = 20_000
MAX_ZIP_BYTES = 500_000_000  # uncompressed total, checked before reading any member
MAX_IMAGE_ARRAY_BYTES = 2_000_000_000  # float32 images of one ZIP after resizing
MAX_IMAGE_FILE_BYTES = 20 * 2**20  # one image file in a ZIP, as read (a photo upload's limit)
# Pixels of all the images of one ZIP, from their headers, before any is decoded: decoding
# costs about 10 ms a megapixel (60 images of 49 MP, 2.9 MB zipped, took 39 s of CPU).
MAX_TOTAL_PIXELS = 250_000_000
IGNORED_NAMES = {"__MACOSX", "Thumbs.db", "desktop.ini"}
CSV_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SMALL_CLASS = 20  # examples of a class below which training and its test accuracy mean little


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
    archive = _open_zip(read_bytes(source))
    members = _class_members(archive)
    classes = sorted({cls for cls, _ in members})
    check_class_count(len(classes))
    labels = np.array([classes.index(cls) for cls, _ in members], dtype=np.int64)
    check_labels(labels, classes)
    budget = ByteBudget(MAX_ZIP_BYTES)  # headers: every member read once, a chunk at a time
    sides = [_image_header(archive, info, budget).size for _, info in members]
    _check_total_pixels(sides)
    size = min(32, int(np.median(sides))) if size is None else size
    if not 1 <= size <= MAX_IMAGE_SIZE:
        raise DataError(
            tr(
                "size must be between 1 and {MAX_IMAGE_SIZE} pixels, not {size}",
                MAX_IMAGE_SIZE=MAX_IMAGE_SIZE,
                size=size,
            )
        )
    if len(members) * size * size * 3 * 4 > MAX_IMAGE_ARRAY_BYTES:
        raise DataError(
            tr(
                "{members} images of {size}x{size} would not fit in memory; pass a smaller size",
                members=len(members),
                size=size,
            )
        )
    budget = ByteBudget(MAX_ZIP_BYTES)  # pixels: every member read a second time
    images = [_square_array(archive, info, size, budget) for _, info in members]
    if any(image.ndim == 3 for image in images):
        images = [np.repeat(im[..., None], 3, axis=2) if im.ndim == 2 else im for im in images]
    stacked = np.stack(images).astype(np.float32) / 255
    stacked = stacked[..., None] if stacked.ndim == 3 else stacked  # (n, S, S, C)
    return make_dataset(name, "image", classes, stacked, labels, seed)


def _check_total_pixels(sides: list[tuple[int, int]]) -> None:
    total = sum(width * height for width, height in sides)
    if total > MAX_TOTAL_PIXELS:
        raise DataError(
            tr(
                "the {sides} images hold {value:,.0f} megapixels in all; the limit is "
                "{value2:,.0f}. The model sees at most {MAX_IMAGE_SIZE} pixels a side: "
                "shrink the pictures before zipping them",
                sides=len(sides),
                value=total / 1e6,
                value2=MAX_TOTAL_PIXELS / 1e6,
                MAX_IMAGE_SIZE=MAX_IMAGE_SIZE,
            )
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
            tr(
                "no class folders found in the ZIP: put each class's images in its own "
                "folder (cats/1.png, dogs/1.png, ...)",
            )
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
            tr(
                "{filename}: unpacks to more than {limit}, the limit for {what}",
                filename=info.filename,
                limit=limit,
                what=what,
            )
        ) from err
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, ValueError) as err:
        raise DataError(
            tr("{filename}: cannot be read from the ZIP ({err})", filename=info.filename, err=err)
        ) from err


def _named(filename: str, func: Callable[[bytes], Any], raw: bytes) -> Any:
    try:
        return func(raw)
    except DataError as err:
        raise DataError(tr("{filename}: {err}", filename=filename, err=err)) from err


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


# ---------------------------------------------------------------- CSV


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
    raw = read_bytes(source)
    frame = _read_table(raw)
    text_col = _column(frame, text_column) if text_column else _guess_text_column(frame)
    label_col = (
        _column(frame, label_column) if label_column else _guess_label_column(frame, text_col)
    )
    if text_col == label_col:
        raise DataError(
            tr("text and label must be different columns; both are '{text_col}'", text_col=text_col)
        )
    texts = frame[text_col].astype(str).str.strip()
    raw_labels = frame[label_col].astype(str).str.strip()
    keep = (texts != "") & (raw_labels != "")
    if not keep.any():
        raise DataError(
            tr(
                "no row has both a text in '{text_col}' and a label in '{label_col}'",
                text_col=text_col,
                label_col=label_col,
            )
        )
    classes = _sort_labels(set(raw_labels[keep]))
    check_class_count(len(classes))
    if len(classes) < 2:
        separator = CSV_DELIMITERS[csv_delimiter(_csv_text(raw))]
        raise DataError(
            tr(
                "need at least 2 classes; found 1 ('{classes}') in column '{label_col}'. "
                "The file was read as {separator}-separated: if it uses another "
                "separator, or the labels are in another column, fix that and upload it "
                "again",
                classes=classes[0][:60],
                label_col=label_col,
                separator=separator,
            )
        )
    labels = raw_labels[keep].map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    return make_dataset(name, "text", classes, texts[keep].tolist(), labels, seed)


def _read_table(raw: bytes) -> pd.DataFrame:
    if not raw.strip():
        raise DataError(tr("the CSV file is empty"))
    text = _csv_text(raw)
    sep = csv_delimiter(text)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise DataError(
            tr("could not parse the CSV file: {strip}", strip=str(err).strip())
        ) from err
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(tr("the CSV file has a header but no rows"))
    if frame.shape[1] < 2:
        raise DataError(
            tr(
                "the CSV needs a text column and a label column; found only '{columns}'",
                columns=frame.columns[0],
            )
        )
    return frame


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
            raise DataError(tr("the CSV file is damaged UTF-16 text ({err})", err=err)) from err
    if b"\0" in raw:
        raise DataError(tr("this is not a CSV file: it contains binary data"))
    return decode_text(raw)


def _column(frame: pd.DataFrame, wanted: str) -> str:
    matches = [c for c in frame.columns if c == wanted] or [
        c for c in frame.columns if c.lower() == wanted.lower()
    ]
    if not matches:
        raise DataError(
            tr(
                "column '{wanted}' not found; columns are: {join}",
                wanted=wanted,
                join=", ".join(frame.columns),
            )
        )
    return matches[0]


def _guess_text_column(frame: pd.DataFrame) -> str:
    named = [c for c in frame.columns if c.lower() == "text"]
    strings = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c])]
    if not named + strings:
        raise DataError(
            tr("no text column found; columns are: {join}", join=", ".join(frame.columns))
        )
    return (named + strings)[0]


def _guess_label_column(frame: pd.DataFrame, text_col: str) -> str:
    named = [c for c in frame.columns if c.lower() == "label" and c != text_col]
    return named[0] if named else [c for c in frame.columns if c != text_col][-1]


def _sort_labels(labels: set[str]) -> list[str]:
    try:
        return sorted(labels, key=int)
    except ValueError:
        return sorted(labels)
