"""Pictures -> x: ImageConfig, the patch sizes offered, resizing to a square and ImageEncoder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..core.config import ConfigError, from_dict
from ..core.i18n import tr
from .encoding import MAX_IMAGE_SIZE, MAX_TOKENS, EncodingError, check_int
from .pictures import Box, decode_picture, patch_boxes

MAX_PATCH_TOKENS = 256  # the most patches an image may be cut into where a user picks the patch


def patch_choices(size: int) -> list[int]:
    """Patch sides p that tile a size x size image into at most MAX_PATCH_TOKENS patches."""
    return [p for p in range(1, size + 1) if size % p == 0 and (size // p) ** 2 <= MAX_PATCH_TOKENS]


def suggested_patch(size: int) -> int:
    """The patch side offered first: 2 for 8x8 digits, 7 for 28x28 Fashion-MNIST, else the
    middle of patch_choices."""
    choices = patch_choices(size)
    return {8: 2, 28: 7}.get(size, choices[len(choices) // 2])


@dataclass(frozen=True)
class ImageConfig:
    """How an image becomes x: resized square, cut into p x p patches, plus positions."""

    size: int = 8  # images are resized to size x size pixels
    channels: int = 1  # 1 (grayscale) or 3 (RGB)
    patch: int = 2  # p: patches are p x p pixels; size % patch == 0
    pos_dim: int = 16  # learned positional embedding width, concatenated (0 = no positions)

    def __post_init__(self) -> None:
        check_int("size", self.size, 1)
        check_int("patch", self.patch, 1)
        check_int("pos_dim", self.pos_dim, 0)
        if self.channels not in (1, 3) or isinstance(self.channels, bool):
            raise ConfigError(
                tr("channels must be 1 or 3, got {channels!r}", channels=self.channels)
            )
        if self.size % self.patch:
            raise ConfigError(
                tr(
                    "size={size} is not a multiple of patch={patch}",
                    size=self.size,
                    patch=self.patch,
                )
            )
        if self.size > MAX_IMAGE_SIZE:
            raise ConfigError(
                tr(
                    "size={size} is over the limit of {MAX_IMAGE_SIZE} pixels",
                    size=self.size,
                    MAX_IMAGE_SIZE=MAX_IMAGE_SIZE,
                )
            )
        if self.num_patches > MAX_TOKENS:
            raise ConfigError(
                tr(
                    "size={size} in patches of {patch} makes {num_patches} patches; the "
                    "limit is {MAX_TOKENS} (take a larger patch)",
                    size=self.size,
                    patch=self.patch,
                    num_patches=self.num_patches,
                    MAX_TOKENS=MAX_TOKENS,
                )
            )

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, cols) of the patch grid."""
        return self.size // self.patch, self.size // self.patch

    @property
    def num_patches(self) -> int:
        """N, the number of tokens: rows * cols."""
        return self.grid[0] * self.grid[1]

    @property
    def patch_dim(self) -> int:
        """Width of one flattened patch: patch * patch * channels."""
        return self.patch * self.patch * self.channels

    @property
    def input_dim(self) -> int:
        """D, the feature width of x: patch_dim + pos_dim."""
        return self.patch_dim + self.pos_dim

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageConfig:
        return from_dict(cls, data)


def _fit_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) with the long side scaled to `size`, the short side at least 1 pixel."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _box_weights(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of PIL's BOX filter (Pillow's Resample.c): each output pixel is
    the mean of the input pixels whose centres fall in its span (the nearest one when
    enlarging). Two products with these resize a whole batch as PIL would, image by image."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    centre = (np.arange(n_out) + 0.5) * scale
    lo = np.clip((centre - 0.5 * stretch + 0.5).astype(int), 0, n_in)
    hi = np.clip((centre + 0.5 * stretch + 0.5).astype(int), 0, n_in)
    j = np.arange(n_in)
    x = (j[None, :] - centre[:, None] + 0.5) / stretch
    inside = (j >= lo[:, None]) & (j < hi[:, None]) & (x > -0.5) & (x <= 0.5)
    return torch.from_numpy(inside / inside.sum(axis=1, keepdims=True)).float()


