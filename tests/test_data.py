"""Datasets: deterministic stratified splits, the built-in sets, and clear errors on bad uploads."""

import gzip
import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dense_attention.data import datasets as data
from dense_attention.data.datasets import (
    DATASET_KINDS,
    DATASET_SIZES,
    DATASETS,
    DataError,
    from_csv,
    from_image_zip,
    load_dataset,
    load_image,
    small_data_warning,
    split_indices,
)

TWEETS_KEPT = 33_224  # 38,158 rows minus the 4,934 that are not valid UTF-8


def case_id(value: object) -> str:
    """Short test ids: strings as they are, other values by type (not bytes dumps)."""
    return value if isinstance(value, str) else type(value).__name__


# ---------------------------------------------------------------- splits


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


# ---------------------------------------------------------------- built-in datasets


def check_dataset(ds: data.Dataset, total: int, classes: int) -> None:
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
    if all(
        (data.FASHION_DIR / f"{n}-idx3-ubyte.gz").is_file() for n in ("train-images", "t10k-images")
    ):
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


def test_cached_loads_cannot_be_corrupted_by_callers():
    first = load_dataset("digits")
    first.train.items[:] = 7
    first.train.labels[:] = 0
    second = load_dataset("digits")
    assert second.train.items.max() == 1 and len(set(second.train.labels)) == 10


def test_unknown_dataset_and_misplaced_path():
    with pytest.raises(DataError, match="unknown dataset 'mnist'; choose one of: digits"):
        load_dataset("mnist")
    with pytest.raises(DataError, match="takes no path"):
        load_dataset("digits", path="/tmp")
    with pytest.raises(DataError, match="BBC topics not found"):
        load_dataset("bbc-topics", path="/nonexistent")


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


def test_baseline_accuracy():
    assert 0.94 <= data.baseline_accuracy(load_dataset("digits")) <= 0.98
    assert data.baseline_accuracy(load_dataset("bbc-topics", limit=500)) > 0.85


# ---------------------------------------------------------------- CSV uploads

GOOD_CSV = b"id,Text,Label\n" + b"".join(
    f"{i},sentence number {i},{'pos' if i % 2 else 'neg'}\n".encode() for i in range(20)
)


@pytest.mark.parametrize("wrap", [bytes, io.BytesIO, "path"])
def test_csv_from_bytes_file_or_path(wrap, tmp_path):
    if wrap == "path":
        (tmp_path / "my.csv").write_bytes(GOOD_CSV)
        source = tmp_path / "my.csv"
    else:
        source = wrap(GOOD_CSV)
    ds = from_csv(source, name="mine")
    assert ds.name == "mine" and ds.kind == "text" and ds.classes == ("neg", "pos")
    assert ds.summary()["total"] == 20 and isinstance(ds.train.items[0], str)


def test_csv_guesses_columns_and_sorts_integer_labels_numerically():
    csv = b"score,comment,stars\n" + b"".join(
        f"0.5,review {i},{[2, 10][i % 2]}\n".encode() for i in range(10)
    )
    ds = from_csv(csv)  # first string column is the text, last other column the label
    assert ds.classes == ("2", "10")
    assert all(t.startswith("review") for t in ds.train.items)
    named = from_csv(csv, text_column="comment", label_column="stars")
    assert named.classes == ds.classes


def test_csv_reads_utf16_with_bom_and_tabs():
    csv = "text\tlabel\n" + "".join(f"héllo {i}\t{i % 2}\n" for i in range(10))
    ds = from_csv(csv.encode("utf-16"))
    assert ds.summary()["total"] == 10 and ds.test.items[0].startswith("héllo")


def test_csv_reads_semicolons_and_drops_empty_texts():
    csv = b"text;label\n" + b"".join(f"t{i};{i % 2}\n".encode() for i in range(10)) + b"  ;1\n"
    assert from_csv(csv).summary()["total"] == 10


@pytest.mark.parametrize(
    ("csv", "kwargs", "words"),
    [
        (b"", {}, "empty"),
        (b"\x89PNG\r\n\x1a\n\0\0", {}, "binary"),
        (b'text,label\n"never closed,1\n', {}, "could not parse"),
        (b"text\nhello\nworld\n", {}, "label column"),
        (
            GOOD_CSV,
            {"text_column": "body"},
            "column 'body' not found; columns are: id, Text, Label",
        ),
        (b"text,label\n ,a\n  ,b\n", {}, "no row has both a text"),
        (b"text,label\na,x\nb,x\nc,x\n", {}, "at least 2 classes"),
        (b"text,label\na,x\nb,x\nc,y\n", {}, "label 'y' has only 1 example"),
    ],
    ids=case_id,
)
def test_csv_errors_say_what_to_fix(csv, kwargs, words):
    with pytest.raises(DataError, match=words):
        from_csv(csv, **kwargs)


# ---------------------------------------------------------------- images


