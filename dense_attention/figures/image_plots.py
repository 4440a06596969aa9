"""Figures of a picture: the model's input with its patch grid, and one weight per patch (α, a
row of the attention matrix) laid over it.

Pixels are (H, W, C) floats in [0, 1], C = 1 or 3, as images.resized_input gives them. Pixel
(row r, column c) is centred at x = c, y = r; a patch box is (top, left, bottom, right) with
bottom and right exclusive, as inputs.pictures.patch_boxes gives them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..core.i18n import tr
from ..core.trace import ArrayLike, to_numpy
from ..inputs.pictures import patch_boxes
from .heatmaps import HIGHLIGHT, check_labels, escape_label

# Low weights almost transparent (the picture shows through), high weights opaque red.
OVERLAY_SCALE = [
    [0.0, "rgba(255, 255, 178, 0.0)"],
    [0.5, "rgba(253, 141, 60, 0.5)"],
    [1.0, "rgba(189, 0, 38, 0.85)"],
]
IMAGE_PX = 380  # height of an image figure
PATCH_TEXT_MAX = 64  # write labels or values inside the patches up to this many patches

Box = tuple[int, int, int, int]


def _pixels(pixels: ArrayLike) -> np.ndarray:
    pixels = to_numpy(pixels)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3) or 0 in pixels.shape:
        raise ValueError(f"pixels must be (H, W), (H, W, 1) or (H, W, 3), got {pixels.shape}")
    if not np.isfinite(pixels).all():
        raise ValueError("pixels must be finite")
    return pixels


def _rgb_image(pixels: np.ndarray, hover: list[list[str]]) -> go.Image:
    """go.Image needs RGB: gray is repeated to three channels."""
    rgb = np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    rgb = np.repeat(rgb, 3, axis=2) if rgb.shape[2] == 1 else rgb
    return go.Image(
        z=rgb.tolist(), hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", name="input"
    )


def _box_index(boxes: Sequence[Box], height: int, width: int) -> np.ndarray:
    """(H, W) int: the patch each pixel belongs to, -1 where none."""
    index = np.full((height, width), -1, dtype=np.int64)
    for k, (top, left, bottom, right) in enumerate(boxes):
        if not (0 <= top < bottom <= height and 0 <= left < right <= width):
            raise ValueError(f"patch box {k} {(top, left, bottom, right)} is outside the image")
        index[top:bottom, left:right] = k
    return index


def patch_map(weights: ArrayLike, boxes: Sequence[Box], height: int, width: int) -> np.ndarray:
    """Per-patch weights (N,) painted on their boxes: (H, W), NaN outside every box."""
    weights = to_numpy(weights).reshape(-1)
    if len(boxes) != weights.shape[0]:
        raise ValueError(f"{weights.shape[0]} weights for {len(boxes)} patch boxes")
    index = _box_index(boxes, height, width)
    return np.where(index >= 0, weights[index], np.nan)


def _image_layout(fig: go.Figure, title: str, height: int, width: int) -> go.Figure:
    fig.update_layout(title=dict(text=title), height=IMAGE_PX, margin=dict(l=10, r=10, t=50, b=10))
    fig.update_xaxes(visible=False, range=[-0.5, width - 0.5], constrain="domain")
    fig.update_yaxes(
        visible=False, range=[height - 0.5, -0.5], scaleanchor="x", constrain="domain"
    )  # reversed: row 0 on top, square pixels
    return fig


def _grid_lines(boxes: Sequence[Box], color: str, width: int = 1) -> list[dict]:
    return [
        dict(
            type="rect",
            x0=left - 0.5,
            x1=right - 0.5,
            y0=top - 0.5,
            y1=bottom - 0.5,
            line=dict(color=color, width=width),
            layer="above",
        )  # fmt: skip
        for top, left, bottom, right in boxes
    ]


def _patch_texts(boxes: Sequence[Box], texts: Sequence[str]) -> list[dict]:
    """A small label at the centre of each patch (none for grids over PATCH_TEXT_MAX)."""
    if len(boxes) > PATCH_TEXT_MAX:
        return []
    return [
        dict(
            x=(left + right - 1) / 2,
            y=(top + bottom - 1) / 2,
            text=text,
            showarrow=False,
            font=dict(color="white", size=11),
            bgcolor="rgba(0, 0, 0, 0.45)",
        )  # fmt: skip
        for (top, left, bottom, right), text in zip(boxes, texts, strict=True)
    ]


def image_with_grid(
    pixels: ArrayLike,
    patch: int,
    labels: Sequence[str] | None = None,
    title: str = "What the model sees: the resized input, cut into patches",
) -> go.Figure:
    """The model's input image, pixel for pixel (drawn large, no smoothing), with the patch
    grid and each patch's label; hovering a pixel names its patch (token)."""
    pixels = _pixels(pixels)
    height, width = pixels.shape[:2]
    boxes = patch_boxes(height, width, patch)
    labels = check_labels("labels", labels or [f"r{r}c{c}" for r, c in _grid(boxes)], len(boxes))
    index = _box_index(boxes, height, width)
    hover = [
        [
            tr(
                "patch {value}: {escape_label}<br>pixel ({r}, {c})<br>value {pixel_text}",
                value=index[r, c] + 1,
                escape_label=escape_label(labels[index[r, c]]),
                r=r,
                c=c,
                pixel_text=_pixel_text(pixels[r, c]),
            )
            for c in range(width)
        ]
        for r in range(height)
    ]
    fig = go.Figure(_rgb_image(pixels, hover))
    # Shapes and annotations in one update: adding them one by one costs O(N^2) in plotly.
    fig.update_layout(
        shapes=_grid_lines(boxes, HIGHLIGHT),
        annotations=_patch_texts(boxes, [escape_label(label) for label in labels]),
    )
    return _image_layout(fig, title, height, width)