def _box_resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """(n, C, H, W) -> (n, C, h, w) with the long side `size`, aspect ratio kept (box filter)."""
    height, width = x.shape[-2:]
    h, w = _fit_size(height, width, size)
    if (h, w) == (height, width):
        return x
    return torch.einsum("ih,nchw,jw->ncij", _box_weights(height, h), x, _box_weights(width, w))


def _pad_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """(n, C, h, w) with max(h, w) == size -> (n, C, size, size), centred on the median colour
    of each image's border (its background, whether paper-white or screen-black)."""
    n, c, h, w = x.shape
    if h == w == size:
        return x.clamp(0.0, 1.0)
    edges = [x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]]
    background = torch.cat(edges, dim=-1).median(dim=-1).values  # (n, C)
    out = background[..., None, None].repeat(1, 1, size, size)
    top, left = (size - h) // 2, (size - w) // 2
    out[..., top : top + h, left : left + w] = x
    return out.clamp(0.0, 1.0)


def _pil_to_fitted(img: Image.Image, channels: int, size: int) -> torch.Tensor:
    """Any PIL picture -> (1, channels, h, w) in [0, 1], long side `size`: decoded by
    pictures.decode_picture (upright, 8-bit L or RGB, transparency over white), then resized by
    PIL itself (fast)."""
    img = decode_picture(img).convert("L" if channels == 1 else "RGB")
    h, w = _fit_size(img.height, img.width, size)
    arr = np.asarray(img.resize((w, h), Image.Resampling.BOX), dtype=np.float32) / 255.0
    return torch.from_numpy(arr.reshape(h, w, channels)).permute(2, 0, 1)[None]


def _array_to_fitted(arr: np.ndarray, channels: int, size: int) -> torch.Tensor:
    """(n, H, W) or (n, H, W, 1|3|4) uint8, or float in [0, 1] -> (n, channels, h, w)."""
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4) or 0 in arr.shape[1:]:
        raise EncodingError(
            tr("images must be (n, H, W) or (n, H, W, 1|3|4), got {shape}", shape=arr.shape)
        )
    unit = _to_channels(_checked_unit(arr), channels)  # (n, H, W, channels)
    return _box_resize(torch.from_numpy(unit).permute(0, 3, 1, 2), size)


