"""Picture files for the data tests: encoded bytes, noise, a header with no pixels."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


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
