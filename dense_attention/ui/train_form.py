"""The train page's form: the data (built-in or uploaded) and the model and training settings."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..core.config import ACTIVATIONS, POOLINGS, SEQUENCE_ENCODERS, TrainConfig
from ..core.i18n import N_, tr
from ..core.similarity import SIMILARITIES
from ..data.builtin import DATASET_INFO, DATASETS
from ..data.uploads import parse_upload, small_data_warning
from ..inputs.image_encoder import ImageConfig, patch_choices, suggested_patch
from ..inputs.text_encoder import TEXT_MODES, TextConfig
from ..server import work
from ..training.train import available_devices, pick_device
from . import state
from .inputs import read_once
from .styles import md

DATA_UPLOAD_MB = 200
JOB_MAX_SECONDS = 15 * 60  # a training run (each run of a sweep) stops there, keeping its best
UPLOAD = N_("Upload your own")
PENALTIES = [0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2]
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
BATCH_SIZES = [8, 16, 32, 64, 128, 256]
fmt = "{:g}".format


def _built_in(name: str) -> work.DataChoice:
    info = DATASET_INFO[name]
    limit = st.number_input(
        tr("Examples to use"),
        100,
        info.size,
        info.default_limit or info.size,
        step=100,
        key=state.train_limit(name),
        help=tr(
            "{name} has {size:,}; fewer train faster. Split 70/10/20 train/val/test.",
            name=name,
            size=info.size,
        ),
    )
    return work.DataChoice(name, None if limit >= info.size else int(limit))


def _uploaded() -> work.DataChoice:
    file = st.file_uploader(
        tr("A CSV of text,label rows, or a ZIP with one folder of images per class"),
        type=["csv", "zip"],
        max_upload_size=DATA_UPLOAD_MB,
        key=state.TRAIN_UPLOAD,
        help=tr("Up to {DATA_UPLOAD_MB} MB.", DATA_UPLOAD_MB=DATA_UPLOAD_MB),
    )
    if file is None:
        st.info(tr("Upload a CSV or a ZIP to train on your own data."), icon=":material/upload:")
        st.stop()
    ds = read_once(file, state.UPLOADED_DATA, parse_upload)
    st.caption(
        tr(
            "**{name}**: {classes} classes ({join}{value}), {train} train / {val} "
            "val / {test} test examples.",
            name=md(ds.name),
            classes=len(ds.classes),
            join=", ".join(map(md, ds.classes[:8])),
            value="…" if len(ds.classes) > 8 else "",
            train=len(ds.train),
            val=len(ds.val),
            test=len(ds.test),
        )
    )
    warning = small_data_warning(ds)
    if warning:
        st.warning(md(warning), icon=":material/warning:")
    return work.DataChoice(ds.name, uploaded=ds)


def data_choice() -> tuple[work.DataChoice, str]:
    """The data widgets: a built-in dataset (and how much of it) or an upload.
    Returns the choice and its kind ("text" | "image"); stops the page until an upload."""
    name = st.selectbox(tr("Data"), [*DATASETS, UPLOAD], key=state.TRAIN_DATASET,
                        format_func=lambda v: md(tr(v)))  # fmt: skip
    if name != UPLOAD:
        return _built_in(name), DATASET_INFO[name].kind
    choice = _uploaded()
    return choice, choice.uploaded.kind


def _text_encoder() -> dict[str, Any]:
    mode = st.selectbox(
        tr("Token embeddings"),
        TEXT_MODES,
        key=state.TRAIN_EMBEDDING,
        help=tr(
            "learned: trained from scratch (fast). minilm_static: MiniLM's word "
            "vectors. minilm_contextual: MiniLM's contextual vectors (best, slow to "
            "encode on a CPU).",
        ),
    )
    max_len = st.select_slider(
        tr("Tokens kept"), [16, 32, 64, 128, 256], 128, key=state.TRAIN_MAX_LEN
    )
    if mode != "minilm_contextual":
        st.caption(
            tr(
                "Best accuracy on text: minilm_contextual (BBC topics 97%; encoding the "
                "examples takes minutes on a CPU).",
            )
        )
    return {"text": TextConfig(mode, max_len, 32, 16)}


def _image_encoder(choice: work.DataChoice) -> dict[str, Any]:
    uploaded = choice.uploaded
    size = uploaded.train.items.shape[1] if uploaded else DATASET_INFO[choice.name].image_size
    patch = st.select_slider(
        tr("Patch side p (pixels)"),
        patch_choices(size),
        suggested_patch(size),
        key=state.train_patch(size),
        help=tr("Each p×p patch is one token: smaller patches mean more tokens."),
    )
    channels = 1 if uploaded is None else uploaded.train.items.shape[3]
    return {"image": ImageConfig(size, channels, patch, 32)}


def _model_options(choice: work.DataChoice, kind: str) -> dict[str, Any]:
    st.markdown("**Model**")
    options = _text_encoder() if kind == "text" else _image_encoder(choice)
    options["hidden_dim"] = st.select_slider(
        tr("Hidden size d"), [16, 32, 64, 128, 256], 256 if kind == "image" else 64,
        key=state.train_hidden(kind),
    )  # fmt: skip
    options["similarity"] = st.selectbox(
        tr("Similarity"), list(SIMILARITIES), 1, key=state.TRAIN_SIMILARITY
    )
    options["activation"] = st.selectbox(
        tr("Activation"), ACTIVATIONS, ACTIVATIONS.index("gelu"), key=state.TRAIN_ACTIVATION
    )
    options["pooling"] = st.radio(tr("Pooling"), POOLINGS, horizontal=True, key=state.TRAIN_POOLING)
    options["sequence_encoder"] = st.selectbox(
        tr("Sequence encoder before the dense layer"), SEQUENCE_ENCODERS, key=state.TRAIN_SEQUENCE,
        help=tr(
            "lstm: a bidirectional LSTM; transformer: one transformer encoder layer. "
            "With one, h is computed from its output x' instead of x.",
        ),
    )  # fmt: skip
    return options


def _training(kind: str) -> dict[str, Any]:
    st.markdown("**Training**")
    return {
        "lr": st.select_slider(
            tr("Learning rate"), LEARNING_RATES, 1e-2 if kind == "image" else 3e-3,
            key=state.train_lr(kind), format_func=fmt,
        ),
        "epochs": st.slider(tr("Epochs"), 1, 200, 40, key=state.TRAIN_EPOCHS),
        "batch_size": st.select_slider(tr("Batch size"), BATCH_SIZES, 32, key=state.TRAIN_BATCH),
        "device": st.selectbox(
            tr("Device"), available_devices(), key=state.TRAIN_DEVICE,
            help=tr("auto picks {type} here", type=pick_device().type),
        ),
        "seed": int(st.number_input(tr("Seed"), 0, 10_000, 0, key=state.TRAIN_SEED)),
    }  # fmt: skip


def _regularisation(options: dict[str, Any]) -> dict[str, Any]:
    st.markdown(tr("**Against overfitting**"))
    options["dropout_h"] = st.slider(
        tr("Dropout on h"), 0.0, 0.8, 0.0, 0.05, key=state.TRAIN_DROPOUT_H
    )
    options["dropout_attn"] = st.slider(
        tr("Dropout on attention"), 0.0, 0.8, 0.0, 0.05, key=state.TRAIN_DROPOUT_ATTN
    )
    penalties = {
        "l1": st.select_slider(tr("L1 penalty"), PENALTIES, 0.0, key=state.TRAIN_L1,
                               format_func=fmt),
        "l2": st.select_slider(tr("L2 penalty"), PENALTIES, 0.0, key=state.TRAIN_L2,
                               format_func=fmt),
        "label_smoothing": st.select_slider(
            tr("Label smoothing"), [0.0, 0.05, 0.1, 0.2], 0.0, key=state.TRAIN_SMOOTHING,
            format_func=fmt,
            help=tr(
                "Train against targets with this much probability spread over all "
                "classes: discourages over-confident outputs (0.05 won cross-validation "
                "on digits).",
            ),
        ),
    }  # fmt: skip
    small = st.checkbox(
        tr("Train on a small slice (provokes overfitting)"), key=state.TRAIN_SLICE,
        help=tr("Only 100 training examples; validation and test stay whole."),
    )  # fmt: skip
    return penalties | {"max_train_examples": 100 if small else None}


def training_settings(choice: work.DataChoice, kind: str) -> tuple[dict[str, Any], TrainConfig]:
    """The model and training widgets in three columns; returns (build_classifier options,
    TrainConfig). Defaults (per kind of data) train digits to 96.4% in about 12 s on a CPU."""
    model_col, train_col, reg_col = st.columns(3)
    with model_col:
        options = _model_options(choice, kind)
    with train_col:
        training = _training(kind)
    with reg_col:
        training |= _regularisation(options)
    patience = max(8, training["epochs"] // 4)
    return options, TrainConfig(**training, patience=patience, max_seconds=JOB_MAX_SECONDS)