def image_bytes(image: Image.Image, fmt: str = "PNG", **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def noise_png(side: int = 32) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    return image_bytes(Image.fromarray(pixels))


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height but holds no pixels: enough for PIL to open."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def test_load_image_accepts_paths_bytes_files_and_pil_images(tmp_path):
    raw = image_bytes(Image.new("RGB", (5, 4), (10, 20, 30)))
    (tmp_path / "a.png").write_bytes(raw)
    for source in (raw, io.BytesIO(raw), tmp_path / "a.png", str(tmp_path / "a.png")):
        image = load_image(source)
        assert image.mode == "RGB" and image.size == (5, 4)
    assert load_image(Image.new("L", (3, 3))).mode == "L"


@pytest.mark.parametrize(
    ("image", "mode", "pixel"),
    [
        (Image.new("RGBA", (4, 4), (255, 0, 0, 0)), "RGB", (255, 255, 255)),  # on white
        (Image.new("RGBA", (4, 4), (255, 0, 0, 255)), "RGB", (255, 0, 0)),
        (Image.new("LA", (4, 4), (0, 0)), "L", 255),
        (Image.new("L", (1, 1), 9), "L", 9),
        (Image.new("1", (4, 4), 1), "L", 255),
        (Image.new("I;16", (4, 4), 65535), "L", 255),
        (Image.new("I", (4, 4), 65535), "L", 255),  # saved as TIFF: PNG cannot hold "I"
        (Image.new("CMYK", (4, 4), (0, 0, 0, 0)), "RGB", (255, 255, 255)),
        (Image.new("RGB", (4000, 10), (1, 2, 3)), "RGB", (1, 2, 3)),
    ],
    ids=case_id,
)
def test_load_image_normalises_modes(image, mode, pixel):
    for source in (image, image_bytes(image, "TIFF" if image.mode in ("CMYK", "I") else "PNG")):
        loaded = load_image(source)
        assert loaded.mode == mode and loaded.size == image.size
        assert loaded.getpixel((0, 0)) == pixel


def test_load_image_palette_with_and_without_transparency():
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    assert load_image(image_bytes(palette)).getpixel((0, 0)) == (0, 255, 0)
    see_through = image_bytes(palette, transparency=1)
    assert load_image(see_through).getpixel((0, 0)) == (255, 255, 255)


def test_load_image_turns_exif_rotated_jpegs_upright():
    stored = Image.new("RGB", (20, 10), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 10, 10))  # red on the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    upright = load_image(image_bytes(stored, "JPEG", exif=exif.tobytes(), quality=95))
    assert upright.size == (10, 20)
    red, _, blue = upright.getpixel((5, 2))
    assert red > 200 and blue < 50  # the left side is now on top


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_load_image_takes_the_first_frame_of_animations(fmt):
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    raw = image_bytes(frames[0], fmt, save_all=True, append_images=frames[1:], lossless=True)
    red, _, blue = load_image(raw).getpixel((4, 4))
    assert red > 200 and blue < 50


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"hello, I am text", "not an image"),
        (noise_png()[:300], "corrupt or truncated"),
        (png_header(8000, 8000), "too large: 8000x8000 is 64 megapixels; the limit is 50"),
        (png_header(20000, 10000), "too large"),  # PIL's own decompression-bomb error
    ],
    ids=case_id,
)
def test_load_image_errors(raw, words):
    with pytest.raises(DataError, match=words):
        load_image(raw)
    with pytest.raises(DataError, match="cannot read"):
        load_image("/nonexistent/picture.png")


def make_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, raw in files.items():
            archive.writestr(name, raw)
    return buffer.getvalue()


def gray(value: int, side: int = 12) -> bytes:
    return image_bytes(Image.new("L", (side, side), value))


def class_zip(extra: dict[str, bytes] | None = None, wrapper: str = "") -> bytes:
    files = {f"{wrapper}{cls}/{i}.png": gray(40 * k + i) for k, cls in enumerate(("cat", "dog"))
             for i in range(5)}  # fmt: skip
    return make_zip({**files, **(extra or {})})


def test_image_zip_with_wrapper_folder_and_junk_ignored():
    junk = {"photos/__MACOSX/cat/._0.png": b"junk", "photos/.DS_Store": b"junk"}
    ds = from_image_zip(class_zip(junk, wrapper="photos/"), name="pets")
    assert ds.name == "pets" and ds.kind == "image" and ds.classes == ("cat", "dog")
    assert ds.summary()["total"] == 10
    assert ds.train.items.shape[1:] == (12, 12, 1) and ds.train.items.dtype == np.float32
    assert ds.train.items.min() >= 0 and ds.train.items.max() <= 1


def test_image_zip_mixed_sizes_and_modes_become_rgb_squares():
    colour = image_bytes(Image.new("RGBA", (30, 60), (255, 0, 0, 255)))
    ds = from_image_zip(class_zip({"dog/tall.png": colour, "cat/tiny.png": gray(0, side=1)}))
    assert ds.train.items.shape[1:] == (12, 12, 3)  # median side of the images is 12
    assert from_image_zip(class_zip(), size=5).test.items.shape[1:] == (5, 5, 1)


