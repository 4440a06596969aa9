"""Where the image page's pictures come from: demo photos, test-set examples, uploads; no UI."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from ..core.i18n import tr
from ..inputs.classifier import Classifier
from .builtin import DATASETS, load_dataset
from .dataset import DataError, Dataset
from .image_files import load_image, open_image

__all__ = [
    "MAX_SIDE",
    "MAX_UPLOAD_BYTES",
    "UPLOAD_TYPES",
    "Example",
    "demo_images",
    "input_notes",
    "presentation_pictures",
    "resized_input",
    "dataset_examples",
    "test_examples",
    "upload_to_image",
]

MAX_UPLOAD_BYTES = 20 * 2**20  # larger files are refused before they are opened
MAX_SIDE = 1024  # uploads are downscaled to this long side: the model sees 8 to 32 pixels
UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "bmp", "gif")
ORIGINAL_SIZE = "original_size"  # key in Image.info: (width, height) before any downscale


class Example(NamedTuple):
    """One labelled test-set image."""

    image: Image.Image
    label: str  # its class name


@functools.cache
def _demo_arrays() -> dict[str, np.ndarray]:
    from skimage import data as skdata  # bundled with scikit-image: no download
    from sklearn.datasets import load_sample_images

    arrays = {
        name: getattr(skdata, name)() for name in ("astronaut", "camera", "coffee", "chelsea")
    }
    samples = load_sample_images()  # china.jpg, flower.jpg shipped with scikit-learn
    for filename, image in zip(samples.filenames, samples.images, strict=True):
        arrays[Path(filename).stem] = image
    for array in arrays.values():
        array.setflags(write=False)
    return arrays


def demo_images() -> dict[str, Image.Image]:
    """Bundled photos by name: astronaut, camera (gray), coffee, chelsea (scikit-image), china,
    flower (scikit-learn). Fresh PIL images each call (mode RGB, or L for camera)."""
    return {name: Image.fromarray(array) for name, array in _demo_arrays().items()}


@functools.lru_cache(maxsize=4)
def _test_arrays(
    dataset: str, n: int, seed: int, limit: int | None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """_ordered_test of a built-in dataset, read once per (dataset, n, seed, limit)."""
    return _ordered_test(load_dataset(dataset, seed=seed, limit=limit), n)


def _ordered_test(ds: Dataset, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """uint8 (n, H, W, C) images and their class names: one per class in turn, in split order."""
    if ds.kind != "image":
        raise DataError(
            tr("{name} is a {kind} dataset, not an image one", name=ds.name, kind=ds.kind)
        )
    labels = ds.test.labels
    # The k-th example of every class before the (k+1)-th of any: one of each class first.
    rank = np.empty(len(labels), dtype=np.int64)
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        rank[members] = np.arange(len(members))
    order = np.lexsort((labels, rank))[:n]
    pixels = np.round(ds.test.items[order] * 255).astype(np.uint8)
    pixels.setflags(write=False)
    return pixels, tuple(ds.classes[label] for label in labels[order])


def dataset_examples(ds: Dataset, n: int = 10) -> list[Example]:
    """test_examples of a Dataset already read (e.g. an upload): its first `n` held-out
    pictures, one of each class before a second of any."""
    return _examples(*_ordered_test(ds, n))


def _examples(pixels: np.ndarray, names: tuple[str, ...]) -> list[Example]:
    return [
        Example(Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p), name)
        for p, name in zip(pixels, names, strict=True)
    ]


def test_examples(
    dataset: str, n: int = 10, seed: int = 0, limit: int | None = None
) -> list[Example]:
    """The first `n` examples of `dataset`'s test split as PIL images (L or RGB), one of each
    class before a second of any. `seed` and `limit` must be those the checkpoint was split
    with (its metadata), so these images were never seen in training.
    Raises DataError when the dataset is missing (e.g. Fashion-MNIST not installed)."""
    return _examples(*_test_arrays(dataset, n, seed, limit))


PRESENT_EXAMPLES = 10  # test-set pictures offered on the present page (one of each class first)


def presentation_pictures(metadata: dict[str, Any]) -> dict[str, Image.Image]:
    """Pictures to present, by name, for a model with this checkpoint `metadata`: test-set
    examples of its own dataset first (a digits model means something on a digit, not on a
    photo), then the demo photos."""
    found: dict[str, Image.Image] = {}
    if metadata.get("dataset") in DATASETS:
        try:
            examples = test_examples(
                metadata["dataset"],
                PRESENT_EXAMPLES,
                metadata.get("split_seed", 0),
                metadata.get("limit"),
            )
        except DataError:  # e.g. Fashion-MNIST not installed: the photos remain
            examples = []
        found |= {f"test {k + 1} · {ex.label}": ex.image for k, ex in enumerate(examples)}
    return found | demo_images()


def upload_to_image(raw: bytes, filename: str = "the file") -> Image.Image:
    """Uploaded bytes -> an RGB or L image at most MAX_SIDE pixels on its long side.

    PNG, JPEG, WebP, BMP, GIF (first frame) and whatever else PIL reads. Raises DataError,
    with `filename` in the message, for files over MAX_UPLOAD_BYTES, empty files, non-images,
    corrupt images and images over image_files.MAX_IMAGE_PIXELS (50 MP, refused before
    decoding).
    Larger images are downscaled (JPEG decoded at a reduced scale directly, so a 40 MP photo
    takes a fraction of a second); `image.info["original_size"]` keeps the uploaded size.
    """
    if len(raw) > MAX_UPLOAD_BYTES:
        raise DataError(
            tr(
                "{filename} is {value:.1f} MB; the limit is {value2} MB",
                filename=filename,
                value=len(raw) / 2**20,
                value2=MAX_UPLOAD_BYTES // 2**20,
            )
        )
    if not raw:
        raise DataError(tr("{filename} is empty", filename=filename))
    try:
        image = open_image(raw)  # header only: size checked before decoding
        original = image.size
        if image.format == "JPEG":
            image.draft(image.mode, (MAX_SIDE, MAX_SIDE))  # decode at 1/2, 1/4 or 1/8 scale
        image = load_image(image)
    except DataError as err:
        raise DataError(tr("{filename}: {err}", filename=filename, err=err)) from err
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    image.info[ORIGINAL_SIZE] = original
    return image


def resized_input(classifier: Classifier, image: Any) -> np.ndarray:
    """What the model sees: (size, size, channels) float32 in [0, 1], from encoder.prepare."""
    if classifier.config.kind != "image":
        raise ValueError("resized_input needs an image classifier")
    pixels = classifier.encoder.prepare([image])[0]  # (C, size, size)
    return pixels.permute(1, 2, 0).numpy()


def input_notes(image: Image.Image, classifier: Classifier) -> list[str]:
    """Plain sentences on what happened to `image` on its way to the model."""
    cfg = classifier.config.image
    width, height = image.info.get(ORIGINAL_SIZE, image.size)
    notes = []
    if (width, height) != image.size:
        notes.append(
            f"Your {width}×{height} image ({width * height / 1e6:.1f} megapixels) was "
            f"downscaled to {image.width}×{image.height} on upload."
        )
    if max(width, height) < cfg.size:
        notes.append(
            f"This {width}×{height} image is smaller than the model's {cfg.size}×{cfg.size} "
            "input: it is enlarged (each pixel repeated), so neighbouring patches may be identical."
        )
    if width != height:
        notes.append(
            f"The model sees a square {cfg.size}×{cfg.size} picture: the long side is scaled to "
            f"{cfg.size} pixels and the short side padded with the colour of the image's border."
        )
    if cfg.channels == 1 and image.mode != "L":
        notes.append("The model reads gray levels: colours are turned to gray (luma).")
    return notes
