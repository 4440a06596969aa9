"""Tests for inputs.pictures: the one picture decoder (16-bit rule included) and the patch boxes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dense_attention.data.image_files import load_image
from dense_attention.inputs.image_encoder import ImageConfig, ImageEncoder
from dense_attention.inputs.pictures import decode_picture, high_depth_to_unit, patch_boxes


def png_16_bit(values: np.ndarray) -> bytes:
    """A 16-bit grayscale PNG of `values` (uint16), as a scanner or a microscope writes one."""
    buffer = io.BytesIO()
    Image.fromarray(values.astype(np.uint16)).save(buffer, "PNG")
    return buffer.getvalue()


GRADIENT = np.array(
    [[0, 257, 1000, 30_000], [32_767, 32_768, 50_000, 65_535], [128, 255, 256, 60_000]]
)


def test_a_16_bit_png_is_read_as_i16_and_scaled_by_65535_everywhere() -> None:
    raw = png_16_bit(GRADIENT)
    opened = Image.open(io.BytesIO(raw))
    assert opened.mode == "I;16"  # the mode the rule is about, not a converted one
    expected = np.round(GRADIENT / 65535 * 255).astype(np.uint8)  # the documented rule

    decoded = decode_picture(opened)
    assert decoded.mode == "L" and decoded.size == (4, 3)
    np.testing.assert_array_equal(np.asarray(decoded), expected)
    # The uploads' reader (data) and the image encoder (inputs) agree, value for value.
    np.testing.assert_array_equal(np.asarray(load_image(raw)), expected)
    encoder = ImageEncoder(ImageConfig(size=4, channels=1, patch=1, pos_dim=0))
    square = np.zeros((4, 4), dtype=np.uint16)
    square[:3] = GRADIENT  # a square picture: the encoder resizes nothing
    pixels = encoder.prepare(Image.open(io.BytesIO(png_16_bit(square))))[0, 0].numpy()
    np.testing.assert_allclose(pixels[:3] * 255, expected, atol=1e-4)


def test_a_dark_16_bit_picture_stays_dark() -> None:
    """Values up to 255 in a 16-bit file are 16-bit values (0.4% of white), not 8-bit ones."""
    dark = np.full((2, 2), 255)
    decoded = decode_picture(Image.open(io.BytesIO(png_16_bit(dark))))
    assert np.asarray(decoded).max() == 1  # 255 / 65535 * 255 = 0.99


@pytest.mark.parametrize(
    ("mode", "values", "unit"),
    [
        ("I;16", [0, 65535], [0, 1]),
        ("I", [0, 128, 255], [0, 128 / 255, 1]),  # 8-bit values stored in 32-bit integers
        ("I", [0, 255, 65535, 70_000, -5], [0, 255 / 65535, 1, 1, 0]),  # 16-bit, clipped
        ("F", [0.0, 0.25, 1.0], [0, 0.25, 1]),  # already in [0, 1]: kept
        ("F", [-1.0, 0.0, 3.0], [0, 0.25, 1]),  # otherwise its range is stretched to [0, 1]
    ],
)
def test_high_depth_rule(mode: str, values: list[float], unit: list[float]) -> None:
    got = high_depth_to_unit(np.array(values), mode)
    np.testing.assert_allclose(got, unit, atol=1e-6)
    assert got.dtype == np.float32


@pytest.mark.parametrize(
    ("image", "mode", "pixel"),
    [
        (Image.new("La", (2, 2), (0, 0)), "L", 255),  # premultiplied, fully clear: white
        (Image.new("LA", (2, 2), (0, 255)), "L", 0),
        (Image.new("RGBa", (2, 2), (255, 0, 0, 255)), "RGB", (255, 0, 0)),
        (Image.new("F", (2, 2), 0.5), "L", 128),
        (Image.new("LAB", (2, 2), (100, 128, 128)), "RGB", None),
    ],
)
def test_every_mode_becomes_8_bit_l_or_rgb(image: Image.Image, mode: str, pixel) -> None:
    decoded = decode_picture(image)
    assert decoded.mode == mode and decoded.size == image.size
    if pixel is not None:
        assert decoded.getpixel((0, 0)) == pixel


@pytest.mark.parametrize(("height", "width", "patch"), [(8, 8, 2), (12, 6, 3), (5, 10, 5)])
def test_patch_boxes_tile_the_picture_in_token_order(height: int, width: int, patch: int) -> None:
    boxes = patch_boxes(height, width, patch)
    cover = np.zeros((height, width), dtype=int)
    for top, left, bottom, right in boxes:
        assert bottom - top == right - left == patch
        cover[top:bottom, left:right] += 1
    assert (cover == 1).all()  # every pixel in exactly one box
    assert boxes == sorted(boxes)  # row-major: the order of the tokens
    assert len(boxes) == (height // patch) * (width // patch)


def test_the_encoder_boxes_are_these_boxes_and_match_its_patches() -> None:
    config = ImageConfig(size=12, patch=4, channels=1)
    encoder = ImageEncoder(config)
    assert encoder.patch_boxes() == patch_boxes(12, 12, 4)
    pixels = np.arange(144, dtype=np.float32).reshape(12, 12) / 144
    patches = encoder.patches(encoder.prepare(pixels[None]))[0].numpy()  # (N, p*p)
    for k, (top, left, bottom, right) in enumerate(encoder.patch_boxes()):
        np.testing.assert_allclose(patches[k], pixels[top:bottom, left:right].ravel(), atol=1e-6)


def test_patch_boxes_refuse_a_patch_that_does_not_divide_the_picture() -> None:
    with pytest.raises(ValueError, match="cannot be cut into 3x3 patches"):
        patch_boxes(8, 9, 3)
    with pytest.raises(ValueError, match="0x0 patches"):
        patch_boxes(8, 8, 0)