def _grid(boxes: Sequence[Box]) -> list[tuple[int, int]]:
    """(row, col) of each box in the patch grid."""
    tops = sorted({b[0] for b in boxes})
    lefts = sorted({b[1] for b in boxes})
    return [(tops.index(b[0]), lefts.index(b[1])) for b in boxes]


def _pixel_text(value: np.ndarray) -> str:
    return ", ".join(f"{v:.2f}" for v in value)


def patch_overlay(
    pixels: ArrayLike,
    weights: ArrayLike,
    boxes: Sequence[Box],
    title: str,
    labels: Sequence[str] | None = None,
    name: str = "weight",
    outline: int | None = None,
) -> go.Figure:
    """The image under a semi-transparent heat map of one weight per patch (N,), e.g. the
    pooling weights α or one row of the attention matrix, with a colour bar from 0 to the
    largest weight. `outline` (0-based patch) draws a box around one patch (the query)."""
    pixels = _pixels(pixels)
    height, width = pixels.shape[:2]
    weights = to_numpy(weights).reshape(-1)
    if not np.isfinite(weights).all():
        raise ValueError("weights must be finite")
    z = patch_map(weights, boxes, height, width)
    labels = check_labels("labels", labels or [str(k + 1) for k in range(len(boxes))], len(boxes))
    index = _box_index(boxes, height, width)
    hover = [
        [
            tr(
                "patch {value}: {escape_label}<br>{name} = {weights:.4f}",
                value=k + 1,
                escape_label=escape_label(labels[k]),
                name=name,
                weights=weights[k],
            )
            if k >= 0
            else ""
            for k in row
        ]
        for row in index
    ]
    top = float(weights.max(initial=0.0))
    heat = go.Heatmap(
        z=[[None if np.isnan(v) else float(v) for v in row] for row in z],
        x=list(range(width)),
        y=list(range(height)),
        zmin=0.0,
        zmax=top if top > 0 else 1.0,
        colorscale=OVERLAY_SCALE,
        colorbar=dict(title=dict(text=name), thickness=14),
        text=hover,
        hovertemplate="%{text}<extra></extra>",
        name=name,
    )
    fig = go.Figure([_rgb_image(pixels, hover), heat])
    shapes = _grid_lines(boxes, "rgba(255, 255, 255, 0.5)")
    if outline is not None:
        shapes += _grid_lines([boxes[outline]], HIGHLIGHT, width=4)
    fig.update_layout(shapes=shapes, annotations=_patch_texts(boxes, [f"{w:.2f}" for w in weights]))
    return _image_layout(fig, title, height, width)


def patch_attention_row(
    pixels: ArrayLike, attn: ArrayLike, boxes: Sequence[Box], i: int, labels: Sequence[str]
) -> go.Figure:
    """Row i of the (N, N) attention matrix on the image: where query patch i (outlined) looks."""
    attn = to_numpy(attn)
    if attn.ndim != 2 or attn.shape[0] != attn.shape[1]:
        raise ValueError(f"attn must be an (N, N) matrix, got shape {attn.shape}")
    if not 0 <= i < attn.shape[0]:
        raise ValueError(f"patch {i} is outside 0..{attn.shape[0] - 1}")
    label = escape_label(labels[i])
    title = tr(
        "Attention row a<sub>{value}j</sub>: where patch {value} ({label}) looks",
        value=i + 1,
        label=label,
    )
    return patch_overlay(
        pixels,
        attn[i],
        boxes,
        title,
        labels,
        name=f"a<sub>{i + 1}j</sub>",
        outline=i,
    )
