"""Tests for data.image_files: any picture file read safely, or refused with a clear DataError."""

import io

import pytest
from picture_bytes import image_bytes, noise_png, png_header
from PIL import Image

from dense_attention.data.dataset import DataError
from dense_attention.data.image_files import load_image


def case_id(value: object) -> str:
    """Short test ids: strings as they are, other values by type (not bytes dumps)."""
    return value if isinstance(value, str) else type(value).__name__


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
