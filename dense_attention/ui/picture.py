"""The image page's rooms: where the picture comes from, what the model sees of it, and its
attention drawn on the picture."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import streamlit as st
from PIL import Image

from ..core.i18n import N_, tr
from ..data import images
from ..data.builtin import DATASETS
from ..figures import image_plots, trace_plots
from ..inputs.classifier import Classifier, Explanation
from . import state
from .cache import cached
from .errors import friendly_errors
from .inputs import prediction_line, read_once
from .share import EXAMPLE_SOURCE, share_view
from .sidebar import Settings
from .styles import md
from .unfamiliar import unfamiliar_caution
from .verdicts import badge

EXAMPLE, PHOTO, UPLOAD = EXAMPLE_SOURCE, N_("Demo photo"), N_("Upload")
DATASET_SOURCE = N_("From the dataset view")  # a test picture opened on the dataset page
N_EXAMPLES = 20  # test-set examples offered: two of each class for 10 classes


class Picked(NamedTuple):
    image: Image.Image
    source: str  # EXAMPLE | PHOTO | UPLOAD
    label: str | None  # the true class of a test-set example


def _examples(meta: dict[str, Any]) -> list[images.Example]:
    """The model's held-out pictures: kept with it (an upload), else read from its dataset."""
    if meta.get("held_out"):
        return meta["held_out"]
    with (
        friendly_errors(),
        st.spinner(tr("Reading the {meta} test split…", meta=md(meta["dataset"]))),
    ):
        return images.test_examples(
            meta["dataset"], N_EXAMPLES, seed=meta.get("split_seed", 0), limit=meta.get("limit")
        )


def _test_example(meta: dict[str, Any]) -> Picked:
    dataset = meta["dataset"]
    examples = _examples(meta)
    if st.session_state.get(state.IMAGE_EXAMPLE) not in range(len(examples)):  # e.g. a link's
        st.session_state.pop(state.IMAGE_EXAMPLE, None)
    k = st.selectbox(
        tr("Test-set example"),
        range(len(examples)),
        format_func=lambda k: f"#{k + 1} · {examples[k].label}",  # plain text: not markdown
        key=state.IMAGE_EXAMPLE,
    )
    st.caption(
        tr(
            "From the test split of {dataset}: the model never saw these in training.",
            dataset=md(dataset),
        )
    )
    share_view(example=k + 1)  # 1-based, in the page's link
    return Picked(examples[k].image, EXAMPLE, examples[k].label)


def _upload() -> Picked:
    limit_mb = images.MAX_UPLOAD_BYTES // 2**20
    file = st.file_uploader(
        tr("Upload a picture"),
        type=list(images.UPLOAD_TYPES),
        max_upload_size=limit_mb,
        key=state.IMAGE_FILE,
        help=tr("Up to {limit_mb} MB.", limit_mb=limit_mb),
    )
    st.caption(
        tr(
            "PNG, JPEG, WebP, BMP or GIF (first frame), up to {limit_mb} MB. Large "
            "pictures are shrunk; the model only ever sees a few pixels.",
            limit_mb=limit_mb,
        )
    )
    if file is None:
        st.info(tr("Upload a picture to see it go through the model."), icon=":material/upload:")
        st.stop()
    # decoded once per file (a 40 MP photo takes ~0.5 s)
    return Picked(read_once(file, state.IMAGE_UPLOADED, images.upload_to_image), UPLOAD, None)


def pick_image(meta: dict[str, Any]) -> Picked:
    """The source widgets; returns the chosen picture (or stops the page with a prompt).
    Test-set examples need to know the model's dataset and split (a shipped checkpoint's)."""
    known = meta.get("dataset") in DATASETS or bool(meta.get("held_out"))
    sources = [EXAMPLE, PHOTO, UPLOAD] if known else [PHOTO, UPLOAD]
    opened = st.session_state.get(state.DATASET_PICTURE)
    sources = [DATASET_SOURCE, *sources] if opened else sources
    if st.session_state.get(state.IMAGE_SOURCE) not in sources:  # e.g. a link's, for a photo
        st.session_state.pop(state.IMAGE_SOURCE, None)
    source = st.radio(
        tr("Picture"),
        sources,
        horizontal=True,
        key=state.IMAGE_SOURCE,
        format_func=lambda v: md(tr(v)),
    )
    if source == EXAMPLE:
        return _test_example(meta)
    share_view(example=None)
    if source == DATASET_SOURCE:
        st.caption(tr(
            "**{opened}**: opened from the dataset page, true class **{opened2}**.",
            opened=md(opened[0]), opened2=md(opened[2]),
        ))  # fmt: skip
        return Picked(opened[1], EXAMPLE, opened[2])
    if source == PHOTO:
        photos = images.demo_images()
        name = st.selectbox(tr("Demo photo"), list(photos), key=state.IMAGE_PHOTO)
        st.caption(tr("Photos bundled with scikit-image and scikit-learn."))
        return Picked(photos[name], PHOTO, None)
    return _upload()


def photo_caution(picked: Picked, model: Classifier, meta: dict[str, Any]) -> None:
    """Beside a photo or an upload: what the model was trained on; why its label means little."""
    if picked.source == EXAMPLE:
        return
    cfg = model.config.image
    st.info(
        tr(
            "This model was trained on **{get}**, {size}×{size} {value} pictures. A "
            "photo shrunk to that size looks nothing like them, so its prediction is "
            "for exploring how attention works, not a meaningful label.",
            get=md(meta.get("dataset", "small images")),
            size=cfg.size,
            value="gray" if cfg.channels == 1 else "colour",
        ),
        icon=":material/science:",
    )


def what_the_model_sees(
    picked: Picked, settings: Settings, explanation: Explanation, pixels: np.ndarray
) -> None:
    """The picture, the model's shrunk input cut into patches, and the prediction."""
    model = settings.model
    cfg, trace, tokens = model.config.image, explanation.trace, list(explanation.tokens)
    st.header(tr("What the model sees"), divider="blue")
    original, seen = st.columns(2)
    with original:
        width, height = picked.image.size
        if max(width, height) > cfg.size:
            st.image(
                picked.image,
                caption=tr("The picture, {width}×{height}", width=width, height=height),
                width=300,
            )
        else:
            st.caption(tr("The picture is {width}×{height} pixels.", width=width, height=height))
        for note in images.input_notes(picked.image, model):
            st.caption(note)
    with seen:
        title = tr(
            "The {size}×{size} input, cut into {num_patches} patches",
            size=cfg.size,
            num_patches=cfg.num_patches,
        )
        grid = cached(image_plots.image_with_grid, pixels, cfg.patch, tokens, title)
        st.plotly_chart(grid, width="stretch", key="image_grid")
    verdict, chart = st.columns([1, 2])
    with verdict:
        st.markdown(prediction_line(explanation))
        badge(settings, picked.image)
        unfamiliar_caution(settings, picked.image)
        if picked.label is not None:
            st.markdown(tr("True label: **{label}**", label=md(picked.label)))
    with chart:
        probs = cached(
            trace_plots.probs_bar, trace.probs[0], list(explanation.classes), trace.logits[0]
        )
        st.plotly_chart(probs, width="stretch", key="image_probs")
