"""The train page's form: the data (built-in or uploaded) and the model and training settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from ..cli.arguments import train_recipe
from ..cli.recipe import describe
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
SHOWN_ELSEWHERE = {  # the recipe's settings without a widget here, and how the caption names them
    "temperature": "temperature",
    "skip": "skip",
    "pool_activation": "pooling activation",
    "exclude_self": "exclude self (a_ii masked)",
    "heads": "heads",
    "pos_dim": "positional width",
    "embed_dim": "embedding width",
    "patience": "patience",
    "weight_decay": "weight decay",
}


@dataclass(frozen=True)
class Start:
    """Where the form's widgets start: a built-in dataset's shipped recipe (the CLI's own parse of
    its checkpoint's recorded command, `cli.arguments.train_recipe`), else the defaults per kind."""

    recipe: str  # the dataset whose shipped recipe this is; "" for none
    values: dict[str, Any]  # settings by the `train` command's option names (dests)

    def key(self, key: str) -> str:
        return state.train_recipe_key(key, self.recipe)


def _kind_defaults(kind: str) -> dict[str, Any]:
    image = kind == "image"
    return {
        "hidden": 256 if image else 64, "similarity": "scaled_dot", "activation": "gelu",
        "pooling": POOLINGS[0], "sequence_encoder": SEQUENCE_ENCODERS[0], "embedding": "learned",
        "max_len": 128, "patch": None, "lr": 1e-2 if image else 3e-3, "epochs": 40,
        "batch_size": 32, "dropout_h": 0.0, "dropout_attn": 0.0, "l1": 0.0, "l2": 0.0,
        "label_smoothing": 0.0, "refit": False, "temperature": 1.0, "skip": "mean",
        "pool_activation": "tanh", "exclude_self": False, "heads": 1,
        "pos_dim": 32 if image else 16, "embed_dim": 32, "patience": None,
        "weight_decay": TrainConfig().weight_decay,
    }  # fmt: skip


def start_of(choice: work.DataChoice, kind: str) -> Start:
    """The form's start for `choice`: its shipped recipe where there is one."""
    found = None if choice.uploaded is not None else train_recipe(choice.name)
    if found is None:
        return Start("", _kind_defaults(kind))
    return Start(choice.name, _kind_defaults(kind) | found)


def _with(options: list[Any], value: Any) -> list[Any]:
    """`options` with `value` among them (a recipe may use a value the slider does not list)."""
    return options if value in options else sorted([*options, value])


def recipe_caption(start: Start, kind: str) -> str | None:
    """What the form starts from, with the recipe's settings that have no widget here."""
    if not start.recipe:
        return None
    plain = _kind_defaults(kind)
    rest = [f"{words} {describe(start.values[name])}" for name, words in SHOWN_ELSEWHERE.items()
            if start.values[name] != plain[name]]  # fmt: skip
    also = tr("; also {join}", join=", ".join(rest)) if rest else ""
    return (tr(
        "Starts from the shipped {recipe} model's recipe (its recorded training "
        "command){also}.",
        recipe=start.recipe, also=also,
    ))  # fmt: skip


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
    start = start_of(work.DataChoice(name), info.kind)
    refit = st.checkbox(
        tr("Fit on train + validation (refit)"), start.values["refit"],
        key=start.key(state.TRAIN_REFIT),
        help=tr(
            "Train on the training and validation examples for every epoch and keep "
            "the last, as the CLI's --refit: for settings already chosen on "
            "validation. Validation accuracy is then on examples the model has seen. "
            "Sweeps and tuning ignore it.",
        ),
    )  # fmt: skip
    return work.DataChoice(name, None if limit >= info.size else int(limit), refit=refit)


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
                        format_func=tr)  # fmt: skip
    if name != UPLOAD:
        return _built_in(name), DATASET_INFO[name].kind
    choice = _uploaded()
    return choice, choice.uploaded.kind


def _text_encoder(start: Start) -> dict[str, Any]:
    mode = st.selectbox(
        tr("Token embeddings"), TEXT_MODES, TEXT_MODES.index(start.values["embedding"]),
        key=start.key(state.TRAIN_EMBEDDING),
        help=tr(
            "learned: trained from scratch (fast). minilm_static: MiniLM's word "
            "vectors. minilm_contextual: MiniLM's contextual vectors (best, slow to "
            "encode on a CPU).",
        ),
    )  # fmt: skip
    max_len = st.select_slider(
        tr("Tokens kept"), _with([16, 32, 64, 128, 256], start.values["max_len"]),
        start.values["max_len"], key=start.key(state.TRAIN_MAX_LEN),
    )  # fmt: skip
    if mode != "minilm_contextual":
        st.caption(
            tr(
                "Best accuracy on text: minilm_contextual (BBC topics 97%; encoding the "
                "examples takes minutes on a CPU).",
            )
        )
    v = start.values
    return {"text": TextConfig(mode, max_len, v["embed_dim"], v["pos_dim"])}


def _image_encoder(choice: work.DataChoice, start: Start) -> dict[str, Any]:
    uploaded = choice.uploaded
    size = uploaded.train.items.shape[1] if uploaded else DATASET_INFO[choice.name].image_size
    choices = patch_choices(size)
    patch = st.select_slider(
        tr("Patch side p (pixels)"), choices,
        start.values["patch"] if start.values["patch"] in choices else suggested_patch(size),
        key=start.key(state.train_patch(size)),
        help=tr("Each p×p patch is one token: smaller patches mean more tokens."),
    )  # fmt: skip
    channels = 1 if uploaded is None else uploaded.train.items.shape[3]
    return {"image": ImageConfig(size, channels, patch, start.values["pos_dim"])}