@pytest.mark.parametrize(
    ("archive", "words"),
    [
        (b"PK not really a zip", "not a ZIP file"),
        (make_zip({"a.png": gray(0), "b.png": gray(1)}), "no class folders"),
        (class_zip({"dog/notes.txt": b"hello"}), "dog/notes.txt: not an image"),
        (class_zip({"cat/bad.png": noise_png()[:300]}), "cat/bad.png: corrupt or truncated"),
        (make_zip({"cat/1.png": gray(0), "cat/2.png": gray(1)}), "at least 2 classes"),
        (class_zip({"bird/1.png": gray(0)}), "label 'bird' has only 1 example"),
    ],
    ids=case_id,
)
def test_image_zip_errors_name_the_problem(archive, words):
    with pytest.raises(DataError, match=words):
        from_image_zip(archive)


def test_image_zip_limits_are_checked_before_reading(monkeypatch):
    monkeypatch.setattr(data, "MAX_ZIP_FILES", 5)
    with pytest.raises(DataError, match="holds 10 files; the limit is 5"):
        from_image_zip(class_zip())
    monkeypatch.setattr(data, "MAX_ZIP_FILES", 20_000)
    with pytest.raises(DataError, match="unpacks to 600 MB; the limit is 500 MB"):
        from_image_zip(zip_bomb(600_000_000))


def zip_bomb(declared: int) -> bytes:
    """A ZIP whose directory says it unpacks to `declared` bytes (as a real bomb's would)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        archive.writestr("cat/0.png", gray(0))
        archive.writestr("dog/0.png", gray(1))
        archive.infolist()[-1].file_size = declared
    return buffer.getvalue()


@pytest.mark.parametrize("name", DATASETS)
def test_the_kinds_and_sizes_known_without_loading_are_right(name):
    ds = load_dataset(name)
    assert ds.kind == DATASET_KINDS[name] and ds.summary()["total"] == DATASET_SIZES[name]


def test_too_many_classes_are_refused_before_anything_is_built(monkeypatch):
    rows = "".join(f"text {k},class{k}\ntext {k} again,class{k}\n" for k in range(101))
    with pytest.raises(DataError, match="101 classes; the limit is 100"):
        from_csv(f"text,label\n{rows}".encode())
    monkeypatch.setattr(data, "MAX_CLASSES", 2)  # small ZIPs: the same check on folders
    with pytest.raises(DataError, match="3 classes; the limit is 2"):
        from_image_zip(class_zip({"bird/1.png": gray(0), "bird/2.png": gray(1)}))


def test_an_image_member_is_read_only_up_to_its_limit(monkeypatch):
    monkeypatch.setattr(data, "MAX_IMAGE_FILE_BYTES", 2**20, raising=False)
    bomb = class_zip({"cat/bomb.png": b"\x00" * (3 * 2**20)})  # 3 MB packed to ~3 kB
    with pytest.raises(DataError, match="cat/bomb.png: unpacks to more than 1 MB, the limit for"):
        from_image_zip(bomb)


def test_the_total_pixels_are_checked_from_the_headers_before_decoding(monkeypatch):
    monkeypatch.setattr(
        data, "MAX_TOTAL_PIXELS", 1000, raising=False
    )  # ten 12 x 12 images: 1,440 pixels
    truncated = {"cat/bad.png": noise_png()[:300]}  # a header, then no pixels to decode
    with pytest.raises(DataError, match="the 11 images hold 0 megapixels in all; the limit is 0"):
        from_image_zip(class_zip(truncated))


SEMICOLON_CSV = (
    b"review, in English;label\n"  # a comma in the header made it read as comma-separated
    + b"".join(f"Great film, loved part {k};pos\nAwful, boring, long part {k};neg\n"
               f"Fine {k};pos\nMeh {k};neg\n".encode() for k in range(6))
)  # fmt: skip


def test_a_semicolon_csv_with_commas_in_its_text_is_read_by_its_separator():
    """Issue #16.7: this file got "need at least 2 classes; found 1"."""
    ds = from_csv(SEMICOLON_CSV)
    assert ds.classes == ("neg", "pos") and len(ds.train) + len(ds.val) + len(ds.test) == 24
    assert "Great film, loved part" in " ".join(ds.train.items + ds.test.items + ds.val.items)


def test_one_class_names_the_separator_it_read():
    with pytest.raises(DataError, match="read as semicolon-separated"):
        from_csv(b"text;label\na;pos\nb;pos\nc;pos\n")


def test_a_six_row_csv_gets_a_warning_and_a_big_one_none():
    tiny = from_csv(b"text,label\na,x\nb,x\nc,y\nd,y\ne,z\nf,z\n")
    warning = small_data_warning(tiny)
    assert warning and "fewer than 20 examples" in warning and "x (2)" in warning
    assert small_data_warning(from_csv(SEMICOLON_CSV * 1)) is not None  # 12 a class
    rows = b"".join(f"t{k},{'ab'[k % 2]}\n".encode() for k in range(60))
    assert small_data_warning(from_csv(b"text,label\n" + rows)) is None
