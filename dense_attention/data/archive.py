"""Open an uploaded ZIP in memory, refusing oversized uploads and zip bombs before any read."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

from ..core.errors import DenseAttentionError

NOT_A_ZIP = "not_a_zip"
TOO_LARGE = "too_large"  # the upload itself
TOO_MANY_FILES = "too_many_files"
UNPACKS_TOO_LARGE = "unpacks_too_large"  # the sizes its members declare, or read, in all
MEMBER_TOO_LARGE = "member_too_large"  # one member, as read
CHUNK_BYTES = 2**20  # members are read this much at a time
# What zipfile raises for bytes that are not a readable ZIP directory.
_NOT_A_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError)


class ZipRefused(DenseAttentionError):
    """`open_zip` refused an upload; callers turn `check`, `size` and `limit` into their message.

    For NOT_A_ZIP, `__cause__` is zipfile's own error.
    """

    def __init__(self, check: str, size: int = 0, limit: int = 0) -> None:
        super().__init__(f"{check}: {size} over the limit of {limit}")
        self.check, self.size, self.limit = check, size, limit


def open_zip(
    raw: bytes,
    max_bytes: int | None = None,
    max_files: int | None = None,
    max_unzipped_bytes: int | None = None,
    inspect: Callable[[list[zipfile.ZipInfo]], None] | None = None,
) -> zipfile.ZipFile:
    """`raw` as an open ZipFile, after checks that read only its central directory.

    In order: the upload's size against `max_bytes`, that it is a ZIP, `inspect(members)` (the
    caller's own check, e.g. refusing pickles), the member count against `max_files`, and the
    uncompressed sizes the members declare against `max_unzipped_bytes`. A limit of None is not
    checked. Raises ZipRefused naming the failed check.
    """
    _check_limit(TOO_LARGE, len(raw), max_bytes)
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except _NOT_A_ZIP_ERRORS as err:
        raise ZipRefused(NOT_A_ZIP) from err
    members = archive.infolist()
    if inspect is not None:
        inspect(members)
    _check_limit(TOO_MANY_FILES, len(members), max_files)
    _check_limit(UNPACKS_TOO_LARGE, sum(m.file_size for m in members), max_unzipped_bytes)
    return archive


def _check_limit(check: str, size: int, limit: int | None) -> None:
    if limit is not None and size > limit:
        raise ZipRefused(check, size, limit)


class ByteBudget:
    """Bytes that may still be unpacked from one archive, shared by every member read."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def spend(self, count: int) -> None:
        self.used += count
        _check_limit(UNPACKS_TOO_LARGE, self.used, self.limit)


def read_member(
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    budget: ByteBudget | None = None,
    max_bytes: int | None = None,
) -> bytes:
    """One member's bytes, read CHUNK_BYTES at a time: reading stops as soon as the member passes
    `max_bytes` (ZipRefused MEMBER_TOO_LARGE) or the archive's `budget` runs out
    (UNPACKS_TOO_LARGE), so a bomb costs at most one chunk past the limit, never its whole size.
    zipfile's own errors (a damaged or encrypted member) pass through."""
    chunks, size = [], 0
    with archive.open(member) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            size += len(chunk)
            _check_limit(MEMBER_TOO_LARGE, size, max_bytes)
            if budget is not None:
                budget.spend(len(chunk))
            chunks.append(chunk)
    return b"".join(chunks)
