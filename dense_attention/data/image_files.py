"""One picture file read safely: its size refused before decoding, then decode_picture's rule."""

from __future__ import annotations

import io
import struct
import warnings

from PIL import Image, UnidentifiedImageError

from ..core.i18n import tr
from ..inputs.pictures import decode_picture
from .dataset import DataError, Source, read_bytes

__all__ = ["MAX_IMAGE_PIXELS", "load_image", "open_image"]

MAX_IMAGE_PIXELS = 50_000_000  # refuse larger images before decoding them
READ_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)  # PIL on a bad file


def load_image(source: Source | Image.Image) -> Image.Image:
    """An RGB or L image from a path, bytes, file-like or PIL image, safe on odd input.

    First frame of animations; then inputs.pictures.decode_picture: upright per EXIF,
    transparency composited on white, 16-bit and 1-bit to 8-bit L, palette and CMYK to RGB.
    Images over MAX_IMAGE_PIXELS are refused before decoding. Raises DataError for anything
    that is not a readable image.
    """
    image = source if isinstance(source, Image.Image) else open_image(read_bytes(source))
    try:
        image.seek(0)
        image.load()
        return decode_picture(image)
    except READ_ERRORS as err:
        raise DataError(tr("corrupt or truncated image ({err})", err=err)) from err


def open_image(raw: bytes) -> Image.Image:
    """Open lazily (header only) and refuse oversized images before anything is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DataError(tr("image too large ({err})", err=err)) from err
    except (UnidentifiedImageError, *READ_ERRORS) as err:
        raise DataError(
            tr("not an image PIL can read (PNG, JPEG, GIF, BMP, WebP, TIFF, ...)")
        ) from err
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(
            tr(
                "image too large: {width}x{height} is {value:.0f} megapixels; the limit "
                "is {value2:.0f}",
                width=width,
                height=height,
                value=width * height / 1e6,
                value2=MAX_IMAGE_PIXELS / 1e6,
            )
        )
    if width < 1 or height < 1:
        raise DataError(tr("image has no pixels ({width}x{height})", width=width, height=height))
    return image
