"""images: demo photos, test-set examples and uploads become images the model reads."""

import io
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dense_attention.data import images
from dense_attention.data.dataset import DataError
from dense_attention.data.image_files import MAX_IMAGE_PIXELS
from dense_attention.storage import checkpoint

DIGITS = Path(__file__).resolve().parent.parent / "assets" / "checkpoints" / "digits"


@pytest.fixture(scope="module")
def digits():
    return checkpoint.load(DIGITS)


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def gradient(width: int = 40, height: int = 30) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    rgb = np.stack([np.tile(x, (height, 1))] * 3, axis=-1)
    rgb[..., 1] = 255 - rgb[..., 1]
    return Image.fromarray(rgb)


# ---------------------------------------------------------------- sources


def test_demo_images_are_bundled_photos():
    demos = images.demo_images()
    sizes = {name: (image.size, image.mode) for name, image in demos.items()}
    assert sizes == {
        "astronaut": ((512, 512), "RGB"),
        "camera": ((512, 512), "L"),
        "coffee": ((600, 400), "RGB"),
        "chelsea": ((451, 300), "RGB"),
        "china": ((640, 427), "RGB"),
        "flower": ((640, 427), "RGB"),
    }
    original = demos["camera"].getpixel((0, 0))
    demos["camera"].putpixel((0, 0), (original + 1) % 256)  # each call gives fresh copies
    assert images.demo_images()["camera"].getpixel((0, 0)) == original


def test_test_examples_come_from_the_test_split_one_per_class(digits):
    from dense_attention.data.builtin import load_dataset

    meta = checkpoint.read_metadata(DIGITS)
    examples = images.test_examples("digits", 12, seed=meta["split_seed"])
    assert [e.label for e in examples[:10]] == list(digits.classes)
    assert all(e.image.size == (8, 8) and e.image.mode == "L" for e in examples)
    test = load_dataset("digits", seed=meta["split_seed"]).test
    first_zero = test.items[np.flatnonzero(test.labels == 0)[0]]
    np.testing.assert_allclose(
        np.asarray(examples[0].image) / 255, first_zero[..., 0], atol=1 / 510
    )


def test_test_examples_of_a_missing_dataset_raise_data_error(monkeypatch, tmp_path):
    monkeypatch.setattr("dense_attention.data.builtin.FASHION_DIR", tmp_path)
    with pytest.raises(DataError, match="Fashion-MNIST not found"):
        images.test_examples("fashion-mnist", 3)
    with pytest.raises(DataError, match="not an image"):
        images.test_examples("bbc-topics", 3, limit=50)


# ---------------------------------------------------------------- uploads


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("JPEG", {"quality": 95}),
        ("WEBP", {"lossless": True}),
        ("BMP", {}),
        ("GIF", {}),
    ],
)
def test_uploads_of_every_accepted_format_open(fmt, options):
    raw = encoded(gradient(), fmt, **options)
    image = images.upload_to_image(raw, f"picture.{fmt.lower()}")
    assert image.size == (40, 30)
    assert image.mode in ("RGB", "L")
    assert image.info[images.ORIGINAL_SIZE] == (40, 30)


def test_an_animated_gif_gives_its_first_frame():
    frames = [Image.new("L", (10, 10), value) for value in (20, 200, 120)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=50)
    image = images.upload_to_image(buffer.getvalue(), "anim.gif")
    assert np.asarray(image.convert("L")).mean() == pytest.approx(20, abs=2)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "notes.txt is empty"),
        (b"just some text, not a picture\n" * 10, "notes.txt: not an image"),
        (b"%PDF-1.4 fake", "notes.txt: not an image"),
    ],
)
def test_non_images_raise_a_clear_data_error(raw, message):
    with pytest.raises(DataError, match=message):
        images.upload_to_image(raw, "notes.txt")


def test_a_truncated_png_raises_a_clear_data_error():
    raw = encoded(gradient(200, 200), "PNG")
    with pytest.raises(DataError, match="cut.png: corrupt or truncated image"):
        images.upload_to_image(raw[: len(raw) // 2], "cut.png")


def test_an_oversized_file_is_refused_before_it_is_read():
    raw = b"\x89PNG" + bytes(images.MAX_UPLOAD_BYTES)
    with pytest.raises(DataError, match="big.png is 20.0 MB; the limit is 20 MB"):
        images.upload_to_image(raw, "big.png")


def test_more_than_50_megapixels_is_refused_before_decoding():
    raw = encoded(Image.new("1", (10_000, 6_000)), "PNG")  # 60 MP, 20 kB
    assert MAX_IMAGE_PIXELS < 10_000 * 6_000
    start = time.perf_counter()
    with pytest.raises(DataError, match="huge.png: image too large"):
        images.upload_to_image(raw, "huge.png")
    assert time.perf_counter() - start < 1.0


def test_a_1x1_image_is_accepted_and_enlarged(digits):
    image = images.upload_to_image(encoded(Image.new("L", (1, 1), 255), "PNG"), "dot.png")
    assert image.size == (1, 1)
    pixels = images.resized_input(digits, image)
    assert pixels.shape == (8, 8, 1)
    np.testing.assert_allclose(pixels, 1.0)
    assert any("enlarged" in note for note in images.input_notes(image, digits))
    assert np.isfinite(digits.explain(image).trace.probs.numpy()).all()


@pytest.mark.parametrize(("mode", "fmt"), [("L", "PNG"), ("RGB", "JPEG")])
def test_a_40_megapixel_image_is_downscaled_quickly_not_refused(mode, fmt, digits):
    colour = 90 if mode == "L" else (200, 40, 30)
    raw = encoded(Image.new(mode, (8000, 5000), colour), fmt)
    start = time.perf_counter()
    image = images.upload_to_image(raw, "big")
    elapsed = time.perf_counter() - start
    assert max(image.size) == images.MAX_SIDE
    assert image.size == (1024, 640)
    assert image.info[images.ORIGINAL_SIZE] == (8000, 5000)
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    notes = images.input_notes(image, digits)
    assert "8000×5000" in notes[0] and "40.0 megapixels" in notes[0]
    expected = colour if mode == "L" else round(0.299 * 200 + 0.587 * 40 + 0.114 * 30)
    centre = images.resized_input(digits, image)[4, 4, 0] * 255
    assert centre == pytest.approx(expected, abs=2)


def test_resized_input_is_what_the_encoder_prepares(digits):
    image = gradient(64, 48)
    pixels = images.resized_input(digits, image)
    assert pixels.shape == (8, 8, 1) and pixels.dtype == np.float32
    prepared = digits.encoder.prepare([image])[0]
    np.testing.assert_array_equal(torch.from_numpy(pixels).permute(2, 0, 1), prepared)
