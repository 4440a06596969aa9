"""images: demo photos, test-set examples and uploads become images; overlays hold the weights."""

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dense_attention.data import images
from dense_attention.data.dataset import DataError
from dense_attention.data.image_files import MAX_IMAGE_PIXELS
from dense_attention.figures import plots
from dense_attention.inputs.pictures import patch_boxes
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


def figure_data(fig) -> list[dict]:
    return json.loads(fig.to_json())["data"]


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


# ---------------------------------------------------------------- figures


def expected_map(weights: np.ndarray, boxes, size: int) -> np.ndarray:
    """Independent of plots.patch_map: loop over boxes, then over their pixels."""
    out = np.full((size, size), np.nan)
    for k, (top, left, bottom, right) in enumerate(boxes):
        for r in range(top, bottom):
            for c in range(left, right):
                out[r, c] = weights[k]
    return out


def test_alpha_overlay_paints_each_weight_on_its_patch(digits):
    image = images.demo_images()["astronaut"]
    explanation = digits.explain(image)
    pixels = images.resized_input(digits, image)
    alpha = explanation.trace.alpha[0].numpy()
    boxes = digits.encoder.patch_boxes()
    fig = plots.patch_overlay(pixels, alpha, boxes, "α", explanation.tokens, name="α")
    base, heat = figure_data(fig)
    assert base["type"] == "image" and heat["type"] == "heatmap"
    np.testing.assert_allclose(base["z"], np.round(np.repeat(pixels, 3, axis=2) * 255))
    np.testing.assert_allclose(heat["z"], expected_map(alpha, boxes, 8), atol=1e-7)
    assert heat["zmin"] == 0 and heat["zmax"] == pytest.approx(alpha.max())
    top = int(alpha.argmax())
    r, c = boxes[top][0], boxes[top][1]
    assert f"patch {top + 1}: {explanation.tokens[top]}" in heat["text"][r][c]
    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]  # row 0 on top


def test_attention_row_overlay_is_row_i_with_the_query_outlined(digits):
    image = images.test_examples("digits", 3)[2].image
    explanation = digits.explain(image)
    pixels = images.resized_input(digits, image)
    attn = explanation.trace.attn[0].numpy()
    boxes = digits.encoder.patch_boxes()
    fig = plots.patch_attention_row(pixels, attn, boxes, 2, explanation.tokens)
    heat = figure_data(fig)[1]
    np.testing.assert_allclose(heat["z"], expected_map(attn[2], boxes, 8), atol=1e-7)
    outline = [s for s in fig.layout.shapes if s.line.width == 4]
    assert len(outline) == 1
    assert (outline[0].x0, outline[0].y0) == (boxes[2][1] - 0.5, boxes[2][0] - 0.5)
    assert "patch 3 (r1c0)" in fig.layout.title.text


def test_image_with_grid_shows_the_pixels_the_grid_and_the_patch_labels(digits):
    image = images.test_examples("digits", 1)[0].image
    pixels = images.resized_input(digits, image)
    fig = plots.image_with_grid(pixels, 4, digits.encoder.patch_labels())
    (base,) = figure_data(fig)
    assert base["type"] == "image"
    assert np.array(base["z"]).shape == (8, 8, 3)  # gray repeated to RGB for go.Image
    np.testing.assert_allclose(np.array(base["z"])[..., 0], np.asarray(image), atol=1)
    assert base["hovertext"][5][2].startswith("patch 3: r1c0")
    grid = [(s.x0, s.y0, s.x1, s.y1) for s in fig.layout.shapes]
    assert grid == [(-0.5, -0.5, 3.5, 3.5), (3.5, -0.5, 7.5, 3.5), (-0.5, 3.5, 3.5, 7.5),
                    (3.5, 3.5, 7.5, 7.5)]  # fmt: skip
    assert [a.text for a in fig.layout.annotations] == ["r0c0", "r0c1", "r1c0", "r1c1"]


def test_figures_refuse_bad_shapes():
    with pytest.raises(ValueError, match="pixels must be"):
        plots.image_with_grid(np.zeros((8, 8, 2)), 4)
    with pytest.raises(ValueError, match="cannot be cut"):
        plots.image_with_grid(np.zeros((8, 8)), 3)
    with pytest.raises(ValueError, match="3 weights for 4 patch boxes"):
        plots.patch_overlay(np.zeros((8, 8)), [0.2, 0.3, 0.5], patch_boxes(8, 8, 4), "t")
    with pytest.raises(ValueError, match="outside the image"):
        plots.patch_overlay(np.zeros((4, 4)), [1.0], [(0, 0, 8, 8)], "t")
    with pytest.raises(ValueError, match="finite"):
        plots.patch_overlay(np.zeros((4, 4)), [np.nan], [(0, 0, 4, 4)], "t")
