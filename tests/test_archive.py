"""archive: an uploaded ZIP is opened only after its size, directory and declared sizes pass."""

import io
import zipfile

import pytest

from dense_attention.data.archive import (
    CHUNK_BYTES,
    MEMBER_TOO_LARGE,
    NOT_A_ZIP,
    TOO_LARGE,
    TOO_MANY_FILES,
    UNPACKS_TOO_LARGE,
    ByteBudget,
    ZipRefused,
    open_zip,
    read_member,
)


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def refusal(raw: bytes, **limits) -> ZipRefused:
    with pytest.raises(ZipRefused) as caught:
        open_zip(raw, **limits)
    return caught.value


def test_a_zip_within_its_limits_opens():
    raw = zip_of({"a.txt": b"a", "b.txt": b"bb"})
    archive = open_zip(raw, max_bytes=len(raw), max_files=2, max_unzipped_bytes=3)
    assert archive.read("b.txt") == b"bb"


def test_each_check_is_named_with_its_numbers():
    raw = zip_of({"a.txt": b"\x00" * 1000, "b.txt": b""})
    err = refusal(raw, max_bytes=10)
    assert (err.check, err.size, err.limit) == (TOO_LARGE, len(raw), 10)
    assert refusal(b"PK not a zip").check == NOT_A_ZIP
    assert isinstance(refusal(b"PK not a zip").__cause__, zipfile.BadZipFile)
    assert (refusal(raw, max_files=1).check, refusal(raw, max_files=1).size) == (TOO_MANY_FILES, 2)
    bomb = refusal(raw, max_unzipped_bytes=999)  # 1000 bytes that pack to a few
    assert (bomb.check, bomb.size, bomb.limit) == (UNPACKS_TOO_LARGE, 1000, 999)


def test_the_callers_inspection_runs_before_the_size_checks():
    def refuse(members: list[zipfile.ZipInfo]) -> None:
        raise RuntimeError(f"saw {[m.filename for m in members]}")

    with pytest.raises(RuntimeError, match=r"saw \['a.txt'\]"):
        open_zip(zip_of({"a.txt": b"a" * 100}), max_unzipped_bytes=1, inspect=refuse)


def test_a_member_is_streamed_and_reading_stops_one_chunk_past_its_limit():
    raw = zip_of({"bomb.bin": b"\x00" * (8 * CHUNK_BYTES), "ok.txt": b"fine"})
    archive = open_zip(raw)
    bomb, ok = archive.infolist()
    with pytest.raises(ZipRefused) as caught:
        read_member(archive, bomb, max_bytes=CHUNK_BYTES // 2)
    assert caught.value.check == MEMBER_TOO_LARGE
    assert caught.value.size <= CHUNK_BYTES  # stopped at the first chunk, not 8 MB later
    assert read_member(archive, ok, max_bytes=4) == b"fine"


def test_the_budget_runs_across_members():
    raw = zip_of({"a.bin": b"a" * 3000, "b.bin": b"b" * 3000})
    archive = open_zip(raw)
    budget = ByteBudget(5000)
    assert read_member(archive, archive.infolist()[0], budget) == b"a" * 3000
    with pytest.raises(ZipRefused) as caught:
        read_member(archive, archive.infolist()[1], budget)
    assert (caught.value.check, caught.value.size, caught.value.limit) == (
        UNPACKS_TOO_LARGE,
        6000,
        5000,
    )
