"""image_plots: the picture, its patch grid and per-patch weights, each on its own patch."""

import json
from pathlib import Path

import numpy as np
import pytest

from dense_attention.data import images
from dense_attention.figures import image_plots
from dense_attention.inputs.pictures import patch_boxes
from dense_attention.storage import checkpoint

DIGITS = Path(__file__).resolve().parent.parent / "assets" / "checkpoints" / "digits"


@pytest.fixture(scope="module")
def digits():
    return checkpoint.load(DIGITS)


def figure_data(fig) -> list[dict]:
    return json.loads(fig.to_json())["data"]


def expected_map(weights: np.ndarray, boxes, size: int) -> np.ndarray:
    """Independent of image_plots.patch_map: loop over boxes, then over their pixels."""
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
    fig = image_plots.patch_overlay(pixels, alpha, boxes, "α", explanation.tokens, name="α")
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
    fig = image_plots.patch_attention_row(pixels, attn, boxes, 2, explanation.tokens)
    heat = figure_data(fig)[1]
    np.testing.assert_allclose(heat["z"], expected_map(attn[2], boxes, 8), atol=1e-7)
    outline = [s for s in fig.layout.shapes if s.line.width == 4]
    assert len(outline) == 1
    assert (outline[0].x0, outline[0].y0) == (boxes[2][1] - 0.5, boxes[2][0] - 0.5)
    assert "patch 3 (r1c0)" in fig.layout.title.text


def test_image_with_grid_shows_the_pixels_the_grid_and_the_patch_labels(digits):
    image = images.test_examples("digits", 1)[0].image
    pixels = images.resized_input(digits, image)
    fig = image_plots.image_with_grid(pixels, 4, digits.encoder.patch_labels())
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
        image_plots.image_with_grid(np.zeros((8, 8, 2)), 4)
    with pytest.raises(ValueError, match="cannot be cut"):
        image_plots.image_with_grid(np.zeros((8, 8)), 3)
    with pytest.raises(ValueError, match="3 weights for 4 patch boxes"):
        image_plots.patch_overlay(np.zeros((8, 8)), [0.2, 0.3, 0.5], patch_boxes(8, 8, 4), "t")
    with pytest.raises(ValueError, match="outside the image"):
        image_plots.patch_overlay(np.zeros((4, 4)), [1.0], [(0, 0, 8, 8)], "t")
    with pytest.raises(ValueError, match="finite"):
        image_plots.patch_overlay(np.zeros((4, 4)), [np.nan], [(0, 0, 4, 4)], "t")