def _checked_unit(arr: np.ndarray) -> np.ndarray:
    """uint8, or float/bool in [0, 1] -> float32 in [0, 1]."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.floating):
        raise EncodingError(
            tr("image arrays must be uint8 or float in [0, 1], got {dtype}", dtype=arr.dtype)
        )
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise EncodingError(
            tr("float image values must be finite and in [0, 1] (divide by the max?)")
        )
    return arr


def _to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """(..., 1|3|4) in [0, 1] -> (..., channels): alpha over white, then luma or repeat."""
    if arr.shape[-1] == 4:
        arr = arr[..., :3] * arr[..., 3:] + (1.0 - arr[..., 3:])
    if arr.shape[-1] == channels:
        return arr
    if channels == 1:  # ITU-R 601 luma, as PIL's convert("L")
        return arr @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
    return np.repeat(arr, channels, axis=-1)


def _as_items(images: Any) -> list:
    if isinstance(images, (Image.Image, np.ndarray)):
        return [images]
    if isinstance(images, Sequence) and not isinstance(images, (str, bytes)):
        return list(images)
    raise EncodingError(
        tr("expected PIL images or a numpy array, got {name__}", name__=type(images).__name__)
    )


class ImageEncoder(nn.Module):
    """Image -> x (B, N, D): x_i = [flattened patch_i ; positional embedding_i], D = input_dim.

    Patches are taken row-major over the (rows, cols) grid; each is flattened in (p, p, C)
    order (pixel row, pixel column, channel; channel fastest), as einops'
    `b c (h p1) (w p2) -> b (h w) (p1 p2 c)`.
    """

    def __init__(self, config: ImageConfig):
        super().__init__()
        self.config = config
        self.pos = nn.Embedding(config.num_patches, config.pos_dim)

    @property
    def device(self) -> torch.device:
        return self.pos.weight.device

    def prepare(self, images: Any) -> torch.Tensor:
        """PIL image(s) of any mode, or a numpy array (n, H, W[, C]) uint8 or float in [0, 1]
        -> pixels (B, C, size, size) float32 in [0, 1] on CPU.

        EXIF orientation is applied, transparency composited over white, RGB turned to gray
        (luma) or gray repeated to RGB as config.channels asks. The whole image is kept: its
        long side is scaled to `size` with a box filter (area average; whole pixels when
        enlarging) and the short side padded evenly with the median colour of its border, so
        the aspect ratio holds and a 4000 x 10 strip becomes one centred row of pixels.
        A numpy batch is resized at once (two matrix products reproducing PIL's box filter):
        the same pixels as resizing image by image, up to the rounding PIL does for 8-bit
        images (under one grey level).
        """
        channels, size = self.config.channels, self.config.size
        if isinstance(images, np.ndarray) and images.ndim in (3, 4):  # a batch: all at once
            if len(images) == 0:
                raise EncodingError(tr("no images given"))
            return _pad_square(_array_to_fitted(images, channels, size), size)
        items = _as_items(images)
        if not items:
            raise EncodingError(tr("no images given"))
        return torch.cat([_pad_square(self._fit(item, i), size) for i, item in enumerate(items)])

    def _fit(self, item: Any, index: int) -> torch.Tensor:
        channels, size = self.config.channels, self.config.size
        if isinstance(item, Image.Image):
            try:
                return _pil_to_fitted(item, channels, size)
            except (OSError, ValueError) as err:
                raise EncodingError(
                    tr("image #{index} cannot be read: {err}", index=index, err=err)
                ) from err
        if isinstance(item, np.ndarray) and item.ndim in (2, 3):
            return _array_to_fitted(item[None], channels, size)
        kind = f"{item.ndim}-d array" if isinstance(item, np.ndarray) else type(item).__name__
        raise EncodingError(
            tr(
                "image #{index} is a {kind}, not a PIL image or an (H, W[, C]) array",
                index=index,
                kind=kind,
            )
        )

    def patches(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels (B, C, size, size) -> flattened patches (B, N, p*p*C), row-major grid order,
        each patch in (p, p, C) order."""
        self._check_pixels(pixels)
        b, c, _, _ = pixels.shape
        (rows, cols), p = self.config.grid, self.config.patch
        grid = pixels.reshape(b, c, rows, p, cols, p)  # (B, C, rows, p, cols, p)
        return grid.permute(0, 2, 4, 3, 5, 1).reshape(b, rows * cols, p * p * c)

    def unpatch(self, patches: torch.Tensor) -> torch.Tensor:
        """The inverse of `patches`: (B, N, p*p*C) -> pixels (B, C, size, size)."""
        b = patches.shape[0]
        (rows, cols), p, c = self.config.grid, self.config.patch, self.config.channels
        grid = patches.reshape(b, rows, cols, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return grid.reshape(b, c, rows * p, cols * p)

    def _check_pixels(self, pixels: torch.Tensor) -> None:
        cfg = self.config
        want = (cfg.channels, cfg.size, cfg.size)
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != want:
            raise EncodingError(
                tr(
                    "pixels must be (B, C, H, W) = (B, *{want}), got {tuple}",
                    want=want,
                    tuple=tuple(pixels.shape),
                )
            )

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """pixels (B, C, size, size) -> (x (B, N, D), mask (B, N) all True)."""
        patches = self.patches(pixels.to(self.pos.weight.dtype))  # (B, N, p*p*C)
        b, n, _ = patches.shape
        pos = self.pos.weight.expand(b, -1, -1)  # (B, N, pos_dim)
        x = torch.cat([patches, pos], dim=-1)
        return x, torch.ones((b, n), dtype=torch.bool, device=x.device)

    def encode(self, images: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw images (see `prepare`) -> (x (B, N, D), mask (B, N)) on this encoder's device."""
        return self(self.prepare(images).to(self.device))

    def patch_boxes(self) -> list[Box]:
        """(top, left, bottom, right) pixel box of each patch in the resized image, in token
        order; bottom and right are exclusive (pictures.patch_boxes)."""
        return patch_boxes(self.config.size, self.config.size, self.config.patch)

    def patch_labels(self) -> list[str]:
        """A short label per patch for heatmap axes: "r{row}c{col}", in token order."""
        rows, cols = self.config.grid
        return [f"r{r}c{c}" for r in range(rows) for c in range(cols)]
