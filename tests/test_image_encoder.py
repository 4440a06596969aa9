"""Tests for inputs.image_encoder: pictures -> pixels, patches, x and mask."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

from dense_attention.core.config import ConfigError
from dense_attention.inputs.encoding import EncodingError
from dense_attention.inputs.image_encoder import ImageConfig, ImageEncoder

# --------------------------------------------------------------------------------------------
# Images: preparing pixels

RNG = np.random.default_rng(0)
PHOTO = Image.fromarray(RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8))


def _in_mode(mode: str) -> Image.Image:
    if mode == "I;16":
        return Image.fromarray(np.asarray(PHOTO.convert("L")).astype(np.uint16) * 257)
    return PHOTO.convert(mode)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(
    "mode", ["RGB", "RGBA", "L", "LA", "P", "PA", "I;16", "I", "F", "1", "CMYK", "YCbCr", "LAB"]
)
def test_every_pil_mode_prepares(mode: str, channels: int) -> None:
    image = _in_mode(mode)
    assert image.mode == mode
    pixels = ImageEncoder(ImageConfig(channels=channels)).prepare([image])
    assert pixels.shape == (1, channels, 8, 8) and pixels.dtype == torch.float32
    assert torch.isfinite(pixels).all() and pixels.min() >= 0 and pixels.max() <= 1


def test_high_bit_depth_is_scaled_like_8_bit() -> None:
    """The same gray levels in 16 bits (x 257) or in 32-bit integers give the same pixels:
    pictures.decode_picture turns both into the 8-bit picture before resizing."""
    encoder = ImageEncoder(ImageConfig())
    gray = encoder.prepare(PHOTO.convert("L"))
    assert torch.equal(encoder.prepare(_in_mode("I;16")), gray)
    assert torch.equal(encoder.prepare(PHOTO.convert("I")), gray)


def test_transparency_is_composited_over_white() -> None:
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert (ImageEncoder(ImageConfig(size=4, channels=3)).prepare(clear) == 1).all()


@pytest.mark.parametrize("shape", [(1, 1), (10, 4000), (4000, 10), (3000, 3000)])
def test_extreme_sizes(shape: tuple[int, int]) -> None:
    image = Image.new("L", shape[::-1], 30)  # PIL sizes are (width, height)
    start = time.perf_counter()
    pixels = ImageEncoder(ImageConfig(size=8, patch=2)).prepare(image)
    assert time.perf_counter() - start < 2.0
    assert pixels.shape == (1, 1, 8, 8)
    torch.testing.assert_close(pixels, torch.full_like(pixels, 30 / 255))


def test_aspect_ratio_is_kept_and_padded_with_the_background() -> None:
    strip = Image.new("L", (4000, 10), 255)
    strip.paste(0, (0, 0, 2000, 10))  # left half black
    pixels = ImageEncoder(ImageConfig(size=8)).prepare(strip)[0, 0]
    row = (8 - 1) // 2  # the strip becomes one centred row of 8 x 1 pixels
    assert pixels[row, :4].max() < 0.1 and pixels[row, 4:].min() > 0.9
    others = torch.cat([pixels[:row], pixels[row + 1 :]])
    assert ((others - others[0, 0]).abs() < 1e-6).all()  # all padding, one colour


def _exif_rotated_jpeg() -> Image.Image:
    stored = Image.new("L", (16, 8), 255)  # wide: left half black, right half white
    stored.paste(0, (0, 0, 8, 8))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: display rotated 90 degrees clockwise
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    buffer.seek(0)
    return Image.open(buffer)


def test_exif_orientation_is_applied() -> None:
    image = _exif_rotated_jpeg()
    assert image.size == (16, 8)  # as stored
    pixels = ImageEncoder(ImageConfig(size=8)).prepare(image)[0, 0]
    # Shown tall: the black left half is now on top, and the image is 4 wide by 8 tall.
    centre = pixels[:, 2:6]
    assert centre[:4].mean() < 0.1 and centre[4:].mean() > 0.9


def test_numpy_uint8_and_float_inputs() -> None:
    encoder = ImageEncoder(ImageConfig(size=8, channels=1))
    digits = RNG.integers(0, 256, (5, 8, 8), dtype=np.uint8)
    exact = torch.from_numpy(digits).float().div(255).unsqueeze(1)
    torch.testing.assert_close(encoder.prepare(digits), exact)  # 8x8 at size 8: untouched
    torch.testing.assert_close(encoder.prepare(digits / 255.0), exact)
    torch.testing.assert_close(encoder.prepare(digits[..., None]), exact)
    torch.testing.assert_close(encoder.prepare(list(digits / 255.0)), exact)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("shape", [(12, 16, 3), (30, 7, 3), (3, 5, 3), (28, 28, 1), (9, 9, 4)])
def test_numpy_batches_resize_as_pil_does(shape: tuple[int, int, int], channels: int) -> None:
    encoder = ImageEncoder(ImageConfig(size=8, channels=channels))
    batch = RNG.integers(0, 256, (3, *shape), dtype=np.uint8)
    with_pil = encoder.prepare(
        [Image.fromarray(a.squeeze(-1) if a.shape[-1] == 1 else a) for a in batch]
    )
    one_level = 1.3 / 255  # PIL rounds 8-bit results (and its luma), the batch path does not
    torch.testing.assert_close(encoder.prepare(batch), with_pil, atol=one_level, rtol=0)
    floats = batch / 255.0
    torch.testing.assert_close(encoder.prepare(floats), encoder.prepare(list(floats)))


def test_a_large_numpy_batch_is_fast() -> None:
    fashion_like = RNG.integers(0, 256, (5000, 28, 28, 1), dtype=np.uint8)
    start = time.perf_counter()
    pixels = ImageEncoder(ImageConfig(size=8)).prepare(fashion_like)
    assert time.perf_counter() - start < 3.0  # image by image: ~1 s per 5000 on this CPU
    assert pixels.shape == (5000, 1, 8, 8)


def test_bad_image_inputs_raise() -> None:
    encoder = ImageEncoder(ImageConfig())
    for bad in [
        np.full((1, 8, 8), 16.0),
        np.zeros((1, 8, 8), np.int64),
        np.zeros((1, 8, 8, 5)),
        [],
    ]:
        with pytest.raises(EncodingError):
            encoder.prepare(bad)
    with pytest.raises(EncodingError):
        encoder(torch.zeros(1, 3, 8, 8))  # config says 1 channel
    with pytest.raises(ConfigError):
        ImageConfig(size=8, patch=3)


# --------------------------------------------------------------------------------------------
# Images: patches, positions, boxes


@pytest.mark.parametrize("channels,size,patch", [(1, 8, 2), (3, 12, 4), (3, 6, 1), (1, 8, 8)])
def test_patches_reconstruct_the_image(channels: int, size: int, patch: int) -> None:
    encoder = ImageEncoder(ImageConfig(size=size, channels=channels, patch=patch))
    pixels = torch.rand(2, channels, size, size)
    patches = encoder.patches(pixels)
    assert patches.shape == (2, encoder.config.num_patches, patch * patch * channels)
    rebuilt = torch.zeros_like(pixels)
    for k, (top, left, bottom, right) in enumerate(encoder.patch_boxes()):
        # each patch is flattened in (p, p, C) order
        rebuilt[:, :, top:bottom, left:right] = (
            patches[:, k].reshape(2, patch, patch, channels).permute(0, 3, 1, 2)
        )
    assert torch.equal(rebuilt, pixels)
    assert torch.equal(encoder.unpatch(patches), pixels)


def test_patch_order_is_row_major() -> None:
    encoder = ImageEncoder(ImageConfig(size=4, patch=2))
    pixels = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert encoder.patches(pixels)[0].tolist() == [
        [0, 1, 4, 5],
        [2, 3, 6, 7],
        [8, 9, 12, 13],
        [10, 11, 14, 15],
    ]
    assert encoder.patch_labels() == ["r0c0", "r0c1", "r1c0", "r1c1"]


def test_image_x_is_patches_then_positions() -> None:
    config = ImageConfig(size=8, channels=3, patch=2, pos_dim=5)
    encoder = ImageEncoder(config)
    images = [PHOTO, PHOTO.convert("L"), _exif_rotated_jpeg()]
    x, mask = encoder.encode(images)
    assert config.input_dim == 2 * 2 * 3 + 5 == x.shape[-1]
    assert x.shape == (3, 16, config.input_dim) and mask.shape == (3, 16) and bool(mask.all())
    torch.testing.assert_close(x[..., :12], encoder.patches(encoder.prepare(images)))
    torch.testing.assert_close(x[1, :, 12:], encoder.pos.weight)
    assert list(encoder.state_dict()) == ["pos.weight"]