def _model_options(choice: work.DataChoice, kind: str, start: Start) -> dict[str, Any]:
    st.markdown("**Model**")
    v = start.values
    options = _text_encoder(start) if kind == "text" else _image_encoder(choice, start)
    options["hidden_dim"] = st.select_slider(
        tr("Hidden size d"), _with([16, 32, 64, 128, 256], v["hidden"]), v["hidden"],
        key=start.key(state.train_hidden(kind)),
    )  # fmt: skip
    names = list(SIMILARITIES)
    options["similarity"] = st.selectbox(
        tr("Similarity"), names, names.index(v["similarity"]), key=start.key(state.TRAIN_SIMILARITY)
    )
    options["activation"] = st.selectbox(
        tr("Activation"), ACTIVATIONS, ACTIVATIONS.index(v["activation"]),
        key=start.key(state.TRAIN_ACTIVATION),
    )  # fmt: skip
    options["pooling"] = st.radio(
        tr("Pooling"), POOLINGS, POOLINGS.index(v["pooling"]), horizontal=True,
        key=start.key(state.TRAIN_POOLING),
    )  # fmt: skip
    options["sequence_encoder"] = st.selectbox(
        tr("Sequence encoder before the dense layer"), SEQUENCE_ENCODERS,
        SEQUENCE_ENCODERS.index(v["sequence_encoder"]), key=start.key(state.TRAIN_SEQUENCE),
        help=tr("lstm: a bidirectional LSTM; transformer: one transformer encoder layer. "
                "With one, h is computed from its output x' instead of x."),
    )  # fmt: skip
    hidden = ("temperature", "skip", "pool_activation", "exclude_self", "heads")
    return options | {name: v[name] for name in hidden}


def _training(kind: str, start: Start) -> dict[str, Any]:
    st.markdown("**Training**")
    v = start.values
    return {
        "lr": st.select_slider(
            tr("Learning rate"), _with(LEARNING_RATES, v["lr"]), v["lr"],
            key=start.key(state.train_lr(kind)), format_func=fmt,
        ),
        "epochs": st.slider(tr("Epochs"), 1, 200, v["epochs"], key=start.key(state.TRAIN_EPOCHS)),
        "batch_size": st.select_slider(
            tr("Batch size"), _with(BATCH_SIZES, v["batch_size"]), v["batch_size"],
            key=start.key(state.TRAIN_BATCH),
        ),
        "device": st.selectbox(
            tr("Device"), available_devices(), key=state.TRAIN_DEVICE,
            help=tr("auto picks {type} here", type=pick_device().type),
        ),
        "seed": int(st.number_input(tr("Seed"), 0, 10_000, 0, key=state.TRAIN_SEED)),
    }  # fmt: skip


def _regularisation(options: dict[str, Any], start: Start) -> dict[str, Any]:
    st.markdown(tr("**Against overfitting**"))
    v = start.values
    options["dropout_h"] = st.slider(
        tr("Dropout on h"), 0.0, 0.8, v["dropout_h"], 0.05, key=start.key(state.TRAIN_DROPOUT_H)
    )
    options["dropout_attn"] = st.slider(
        tr("Dropout on attention"), 0.0, 0.8, v["dropout_attn"], 0.05,
        key=start.key(state.TRAIN_DROPOUT_ATTN),
    )  # fmt: skip
    penalties = {
        "l1": st.select_slider(
            tr("L1 penalty"), _with(PENALTIES, v["l1"]), v["l1"], key=start.key(state.TRAIN_L1),
            format_func=fmt,
        ),
        "l2": st.select_slider(
            tr("L2 penalty"), _with(PENALTIES, v["l2"]), v["l2"], key=start.key(state.TRAIN_L2),
            format_func=fmt,
        ),
    }  # fmt: skip
    penalties["label_smoothing"] = st.select_slider(
        tr("Label smoothing"), _with([0.0, 0.05, 0.1, 0.2], v["label_smoothing"]),
        v["label_smoothing"], key=start.key(state.TRAIN_SMOOTHING), format_func=fmt,
        help=tr(
            "Train against targets with this much probability spread over all "
            "classes: discourages over-confident outputs (0.05 won cross-validation "
            "on digits).",
        ),
    )  # fmt: skip
    small = st.checkbox(
        tr("Train on a small slice (provokes overfitting)"), key=state.TRAIN_SLICE,
        help=tr("Only 100 training examples; validation and test stay whole."),
    )  # fmt: skip
    return penalties | {"max_train_examples": 100 if small else None}


def training_settings(choice: work.DataChoice, kind: str) -> tuple[dict[str, Any], TrainConfig]:
    """The model and training widgets in three columns; returns (build_classifier options,
    TrainConfig). A built-in dataset starts from its shipped checkpoint's recipe (`start_of`);
    an upload from the defaults per kind of data."""
    start = start_of(choice, kind)
    caption = recipe_caption(start, kind)
    if caption:
        st.caption(md(caption))
    model_col, train_col, reg_col = st.columns(3)
    with model_col:
        options = _model_options(choice, kind, start)
    with train_col:
        training = _training(kind, start)
    with reg_col:
        training |= _regularisation(options, start)
    patience = start.values["patience"] or max(8, training["epochs"] // 4)
    keep = "last" if choice.refit else "best"
    return options, TrainConfig(
        **training, patience=patience, weight_decay=start.values["weight_decay"], keep=keep,
        max_seconds=JOB_MAX_SECONDS,
    )  # fmt: skip
