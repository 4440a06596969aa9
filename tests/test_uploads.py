"""Tests for data.uploads: CSV and ZIP uploads become datasets, or say what to fix."""

import io
import zipfile

import numpy as np
import pytest
from picture_bytes import image_bytes, noise_png
from PIL import Image

from dense_attention.data import dataset, uploads
from dense_attention.data.dataset import DataError
from dense_attention.data.uploads import from_csv, from_image_zip, small_data_warning


def case_id(value: object) -> str:
    """Short test ids: strings as they are, other values by type (not bytes dumps)."""
    return value if isinstance(value, str) else type(value).__name__


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
    monkeypatch.setattr(uploads, "MAX_ZIP_FILES", 5)
    with pytest.raises(DataError, match="holds 10 files; the limit is 5"):
        from_image_zip(class_zip())
    monkeypatch.setattr(uploads, "MAX_ZIP_FILES", 20_000)
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


def test_too_many_classes_are_refused_before_anything_is_built(monkeypatch):
    rows = "".join(f"text {k},class{k}\ntext {k} again,class{k}\n" for k in range(101))
    with pytest.raises(DataError, match="101 classes; the limit is 100"):
        from_csv(f"text,label\n{rows}".encode())
    monkeypatch.setattr(dataset, "MAX_CLASSES", 2)  # small ZIPs: the same check on folders
    with pytest.raises(DataError, match="3 classes; the limit is 2"):
        from_image_zip(class_zip({"bird/1.png": gray(0), "bird/2.png": gray(1)}))


def test_an_image_member_is_read_only_up_to_its_limit(monkeypatch):
    monkeypatch.setattr(uploads, "MAX_IMAGE_FILE_BYTES", 2**20, raising=False)
    bomb = class_zip({"cat/bomb.png": b"\x00" * (3 * 2**20)})  # 3 MB packed to ~3 kB
    with pytest.raises(DataError, match="cat/bomb.png: unpacks to more than 1 MB, the limit for"):
        from_image_zip(bomb)


def test_the_total_pixels_are_checked_from_the_headers_before_decoding(monkeypatch):
    monkeypatch.setattr(
        uploads, "MAX_TOTAL_PIXELS", 1000, raising=False
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
