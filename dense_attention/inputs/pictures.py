"""Pictures as every reader sees them: one decoder to 8-bit L or RGB, and each patch's pixel box."""

from __future__ import annotations

import contextlib
import struct

import numpy as np
from PIL import Image, ImageOps

__all__ = ["Box", "decode_picture", "high_depth_to_unit", "patch_boxes"]

Box = tuple[int, int, int, int]  # (top, left, bottom, right) in pixels; bottom, right exclusive
ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")


def decode_picture(image: Image.Image) -> Image.Image:
    """Any PIL picture -> an upright 8-bit "L" (grayscale) or "RGB" picture of the same size.

    The one rule the datasets, the uploads and the image encoder share:
    - orientation: EXIF's applied (an unreadable EXIF block is ignored);
    - "L" and "RGB" are kept; "1" (bilevel) becomes "L";
    - high-depth grayscale ("I;16*", "I", "F") becomes "L" by `high_depth_to_unit`, then
      rounded to 8 bits;
    - transparency ("RGBA", "LA", "La", "PA", "RGBa", a palette with a transparent colour) is
      composited over white: "LA"/"La" become "L", the others "RGB";
    - every other mode ("P", "CMYK", "YCbCr", "LAB", "HSV", ...) becomes "RGB".
    PIL's own errors (OSError, ValueError) on a corrupt picture pass through to the caller.
    """
    with contextlib.suppress(OSError, SyntaxError, ValueError, KeyError, TypeError, struct.error):
        image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I") or mode == "F":
        unit = high_depth_to_unit(np.asarray(image), mode)
        return Image.fromarray((unit * 255).round().astype(np.uint8), mode="L")
    if mode in ALPHA_MODES or (mode == "P" and "transparency" in image.info):
        gray = mode in ("LA", "La")
        rgba = image.convert("LA").convert("RGBA") if mode == "La" else image.convert("RGBA")
        flat = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        return flat.convert("L" if gray else "RGB")
    return image.convert("RGB")


def high_depth_to_unit(pixels: np.ndarray, mode: str) -> np.ndarray:
    """Gray levels of a high-depth PIL mode -> float32 in [0, 1].

    "I;16*" (16-bit): value / 65535. "I" (32-bit integers, as some TIFFs and older PNG readers
    give): value / 255 when no value exceeds 255 (8-bit values stored wide), else value / 65535,
    clipped to [0, 1]. "F" (32-bit float): kept when every value lies in [0, 1], else scaled so
    that its minimum is 0 and its maximum 1.
    """
    pixels = pixels.astype(np.float32)
    if mode.startswith("I;16"):
        return pixels / 65535.0
    if mode == "F":
        lo, hi = float(pixels.min()), float(pixels.max())
        return pixels if lo >= 0 and hi <= 1 else (pixels - lo) / max(hi - lo, 1e-12)
    top = 255.0 if pixels.max(initial=0) <= 255 else 65535.0
    return np.clip(pixels / top, 0.0, 1.0)


def patch_boxes(height: int, width: int, patch: int) -> list[Box]:
    """The (top, left, bottom, right) pixel box of each patch x patch square of a height x width
    picture, in token order (row-major: left to right, then top to bottom)."""
    if patch < 1 or height % patch or width % patch:
        raise ValueError(f"a {height}x{width} image cannot be cut into {patch}x{patch} patches")
    return [
        (top, left, top + patch, left + patch)
        for top in range(0, height, patch)
        for left in range(0, width, patch)
    ]
