"""The app's Streamlit layer, the only library module that imports streamlit: cached loaders,
session-state keys, the shared sidebar, and the renderers the pages share (steps, the formula
with numbers, exports, friendly errors).

Isolation between sessions: `st.cache_resource` holds only read-only things shared by every user
(shipped checkpoints in eval mode, MiniLM, figures keyed by a digest of everything they show). A
model trained or uploaded in a browser lives in that browser's workspace (`workspace()`), found
by a random token kept in the session and in a cookie, so a reload keeps it and no other
browser can reach it; jobs (training, sweeps, tuning) run in background threads (`jobs`).
"""

from __future__ import annotations

import functools
import hashlib
import html
import math
import os
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image

from . import checkpoint, export, formulas, images, jobs, plots, reference
from .classifier import Classifier, Explanation
from .config import ACTIVATIONS, POOLINGS, SEQUENCE_ENCODERS, ModelConfig, TrainConfig
from .data import (
    DATASET_KINDS,
    DATASET_SIZES,
    DATASETS,
    DataError,
    Dataset,
    from_csv,
    from_image_zip,
)
from .encoders import (
    CHARS_PER_TOKEN_CAP,
    TEXT_MODES,
    EncodingError,
    ImageConfig,
    TextConfig,
    load_minilm,
)
from .similarity import SIMILARITIES
from .slides import Slide, steps_of
from .trace import TENSOR_FIELDS, Trace
from .train import pick_device
from .tune import trials_table

# ---------------------------------------------------------------------------------------------
# Session-state keys, all in one place

SELECTED_MODEL = "selected_model"  # dict page kind ("text", "image", "any") -> model label
OVERRIDES = "model_overrides"  # dict model label -> {"similarity"|"temperature"|"pooling": value}
SENTENCE = "sentence"  # the text of the text and compare pages (kept across pages)
# Widget keys. Streamlit forgets a widget's state on a page that does not draw it, so each
# widget is filled from the keys above before it is drawn and copies its value back on change.
MODEL_WIDGET = "sidebar_model"
SIMILARITY_WIDGET = "sidebar_similarity"
TEMPERATURE_WIDGET = "sidebar_temperature"
POOLING_WIDGET = "sidebar_pooling"
SETTING_WIDGETS = {
    "similarity": SIMILARITY_WIDGET,
    "temperature": TEMPERATURE_WIDGET,
    "pooling": POOLING_WIDGET,
}
SENTENCE_WIDGET = "sentence_text"
EXAMPLE_WIDGET = "sentence_example"
SLIDE = "slide"  # the presentation page's current slide, 0-based (also in the shared URL)
CELL = "cell"  # prefix of the formula panel's keys: cell_i, cell_j, cell_click

# ---------------------------------------------------------------------------------------------
# Checkpoints

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS_ENV = "DENSE_ATTENTION_CHECKPOINTS"  # another folder of checkpoints (dev and tests)
USER_SUFFIX = " (this session)"
TEMPERATURES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
SETTING_NAMES = ("similarity", "temperature", "pooling")
CHIPS_MAX = 48  # more tokens than this are shown in a scrolling box

# Sentences one click away on the text and compare pages.
EXAMPLE_SENTENCES = (
    "The striker scored twice in the final",
    "Shares fell after the bank's profit warning",
    "The film won three awards at the festival",
    "I love this phone, the battery lasts forever",
    "Worst customer service ever",
)


def checkpoint_root() -> Path:
    """assets/checkpoints, or the folder named by $DENSE_ATTENTION_CHECKPOINTS."""
    return Path(os.environ.get(CHECKPOINTS_ENV) or REPO_ROOT / "assets" / "checkpoints")


@dataclass(frozen=True)
class CheckpointInfo:
    """A shipped checkpoint folder, read from its config.json only (weights load on demand)."""

    name: str  # the folder name, shown in the model picker
    path: Path
    kind: str  # text | image
    stamp: int  # modification time of its files (ns): a rewritten checkpoint reloads
    summary: str  # e.g. "bbc-topics · test accuracy 97.1%"


def discover_checkpoints(root: Path) -> dict[str, CheckpointInfo]:
    """Every readable classifier checkpoint directly under `root`, by folder name (sorted).

    Folders that are not (or not yet) valid checkpoints are skipped.
    """
    found = {}
    for folder in sorted(p for p in root.glob("*") if (p / checkpoint.CONFIG_FILE).is_file()):
        try:
            header = checkpoint.read_header(folder)
        except checkpoint.CheckpointError:
            continue
        config = header.get("config") or {}
        if header["kind"] != "Classifier" or not isinstance(config, dict):
            continue
        meta = header.get("metadata", {})
        accuracy = meta.get("test_accuracy")
        summary = str(meta.get("dataset") or folder.name)
        if isinstance(accuracy, int | float):
            summary += f" · test accuracy {accuracy:.1%}"
        found[folder.name] = CheckpointInfo(
            folder.name, folder, "text" if config.get("text") else "image", _stamp(folder), summary
        )
    return found


def _stamp(folder: Path) -> int:
    files = (folder / checkpoint.CONFIG_FILE, folder / checkpoint.WEIGHTS_FILE)
    return max((f.stat().st_mtime_ns for f in files if f.exists()), default=0)


@st.cache_data(show_spinner=False, max_entries=8)
def _discover(root: str, stamps: tuple[tuple[str, int], ...]) -> dict[str, CheckpointInfo]:
    return discover_checkpoints(Path(root))


def checkpoints() -> dict[str, CheckpointInfo]:
    """The shipped checkpoints; re-read only when a config.json or weights file changes."""
    root = checkpoint_root()
    if not root.is_dir():
        return {}
    stamps = tuple((p.name, _stamp(p)) for p in sorted(root.glob("*")) if p.is_dir())
    return _discover(str(root), stamps)


@st.cache_resource(show_spinner="Loading the model…", max_entries=16)
def load_checkpoint(path: str, stamp: int) -> Classifier:
    """A shipped checkpoint on the device in use, in eval mode; shared by every session, so it is
    only ever read (explain runs under no_grad and changes nothing)."""
    return checkpoint.load(path, device=pick_device())


@st.cache_resource(show_spinner="Loading MiniLM (a pretrained transformer)…")
def load_reference_model():
    """The pretrained MiniLM (eval mode, frozen), loaded once per server."""
    return load_minilm()


def user_models() -> dict[str, Classifier]:
    """Models trained or uploaded in this browser: name -> Classifier (only it sees them)."""
    return workspace().models


# ---------------------------------------------------------------------------------------------
# Friendly errors


@contextmanager
def friendly_errors(stop: bool = True) -> Iterator[None]:
    """Turn the library's errors into a message instead of a traceback.

    Input problems (EncodingError: empty text, unreadable image) are an st.info prompt; any other
    ValueError (CheckpointError, DataError, ConfigError...) or OSError is an st.error. With
    `stop`, the page stops there; otherwise it goes on after the message.
    """
    try:
        yield
    except EncodingError as err:
        st.info(str(err), icon=":material/edit:")
    except (ValueError, OSError) as err:
        st.error(f"{err}", icon=":material/error:")
    else:
        return
    if stop:
        st.stop()


# ---------------------------------------------------------------------------------------------
# The sidebar


@dataclass(frozen=True)
class Settings:
    """What the sidebar returns: the chosen model and the live settings it runs with."""

    model_name: str  # the label in the picker (user models end with USER_SUFFIX)
    model: Classifier  # read-only
    similarity: str
    temperature: float
    pooling: str
    changed: tuple[str, ...]  # names of the settings that differ from the trained config
    cache_key: str | None = None  # shipped checkpoint "path@stamp": explanations may be shared

    @property
    def trained(self) -> ModelConfig:
        """The config the model was trained with."""
        return self.model.config.model

    @property
    def config(self) -> ModelConfig:
        """The trained config with the live settings in: what the formulas should show."""
        return replace(
            self.trained,
            similarity=self.similarity,
            temperature=self.temperature,
            pooling=self.pooling,
        )

    @property
    def overrides(self) -> dict[str, Any]:
        return {
            "similarity": self.similarity,
            "temperature": self.temperature,
            "pooling": self.pooling,
        }

    def explain(self, item: Any, **overrides: Any) -> Explanation:
        """The model's explanation of one raw input under the live settings (or `overrides`).

        A shipped model's explanations are cached for every session (a contextual MiniLM
        encoder takes tens of ms per text); a model trained in this session is never cached.
        """
        overrides = {**self.overrides, **overrides}
        build = functools.partial(self.model.explain, item, **overrides)
        if self.cache_key is None:
            return build()
        try:
            key = digest("explain", self.cache_key, item, overrides)
        except TypeError:  # an input we cannot fingerprint is explained afresh
            return build()
        return _shared_explanation(key, build)


def _trained_values(config: ModelConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in SETTING_NAMES}


def _remember_model(slot: str) -> None:
    st.session_state.setdefault(SELECTED_MODEL, {})[slot] = st.session_state[MODEL_WIDGET]


def _store_setting(model_label: str, name: str) -> None:
    live = st.session_state.setdefault(OVERRIDES, {}).setdefault(model_label, {})
    live[name] = st.session_state[SETTING_WIDGETS[name]]


def reset_settings(model_label: str) -> None:
    """Forget the live settings of a model: it runs as trained again."""
    st.session_state.setdefault(OVERRIDES, {}).pop(model_label, None)


def _format_setting(name: str, value: Any) -> str:
    return f"τ = {value:g}" if name == "temperature" else str(value)


def _control(
    draw: Callable[..., Any],
    name: str,
    label: str,
    model_label: str,
    live: dict[str, Any],
    trained: dict[str, Any],
    **kwargs: Any,
) -> Any:
    """Draw one setting's widget, filled with its live value; mark it when it differs."""
    widget = SETTING_WIDGETS[name]
    st.session_state[widget] = live[name]
    value = draw(label, key=widget, on_change=_store_setting, args=(model_label, name), **kwargs)
    if value != trained[name]:
        st.caption(f":orange[≠ trained: {_format_setting(name, trained[name])}]")
    return value


def _pick_model(kind: str | None) -> tuple[str, Classifier, str | None] | None:
    """The model picker: (label, model, shared-cache key or None for this session's models)."""
    shipped = {n: c for n, c in checkpoints().items() if kind in (None, c.kind)}
    own = {
        f"{n}{USER_SUFFIX}": m for n, m in user_models().items() if kind in (None, m.config.kind)
    }
    labels = [*shipped, *own]
    if not labels:
        return None
    slot = kind or "any"
    chosen = st.session_state.setdefault(SELECTED_MODEL, {}).get(slot)
    newest_own = list(own)[-1] if own else None  # after a reload: the model trained last
    st.session_state[MODEL_WIDGET] = chosen if chosen in labels else newest_own or labels[0]
    label = st.selectbox("Model", labels, key=MODEL_WIDGET, on_change=_remember_model, args=(slot,))
    if label in own:
        st.caption("Trained in this session: only you see it.")
        return label, own[label], None
    info = shipped[label]
    st.caption(info.summary)
    with friendly_errors():
        return label, load_checkpoint(str(info.path), info.stamp), f"{info.path}@{info.stamp}"
    return None  # not reached: friendly_errors stops the page


def sidebar(kind: str | None = None) -> Settings | None:
    """The shared sidebar: model picker, device, similarity, temperature, pooling, reset.

    `kind` ("text" or "image") limits the picker to models of that kind. Returns None (after
    saying why) when there is no model to pick. Each setting that differs from the model's
    trained config carries a "≠ trained" marker; "Reset" brings back the trained ones.
    """
    with st.sidebar:
        picked = _pick_model(kind)
        if picked is None:
            st.caption(f"No {kind or ''} model to pick yet.")
    if picked is None:
        st.info(
            f"No {kind or ''} model yet. Train one with `python -m dense_attention train` "
            f"(it writes a checkpoint folder under `{checkpoint_root()}`).",
            icon=":material/model_training:",
        )
        return None
    with st.sidebar:
        label, model, cache_key = picked
        st.caption(f"Device: **{pick_device().type}**")
        trained = _trained_values(model.config.model)
        live = {**trained, **st.session_state.setdefault(OVERRIDES, {}).get(label, {})}
        similarity = _control(
            st.selectbox,
            "similarity",
            "Similarity",
            label,
            live,
            trained,
            options=list(SIMILARITIES),
        )
        st.caption(SIMILARITIES[similarity].description)
        temperatures = sorted({*TEMPERATURES, trained["temperature"], live["temperature"]})
        temperature = _control(
            st.select_slider,
            "temperature",
            "Temperature τ",
            label,
            live,
            trained,
            options=temperatures,
            format_func="{:g}".format,
        )
        pooling = _control(
            st.radio,
            "pooling",
            "Pooling α",
            label,
            live,
            trained,
            options=list(POOLINGS),
            horizontal=True,
        )
        values = {"similarity": similarity, "temperature": temperature, "pooling": pooling}
        changed = tuple(n for n in SETTING_NAMES if values[n] != trained[n])
        st.button(
            "Reset to trained settings",
            on_click=reset_settings,
            args=(label,),
            disabled=not changed,
            icon=":material/restart_alt:",
        )
    shipped = cache_key is not None  # a model of this browser cannot be opened from a link
    share_view(
        model=label if shipped else None,
        similarity=similarity if shipped else None,
        temperature=float(temperature) if shipped else None,
        pooling=pooling if shipped else None,
    )
    return Settings(label, model, similarity, float(temperature), pooling, changed, cache_key)


# ---------------------------------------------------------------------------------------------
# Shareable views: the URL's query parameters

VIEW_RESTORED = "view_restored"  # session key: the URL was read into the session already
PRESENT_SOURCE, PRESENT_PHOTO = "present_source", "present_photo"  # the present page's widgets
SHARED_TEXT_MAX = 1000  # longer sentences stay out of the URL (browsers cut long URLs)


def _param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value if isinstance(value, str) and value else None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value > 0 else None


def restore_view() -> None:
    """Once per session (app.py, before the page runs): a shared URL's view into the session.

    Parameters: text, model (a shipped checkpoint), similarity, temperature, pooling, slide
    (1-based), input (text | image) and image (a demo photo) of the present page. Unknown or
    invalid values are ignored: the page opens with its defaults instead.
    """
    if st.session_state.get(VIEW_RESTORED):
        return
    st.session_state[VIEW_RESTORED] = True
    text = _param("text")
    if text is not None:
        st.session_state[SENTENCE] = text[:SHARED_TEXT_MAX]
    model, infos = _param("model"), checkpoints()
    if model in infos:
        picks = st.session_state.setdefault(SELECTED_MODEL, {})
        picks[infos[model].kind] = picks["any"] = model
        live: dict[str, Any] = {}
        if _param("similarity") in SIMILARITIES:
            live["similarity"] = _param("similarity")
        tau = _number(_param("temperature"))
        if tau is not None and TEMPERATURES[0] <= tau <= TEMPERATURES[-1]:
            live["temperature"] = tau  # the slider's range: no NaN-prone extremes from a link
        if _param("pooling") in POOLINGS:
            live["pooling"] = _param("pooling")
        st.session_state.setdefault(OVERRIDES, {})[model] = live
    slide = _number(_param("slide"))
    if slide is not None and slide == int(slide):
        st.session_state[SLIDE] = int(slide) - 1
    if _param("input") in ("text", "image"):
        st.session_state[PRESENT_SOURCE] = _param("input").capitalize()
    picture = _param("image")
    if picture is not None and len(picture) <= 100:  # the page keeps it only if it offers it
        st.session_state[PRESENT_PHOTO] = picture


def share_view(**params: Any) -> None:
    """Write the view into the URL's query parameters (None removes one); unchanged values are
    not rewritten, so a rerun does not touch the browser's history."""
    for name, value in params.items():
        text = None if value is None else f"{value:g}" if isinstance(value, float) else str(value)
        if text is None:
            if name in st.query_params:
                del st.query_params[name]
        elif st.query_params.get(name) != text:
            st.query_params[name] = text


# ---------------------------------------------------------------------------------------------
# Workspaces: this browser's models and jobs, kept across page reloads

WORKSPACE_COOKIE = "dal_workspace"  # a random token; nothing else about the user is stored
WORKSPACE = "workspace_token"  # session key: the token this session uses
COOKIE_WRITTEN = "workspace_cookie_written"


@st.cache_resource(show_spinner=False)
def _workspaces() -> jobs.Workspaces:
    """Token -> Workspace for the whole server. Only a browser holding a token (its own, in a
    cookie) reaches that workspace: sessions never see each other's models."""
    return jobs.Workspaces()


def _cookie_token() -> str | None:
    try:
        token = st.context.cookies.get(WORKSPACE_COOKIE)
    except Exception:  # noqa: BLE001 - no browser (AppTest, bare mode): no cookie
        return None
    return token if isinstance(token, str) and re.fullmatch(r"[0-9a-f]{32}", token) else None


def workspace() -> jobs.Workspace:
    """This browser's workspace: its trained and uploaded models and its running jobs.

    A finished training job's model joins `models` here, so it appears in the model picker on
    every page (and becomes the picked model of its kind).
    """
    token = st.session_state.get(WORKSPACE)
    if token is None:
        token = st.session_state[WORKSPACE] = _cookie_token() or secrets.token_hex(16)
    space = _workspaces().get(token)
    job = space.jobs.get("train")
    trained = job.result if job is not None else None
    if isinstance(trained, jobs.TrainedModel):
        with space.lock:  # two tabs of one browser rerun at once: register the model once
            if not any(r is trained for r in space.results.values()):
                _register(space, trained)
    return space


def _register(space: jobs.Workspace, trained: jobs.TrainedModel) -> str:
    name = f"{trained.dataset} #{len(space.results) + 1}"
    while name in space.models:
        name += "+"
    space.models[name] = trained.model
    space.results[name] = trained
    label = f"{name}{USER_SUFFIX}"
    picks = st.session_state.setdefault(SELECTED_MODEL, {})
    picks[trained.model.config.kind] = picks["any"] = label
    return name


def remember_browser() -> None:
    """Give this browser its workspace token in a cookie (once per session), so a reload finds
    the same workspace. A one-pixel iframe runs one line of JavaScript for it (the token is ours,
    32 hex digits, never user input)."""
    workspace()
    token = st.session_state[WORKSPACE]
    if st.session_state.get(COOKIE_WRITTEN):  # once per session: it also renews max-age
        return
    st.session_state[COOKIE_WRITTEN] = True
    with st.sidebar:
        st.iframe(
            f"<script>window.parent.document.cookie = '{WORKSPACE_COOKIE}={token}; path=/; "
            f"max-age={6 * 3600}; SameSite=Strict';</script>",
            height=1,
        )


# ---------------------------------------------------------------------------------------------
# The train page: data, settings, jobs and their live progress

TRAIN_PREFIX = "train_"  # widget keys of the train page's settings
UPLOADED_DATA = "train_uploaded"  # session key: (file_id, Dataset or DataError)
DATA_UPLOAD_MB = 200
JOB_POLL_S = 0.7  # how often a running job's panel refreshes
CURVE_POINTS = 2000  # batch losses drawn at most (redrawn every JOB_POLL_S)
JOB_MAX_SECONDS = 15 * 60  # a training run (each run of a sweep) stops there, keeping its best
# Examples to use by default: all of the small datasets, a slice of the large ones (the train
# page should answer in about a minute on a laptop CPU).
DEFAULT_LIMITS = {
    "digits": None,
    "fashion-mnist": 6000,
    "bbc-topics": None,
    "tweet-sentiment": 5000,
}
UPLOAD = "Upload your own"


def read_once(file: Any, key: str, parse: Callable[[bytes, str], Any]) -> Any:
    """parse(bytes, file name) of an uploaded file, once per file (kept under `key`). A
    DataError or ValueError is shown as an error and stops the page, for as long as the file
    stays in the uploader."""
    cached = st.session_state.get(key)
    if cached is None or cached[0] != file.file_id:
        try:
            with st.spinner(f"Reading {file.name}…"):
                result: Any = parse(file.getvalue(), file.name)
        except (DataError, ValueError) as err:
            result = err
        st.session_state[key] = cached = (file.file_id, result)
    if isinstance(cached[1], Exception):
        st.error(str(cached[1]), icon=":material/error:")
        st.stop()
    return cached[1]


def _parse_dataset(raw: bytes, filename: str) -> Dataset:
    """A CSV (text,label) or a ZIP (a folder of images per class)."""
    stem = Path(filename).stem[:40] or "my-data"
    if filename.lower().endswith(".zip"):
        return from_image_zip(raw, name=stem)
    return from_csv(raw, name=stem)


def data_choice() -> tuple[jobs.DataChoice, str]:
    """The data widgets: a built-in dataset (and how much of it) or an upload.
    Returns the choice and its kind ("text" | "image"); stops the page until an upload."""
    names = [*DATASETS, UPLOAD]
    name = st.selectbox("Data", names, key=f"{TRAIN_PREFIX}dataset")
    if name != UPLOAD:
        total = DATASET_SIZES[name]
        default = DEFAULT_LIMITS[name] or total
        limit = st.number_input(
            "Examples to use",
            100,
            total,
            default,
            step=100,
            key=f"{TRAIN_PREFIX}limit_{name}",
            help=f"{name} has {total:,}; fewer train faster. Split 70/10/20 train/val/test.",
        )
        return jobs.DataChoice(name, None if limit >= total else int(limit)), DATASET_KINDS[name]
    file = st.file_uploader(
        "A CSV of text,label rows, or a ZIP with one folder of images per class",
        type=["csv", "zip"],
        max_upload_size=DATA_UPLOAD_MB,
        key=f"{TRAIN_PREFIX}upload",
    )
    if file is None:
        st.info("Upload a CSV or a ZIP to train on your own data.", icon=":material/upload:")
        st.stop()
    ds = read_once(file, UPLOADED_DATA, _parse_dataset)
    st.caption(
        f"**{ds.name}**: {len(ds.classes)} classes ({', '.join(ds.classes[:8])}"
        f"{'…' if len(ds.classes) > 8 else ''}), {len(ds.train)} train / {len(ds.val)} val / "
        f"{len(ds.test)} test examples."
    )
    return jobs.DataChoice(ds.name, uploaded=ds), ds.kind


def _devices() -> list[str]:
    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def _encoder_options(choice: jobs.DataChoice, kind: str) -> dict[str, Any]:
    key = TRAIN_PREFIX
    if kind == "text":
        mode = st.selectbox(
            "Token embeddings",
            TEXT_MODES,
            key=f"{key}embedding",
            help="learned: trained from scratch (fast). minilm_static: MiniLM's word vectors. "
            "minilm_contextual: MiniLM's contextual vectors (best, slow to encode on a CPU).",
        )
        max_len = st.select_slider("Tokens kept", [16, 32, 64, 128, 256], 128, key=f"{key}maxlen")
        if mode != "minilm_contextual":
            st.caption(
                "Best accuracy on text: minilm_contextual (BBC topics 97%; encoding the "
                "examples takes minutes on a CPU)."
            )
        return {"text": TextConfig(mode, max_len, 32, 16)}
    size = 8 if choice.name == "digits" else 28 if choice.name == "fashion-mnist" else None
    if choice.uploaded is not None:
        size = choice.uploaded.train.items.shape[1]
    patches = [p for p in range(1, size + 1) if size % p == 0 and size // p <= 16]  # <= 256 tokens
    default = 2 if size == 8 else 7 if size == 28 else patches[len(patches) // 2]
    patch = st.select_slider(
        "Patch side p (pixels)",
        patches,
        default,
        key=f"{key}patch_{size}",
        help="Each p×p patch is one token: smaller patches mean more tokens.",
    )
    channels = 1 if choice.uploaded is None else choice.uploaded.train.items.shape[3]
    return {"image": ImageConfig(size, channels, patch, 32)}


def training_settings(choice: jobs.DataChoice, kind: str) -> tuple[dict[str, Any], TrainConfig]:
    """The model and training widgets in three columns; returns (build_classifier options,
    TrainConfig). Defaults (per kind of data) train digits to 96.4% in about 12 s on a CPU."""
    key = TRAIN_PREFIX
    model_col, train_col, reg_col = st.columns(3)
    with model_col:
        st.markdown("**Model**")
        options = _encoder_options(choice, kind)
        options["hidden_dim"] = st.select_slider(
            "Hidden size d",
            [16, 32, 64, 128, 256],
            256 if kind == "image" else 64,
            key=f"{key}hidden_{kind}",
        )
        options["similarity"] = st.selectbox(
            "Similarity", list(SIMILARITIES), 1, key=f"{key}similarity"
        )
        options["activation"] = st.selectbox(
            "Activation", ACTIVATIONS, ACTIVATIONS.index("gelu"), key=f"{key}activation"
        )
        options["pooling"] = st.radio("Pooling", POOLINGS, horizontal=True, key=f"{key}pooling")
        options["sequence_encoder"] = st.selectbox(
            "Sequence encoder before the dense layer",
            SEQUENCE_ENCODERS,
            key=f"{key}seq",
            help="lstm: a bidirectional LSTM; transformer: one transformer encoder layer. "
            "With one, h is computed from its output x' instead of x.",
        )
    with train_col:
        st.markdown("**Training**")
        lr = st.select_slider(
            "Learning rate",
            [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
            1e-2 if kind == "image" else 3e-3,
            key=f"{key}lr_{kind}",
            format_func="{:g}".format,
        )
        epochs = st.slider("Epochs", 1, 200, 40, key=f"{key}epochs")
        batch = st.select_slider("Batch size", [8, 16, 32, 64, 128, 256], 32, key=f"{key}batch")
        device = st.selectbox(
            "Device", _devices(), key=f"{key}device", help=f"auto picks {pick_device().type} here"
        )
        seed = st.number_input("Seed", 0, 10_000, 0, key=f"{key}seed")
    with reg_col:
        st.markdown("**Against overfitting**")
        options["dropout_h"] = st.slider("Dropout on h", 0.0, 0.8, 0.0, 0.05, key=f"{key}drop_h")
        options["dropout_attn"] = st.slider(
            "Dropout on attention", 0.0, 0.8, 0.0, 0.05, key=f"{key}drop_a"
        )
        penalties = [0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2]
        fmt = "{:g}".format
        l1 = st.select_slider("L1 penalty", penalties, 0.0, key=f"{key}l1", format_func=fmt)
        l2 = st.select_slider("L2 penalty", penalties, 0.0, key=f"{key}l2", format_func=fmt)
        smoothing = st.select_slider(
            "Label smoothing",
            [0.0, 0.05, 0.1, 0.2],
            0.0,
            key=f"{key}smooth",
            format_func=fmt,
            help="Train against targets with this much probability spread over all classes: "
            "discourages over-confident outputs (0.05 won cross-validation on digits).",
        )
        small = st.checkbox(
            "Train on a small slice (provokes overfitting)",
            key=f"{key}slice",
            help="Only 100 training examples; validation and test stay whole.",
        )
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch,
        lr=lr,
        seed=int(seed),
        device=device,
        l1=l1,
        l2=l2,
        label_smoothing=smoothing,
        patience=max(8, epochs // 4),
        max_train_examples=100 if small else None,
        max_seconds=JOB_MAX_SECONDS,
    )
    return options, config


def running(slot: str) -> jobs.Job | None:
    """This browser's job in `slot` (train | sweep | tune) while it runs, else None."""
    job = workspace().jobs.get(slot)
    return job if job is not None and not job.finished else None


def start_job(slot: str, start: Callable[[], jobs.Job]) -> None:
    """Start a job in `slot` unless one runs there (a double click starts one job)."""
    space = workspace()
    if running(slot) is None:
        space.jobs[slot] = start()


def job_controls(slot: str, label: str, start: Callable[[], jobs.Job], ready: bool = True) -> None:
    """Start and Stop buttons for the job in `slot`.

    Start is read in the page run (not as an on_click callback): a callback would get the
    request built in the previous run, before the user's latest change of a setting.
    """
    job = running(slot)
    left, right = st.columns([1, 1])
    if left.button(
        label, type="primary", icon=":material/play_arrow:", disabled=job is not None or not ready,
        key=f"{slot}_start",
    ):  # fmt: skip
        start_job(slot, start)
        st.rerun()
    right.button(
        "Stop (keeps the best so far)" if slot == "train" else "Stop",
        icon=":material/stop:", disabled=job is None, key=f"{slot}_stop",
        on_click=job.stop if job is not None else None,
    )  # fmt: skip


def job_panel(slot: str, draw: Callable[[jobs.Job], None]) -> None:
    """The job in `slot`: progress bar, then `draw(job)`; refreshed every JOB_POLL_S seconds
    while it runs (a fragment: only this panel reruns), then once more as a whole page."""
    job = workspace().jobs.get(slot)
    if job is None:
        return
    seen = f"{slot}_finished_seen"

    @st.fragment(run_every=None if job.finished else JOB_POLL_S)
    def live() -> None:
        st.progress(job.progress, text=f"{job.title}: {job.phase} ({job.progress:.0%})")
        if job.error:
            st.error(f"{job.title} failed: {job.error}", icon=":material/error:")
        draw(job)
        if job.finished and st.session_state.get(seen) != job.id:
            st.session_state[seen] = job.id
            st.rerun()  # the whole page: Start comes back, the model joins the picker

    live()


def train_progress(job: jobs.Job) -> None:
    """Curves, the live attention of the first probe, and the result when there is one."""
    result: jobs.TrainedModel | None = job.result
    history = result.history if result else list(job.history)
    steps = list(job.steps)
    steps = steps[:: max(1, len(steps) // CURVE_POINTS)]  # a long run: every k-th batch loss
    if history or steps:
        st.plotly_chart(
            plots.training_curves(history, steps, job.steps_per_epoch),
            width="stretch",
            key=f"curves_{job.id}",
        )
    if result is None:
        snaps, probes = list(job.snapshots), list(job.probes)
        if snaps and probes:
            n = len(probes[0].tokens)
            fig = plots.attention_heatmap(
                snaps[-1].attn[0][:n, :n],
                probes[0].tokens,
                title=f"Attention now (step {snaps[-1].step})",
            )
            st.plotly_chart(fig, width="stretch", key=f"live_attn_{job.id}")
            st.caption(
                f"A validation example (true class {probes[0].label}): its attention "
                "changes as the model learns. The full replay comes when training ends."
            )
        return
    acc, base = result.test_accuracy, result.baseline_accuracy
    cols = st.columns(3)
    cols[0].metric(
        "Test accuracy", f"{acc:.1%}", None if base is None else f"{acc - base:+.1%} vs baseline"
    )
    cols[1].metric(
        "Baseline", "measuring…" if base is None else f"{base:.1%}", help=result.baseline_name
    )
    cols[2].metric(
        "Best epoch",
        f"{result.best_epoch} of {len(result.history)}",
        help=f"stopped: {result.stopped.replace('_', ' ')}; {result.seconds:.1f} s "
        f"on {result.device}",
    )


def _run_summary(trained: jobs.TrainedModel) -> str:
    """One line of what a run changed against overfitting, e.g. "100 examples, dropout h 0.3"."""
    config, model = trained.train_config, trained.model.config.model
    parts = [f"{config.max_train_examples} examples" if config.max_train_examples else "all"]
    parts += [f"dropout h {model.dropout_h:g}"] if model.dropout_h else []
    parts += [f"dropout attention {model.dropout_attn:g}"] if model.dropout_attn else []
    parts += [f"L1 {config.l1:g}"] if config.l1 else []
    parts += [f"L2 {config.l2:g}"] if config.l2 else []
    parts += [f"label smoothing {config.label_smoothing:g}"] if config.label_smoothing else []
    return ", ".join(parts)


def compare_runs(key: str = "compare_runs") -> None:
    """The curves of two runs of this browser side by side: does dropout, a penalty or more data
    close the gap between training and validation accuracy?"""
    runs = workspace().results
    if len(runs) < 2:
        return
    names = list(runs)
    with st.expander("Compare two runs: is it overfitting?", icon=":material/compare_arrows:"):
        left, right = st.columns(2)
        for column, default, side in ((left, len(names) - 2, "a"), (right, len(names) - 1, "b")):
            with column:
                name = st.selectbox("Run", names, default, key=f"{key}_{side}")
                run = runs[name]
                st.caption(f"{_run_summary(run)} · test accuracy {run.test_accuracy:.1%}")
                gap = run.history[-1].train_accuracy - run.history[-1].val_accuracy
                st.markdown(f"Train − validation accuracy at the end: **{gap:+.1%}**")
                st.plotly_chart(
                    plots.training_curves(run.history), width="stretch", key=f"{key}_{side}_curves"
                )


def _frame_name(snap: Any) -> str:
    return f"step {snap.step} · epoch {snap.epoch:.1f}"


def replay(trained: jobs.TrainedModel, key: str = "replay") -> None:
    """Attention replay over the training snapshots: an animation of the attention matrix (play
    button and slider in the browser), and α and the prediction at a chosen step."""
    snaps, probes = trained.snapshots, trained.probes
    if not snaps or not probes:
        st.info("This run kept no snapshots to replay.", icon=":material/history:")
        return
    st.subheader("Attention replay", divider="gray")
    k = st.radio(
        "Example",
        range(len(probes)),
        horizontal=True,
        key=f"{key}_probe",
        format_func=lambda p: f"{p + 1} · true class {probes[p].label}",
    )
    probe, n = probes[k], len(probes[k].tokens)
    frames = [s.attn[k][:n, :n] for s in snaps]
    names = [_frame_name(s) for s in snaps]
    left, right = st.columns(2)
    with left:
        fig = cached(plots.attention_replay, frames, names, probe.tokens)
        st.plotly_chart(fig, width="stretch", key=f"{key}_animation")
        st.caption("Press ▶ Play: attention goes from nearly uniform (step 0) to focused.")
    with right:
        t = st.select_slider(
            "Training step",
            range(len(snaps)),
            len(snaps) - 1,
            format_func=lambda f: names[f],
            key=f"{key}_step",
        )
        alpha, probs = snaps[t].alpha[k][:n], snaps[t].probs[k]
        predicted = trained.classes[int(probs.argmax())]
        mark = "✓" if predicted == probe.label else "✗"
        st.markdown(f"At {names[t]}: predicts **{predicted}** ({float(probs.max()):.1%}) {mark}")
        if probe.image is not None:
            height, width = probe.image.shape[:2]
            patch = trained.model.config.image.patch
            boxes = plots.square_boxes(height, width, patch)
            fig = plots.patch_overlay(
                probe.image,
                alpha,
                boxes,
                "Pooling weights α on the picture",
                probe.tokens,
                name="α",
            )
        else:
            fig = plots.alpha_bar(alpha, probe.tokens)
        st.plotly_chart(fig, width="stretch", key=f"{key}_alpha")
        fig = plots.attention_heatmap(
            snaps[t].attn[k][:n, :n], probe.tokens, title=f"Attention a<sub>ij</sub> at {names[t]}"
        )
        st.plotly_chart(fig, width="stretch", key=f"{key}_matrix")
        st.plotly_chart(
            plots.probs_bar(probs, trained.classes), width="stretch", key=f"{key}_probs"
        )


def sweep_progress(job: jobs.Job) -> None:
    """The run in progress (its curves), then the sweep's table, chart and attention grid."""
    result = job.result
    if result is None:
        if job.history:
            st.plotly_chart(
                plots.training_curves(list(job.history)),
                width="stretch",
                key=f"sweep_curves_{job.id}",
            )
        return
    if not result.runs:
        st.warning("The sweep stopped before any run finished.", icon=":material/stop:")
        return
    table = result.table()
    best = table.loc[table["test_accuracy"].idxmax()]
    st.success(
        f"Best on {result.dataset}: **{best['similarity']}** with "
        f"{best['test_accuracy']:.1%} test accuracy (same seed, split and budget for all).",
        icon=":material/emoji_events:",
    )
    st.dataframe(
        table,
        hide_index=True,
        key=f"sweep_table_{job.id}",
        column_config={
            "test_accuracy": st.column_config.NumberColumn("test accuracy", format="percent"),
            "val_accuracy": st.column_config.NumberColumn("val accuracy", format="percent"),
            "train_seconds": st.column_config.NumberColumn("train s", format="%.1f"),
            "attention_entropy": st.column_config.NumberColumn("entropy (nats)", format="%.2f"),
            "test_loss": st.column_config.NumberColumn("test loss", format="%.3f"),
        },
    )
    st.caption(
        f"Attention entropy: 0 = each token attends to one other; "
        f"{result.uniform_entropy:.2f} (log n) = uniform."
    )
    chart(
        plots.sweep_chart(table), "sweep", lambda: table.to_csv(index=False), key=f"sweep_{job.id}"
    )
    st.markdown(
        f"**The same test example** (#{result.probe_index}, true class "
        f"{result.probe_label}) under each trained model:"
    )
    columns = st.columns(3)
    for k, run in enumerate(result.runs):
        predicted = result.classes[int(run.probe_probs.argmax())]
        fig = cached(  # the page reruns on every setting change: build these once
            plots.attention_heatmap,
            run.probe_attn,
            list(result.probe_tokens),
            title=f"{run.similarity} → {predicted}",
        )
        columns[k % 3].plotly_chart(fig, width="stretch", key=f"sweep_attn_{job.id}_{k}")


def tune_progress(job: jobs.Job) -> None:
    """The trials so far as a table and a plot; the best trial when the search ended."""
    trials = list(job.trials)
    if trials:
        table = trials_table(trials)
        st.plotly_chart(plots.tune_history(table), width="stretch", key=f"tune_plot_{job.id}")
        st.dataframe(
            table,
            hide_index=True,
            key=f"tune_table_{job.id}",
            column_config={
                "value": st.column_config.NumberColumn("val accuracy", format="percent")
            },
        )
    result = job.result
    if result is not None and result.best_number is None:
        st.warning("No trial completed: raise the number of trials.", icon=":material/warning:")
    elif result is not None:
        params = ", ".join(
            f"{k} = {v:.3g}" if isinstance(v, float) else f"{k} = {v}"
            for k, v in result.best_params.items()
        )
        st.success(
            f"Best: trial {result.best_number}, validation accuracy "
            f"{result.best_value:.1%}. {params}",
            icon=":material/emoji_events:",
        )


# ---------------------------------------------------------------------------------------------
# Shared figure cache: content-addressed, so sharing it between sessions leaks nothing


def _feed(h: Any, item: Any) -> None:
    if isinstance(item, Trace):
        item = [*(getattr(item, name) for name in TENSOR_FIELDS), item.similarity, item.temperature]
    elif isinstance(item, Image.Image):
        item = [item.mode, np.asarray(item)]
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
    if isinstance(item, np.ndarray):
        h.update(f"array{item.dtype}{item.shape}".encode())
        h.update(np.ascontiguousarray(item).tobytes())
    elif isinstance(item, list | tuple | dict):
        h.update(type(item).__name__.encode())
        for part in sorted(item.items()) if isinstance(item, dict) else item:
            _feed(h, part)
    elif item is None or isinstance(item, str | bytes | int | float | np.number):
        h.update(f"{type(item).__name__}:{item!r}".encode())
    else:  # a repr such as "<object at 0x7f...>" would make two contents collide
        raise TypeError(f"cannot digest a {type(item).__name__}: pass its content")
    h.update(b"\x1f")


def digest(*parts: Any) -> str:
    """A hash of tensors, arrays, traces and plain values (nested in lists, tuples, dicts)."""
    h = hashlib.blake2b(digest_size=16)
    _feed(h, parts)
    return h.hexdigest()


@st.cache_resource(show_spinner=False, max_entries=64, ttl=3600)
def _shared(key: str, _build: Callable[[], Any]) -> Any:
    return _build()


@st.cache_resource(show_spinner=False, max_entries=32, ttl=3600)
def _shared_explanation(key: str, _build: Callable[[], Explanation]) -> Explanation:
    return _build()


def cached(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """build(*args, **kwargs), computed once for every session with the same arguments.

    Only for pure builders of read-only results (figures, reference attention): the key is a
    digest of the builder's name and every argument, so equal content gives the equal result.
    Building a figure costs tens of ms (plotly validates every cell); this keeps reruns fast.
    """
    name = f"{build.__module__}.{build.__qualname__}"
    key = digest(name, args, kwargs)
    return _shared(key, functools.partial(build, *args, **kwargs))


# ---------------------------------------------------------------------------------------------
# Input widgets shared by the text pages


def _copy_state(source: str, target: str) -> None:
    st.session_state[target] = st.session_state[source]


def _use_example() -> None:
    example = st.session_state.get(EXAMPLE_WIDGET)
    if example:
        st.session_state[SENTENCE] = example
    st.session_state[EXAMPLE_WIDGET] = None  # a pill is a shortcut, not a lasting choice


def _shared_sentence() -> str:
    """The sentence of the text pages, also written into the URL (when it is short enough)."""
    text = st.session_state[SENTENCE]
    share_view(text=text if len(text) <= SHARED_TEXT_MAX else None)
    return text


def sentence_input(examples: Sequence[str]) -> str:
    """A sentence box (kept across pages) with example sentences one click away."""
    st.session_state.setdefault(SENTENCE, examples[0] if examples else "")
    st.session_state[SENTENCE_WIDGET] = st.session_state[SENTENCE]
    st.text_area(
        "Your sentence",
        key=SENTENCE_WIDGET,
        height=90,
        on_change=_copy_state,
        args=(SENTENCE_WIDGET, SENTENCE),
        placeholder="Type a sentence, then press Ctrl+Enter",
        help="Press Ctrl+Enter (⌘+Enter on a Mac) or click outside the box to apply.",
    )
    st.pills("Or try an example", list(examples), key=EXAMPLE_WIDGET, on_change=_use_example)
    return _shared_sentence()


def token_chips_html(tokens: Sequence[str]) -> str:
    """The tokens as numbered chips (HTML-escaped)."""
    chips = "".join(
        f'<span style="display:inline-block; margin:0.15em; padding:0.1em 0.45em; '
        f"border:1px solid #ced4da; border-radius:0.4em; background:#f8f9fa; "
        f'font-family:monospace;"><sub style="color:#868e96">{k + 1}</sub> '
        f"{html.escape(str(t))}</span>"
        for k, t in enumerate(tokens)
    )
    return f'<div style="line-height:2;">{chips}</div>'


def token_box(n: int, height: int = 160):
    """A container for n tokens' worth of text: it scrolls past CHIPS_MAX tokens, so hundreds
    of tokens do not push the rest of the page far down."""
    return st.container(height=height) if n > CHIPS_MAX else st.container()


def show_tokens(explanation: Explanation, text: str, max_len: int) -> None:
    """The tokens the model read, and a notice when the text was cut to the model's maximum."""
    kept = len(explanation.tokens)
    token_box(kept).html(token_chips_html(explanation.tokens))
    if explanation.truncated:
        capped = len(text) > max_len * CHARS_PER_TOKEN_CAP  # the count past the cap is a floor
        total = f"{'at least ' if capped else ''}{kept + explanation.truncated:,}"
        st.warning(
            f"Long text: this model reads at most {max_len} tokens, [CLS] and [SEP] included. "
            f"**{kept} of {total} tokens kept**; the rest is cut off.",
            icon=":material/content_cut:",
        )


def prediction_line(explanation: Explanation) -> str:
    """ "Prediction: **sport** (97.1%)" for markdown."""
    probs = explanation.trace.probs[0]
    k = int(probs.argmax())
    return f"Prediction: **{explanation.classes[k]}** ({float(probs[k]):.1%})"


# ---------------------------------------------------------------------------------------------
# Exports


def _png(fig: go.Figure) -> bytes:
    return export.figure_png(fig, scale=2.0)


def export_buttons(
    fig: go.Figure, name: str, csv: Callable[[], str] | None = None, key: str | None = None
) -> None:
    """An "Export" popover: the figure as PNG and standalone HTML, its numbers as CSV.

    Every file is made only when its button is clicked (a PNG takes ~0.3 s, an HTML page with
    plotly.js inlined is ~5 MB), so drawing the buttons costs nothing on a rerun.
    """
    key = key or f"export_{name}"
    with st.popover("Export", icon=":material/download:"):
        _download("PNG image", functools.partial(_png, fig), f"{name}.png", f"{key}_png", "image")
        page = functools.partial(export.figure_html, fig)
        _download("HTML (interactive)", page, f"{name}.html", f"{key}_html", "html")
        if csv is not None:
            _download("CSV (the numbers)", csv, f"{name}.csv", f"{key}_csv", "table")


MIME_TYPES = {
    "png": "image/png",
    "html": "text/html",
    "csv": "text/csv",
    "json": "application/json",
    "zip": "application/zip",
}


def _download(label: str, data: Callable[[], Any], file_name: str, key: str, icon: str) -> None:
    """A download button whose file is made by `data()` only when clicked (no rerun after)."""
    st.download_button(
        label,
        data=data,
        file_name=file_name,
        mime=MIME_TYPES[file_name.rsplit(".", 1)[-1]],
        on_click="ignore",
        key=key,
        icon=f":material/{icon}:",
    )


def chart(fig: go.Figure, name: str, csv: Callable[[], str] | None = None, key: str = "") -> None:
    """A plotly chart, full width of its column, with its Export menu under it."""
    key = key or name
    st.plotly_chart(fig, width="stretch", key=f"chart_{key}")
    export_buttons(fig, name, csv, key=f"export_{key}")


def matrix_table(matrix: Any, tokens: Sequence[str]) -> Callable[[], str]:
    """A token x token matrix as CSV, made when asked (rows and columns "k:token")."""
    labels = export.token_labels(tokens)
    return functools.partial(export.matrix_csv, matrix, labels, labels, "query i \\ key j")


def trace_download(explanation: Explanation, name: str = "trace", key: str = "trace_json") -> None:
    """A button for the whole trace (every intermediate, tokens, classes) as JSON."""
    trace_file = functools.partial(export.trace_json, explanation)
    _download("Download the whole trace (JSON)", trace_file, f"{name}.json", key, "data_object")


# ---------------------------------------------------------------------------------------------
# The step-by-step walk-through and the formula with numbers


def selected_cell(n: int, key: str = CELL, default: tuple[int, int] = (1, 2)) -> tuple[int, int]:
    """The attention cell (i, j), 0-based, picked in the formula panel; kept inside 0..n-1."""
    for name, fallback in zip((f"{key}_i", f"{key}_j"), default, strict=True):
        value = st.session_state.get(name)
        if not isinstance(value, int) or not 0 <= value < n:
            st.session_state[name] = min(fallback, n - 1)
    return st.session_state[f"{key}_i"], st.session_state[f"{key}_j"]


def render_steps(
    explanation: Explanation,
    config: ModelConfig,
    *,
    cell: tuple[int, int] | None = None,
    extras: dict[str, Callable[[], None]] | None = None,
    key: str = "steps",
) -> None:
    """Every step of DESIGN.md's table: its formula, a sentence, its figure and its exports.

    `config` is the model's config with the live settings in (Settings.config), so the formulas
    name what ran. `extras[step_key]()` draws more under a step's text (e.g. the sentence
    shaded by α). `cell` (0-based i, j) is outlined in the token x token matrices.
    """
    trace = explanation.trace
    figures = cached(
        plots.trace_figures, trace, list(explanation.tokens), list(explanation.classes), cell=cell
    )
    for step in formulas.STEPS:
        st.subheader(step.title, divider="gray")
        left, right = st.columns([2, 3])
        with left:
            st.latex(formulas.step_latex(step.key, trace.similarity, config, trace.temperature))
            st.write(step.explanation)
            if extras and step.key in extras:
                extras[step.key]()
        with right:
            csv = functools.partial(export.step_csv, explanation, step.key)
            chart(figures[step.key], step.key, csv, key=f"{key}_{step.key}")


def _select_clicked_cell(key: str) -> None:
    """on_select of the clickable heatmap: the clicked cell becomes the selected i and j."""
    points = st.session_state[f"{key}_click"].selection.points
    if points:
        st.session_state[f"{key}_i"], st.session_state[f"{key}_j"] = points[0]["customdata"]


def _picker_heatmap(
    attn: torch.Tensor, tokens: list[str], cell: tuple[int, int], clickable: bool
) -> go.Figure:
    """The attention matrix to pick a cell from: no colour bar (the walk-through has one), so
    the cells get the width of the column."""
    fig = plots.attention_heatmap(attn, tokens, cell, clickable=clickable)
    return fig.update_traces(showscale=False, selector={"type": "heatmap"})


def cell_panel(
    explanation: Explanation, config: ModelConfig | None = None, key: str = CELL
) -> None:
    """ "The formula with numbers" (see _cell_panel); a problem is a message, never a trace."""
    with friendly_errors(stop=False):
        _cell_panel(explanation, config, key)


def _cell_panel(explanation: Explanation, config: ModelConfig | None, key: str) -> None:
    """ "The formula with numbers": a clickable attention matrix and i/j selectors on the left,
    the formulas of cell (i, j) with the trace's numbers substituted on the right."""
    trace, tokens = explanation.trace, list(explanation.tokens)
    n = len(tokens)
    cell = selected_cell(n, key)

    def token_label(k: int) -> str:
        return f"{k + 1} · {tokens[k]}"

    clickable = n * n <= plots.HOVER_CELLS_MAX  # one invisible marker per cell: not for 512²
    st.header("The formula with numbers", divider="blue")
    st.write(
        "Click a cell of the attention matrix, or pick a query token i and a key token j."
        if clickable
        else f"Pick a query token i and a key token j ({n} tokens: too many cells to click)."
    )
    chart, numbers = st.columns([2, 3])
    with chart:
        figure = cached(_picker_heatmap, trace.attn[0], tokens, cell, clickable)
        if clickable:
            st.plotly_chart(
                figure,
                width="stretch",
                key=f"{key}_click",
                on_select=functools.partial(_select_clicked_cell, key),
                selection_mode="points",
            )
        else:
            st.plotly_chart(figure, width="stretch", key=f"{key}_click")
        st.selectbox("Query token i", range(n), format_func=token_label, key=f"{key}_i")
        st.selectbox("Key token j", range(n), format_func=token_label, key=f"{key}_j")
    with numbers:
        for caption, latex in formulas.cell_latex(
            trace, *cell, tokens, list(explanation.classes), config
        ):
            st.markdown(caption)
            st.latex(latex)


def minilm_attention(model: Classifier, text: str) -> reference.ReferenceAttention:
    """MiniLM's attention over the same tokens as `model` reads for `text` (shared cache)."""
    batch = model.encoder.tokenize([text])
    load_reference_model()
    ids = batch.ids[0][batch.mask[0]]
    return _shared(digest("minilm", ids), functools.partial(reference.minilm_attention, batch))


# ---------------------------------------------------------------------------------------------
# Checkpoints as ZIP files: download a model, upload one into this session


def checkpoint_download(
    model: Classifier,
    name: str,
    metrics: dict[str, Any] | None = None,
    key: str = "checkpoint_zip",
    metadata: dict[str, Any] | None = None,
) -> None:
    """A "Download checkpoint (ZIP)" button: `{name}.zip` holds config.json, model.safetensors
    and, when given, metrics.json (checkpoint.to_zip). The ZIP is made only when clicked."""
    zip_file = functools.partial(checkpoint.to_zip, model, metadata, metrics)
    _download("Download checkpoint (ZIP)", zip_file, f"{name}.zip", key, "download")


def _upload_name(filename: str) -> str:
    """A new name in user_models() from the file's: digits.zip -> digits-upload(-2, -3...)."""
    base = f"{Path(filename).stem.strip() or 'checkpoint'}-upload"
    name, k = base, 2
    while name in user_models():
        name, k = f"{base}-{k}", k + 1
    return name


def _add_uploaded_checkpoint(raw: bytes, filename: str) -> tuple[bool, str]:
    """Read a checkpoint ZIP into this session's models: (it worked, what to tell the user)."""
    try:
        loaded = checkpoint.from_zip(raw, device=pick_device())
    except checkpoint.CheckpointError as err:
        return False, f"Cannot load `{filename}`: {err}"
    if not isinstance(loaded.model, Classifier):
        return False, (
            f"Cannot load `{filename}`: it holds a bare {type(loaded.model).__name__}, without "
            "the text or image encoder the pages feed it through. Load a classifier checkpoint "
            "(as the Train page or `python -m dense_attention train` save)."
        )
    name = _upload_name(filename)
    user_models()[name] = loaded.model
    kind, label = loaded.model.config.kind, f"{name}{USER_SUFFIX}"
    picks = st.session_state.setdefault(SELECTED_MODEL, {})
    picks[kind] = picks["any"] = label  # picked, as a model trained here is
    return True, (
        f"Loaded **{name}**, a {kind} model. It is now in the model picker of every page that "
        f"shows {kind} models, as “{label}”, and picked there (only you see it)."
    )


def checkpoint_upload(key: str = "checkpoint_upload") -> None:
    """A ZIP uploader: a checkpoint read from it joins this session's models (user_models()).

    Each file is read once (its file_id is remembered under f"{key}_done") and what came of it
    stays shown while the file is in the uploader. Only classifier checkpoints are accepted;
    any problem (not a ZIP, a pickle, a foreign config...) is an st.error, never a traceback.
    """
    file = st.file_uploader(
        "Load a checkpoint (ZIP)",
        type=["zip"],
        key=key,
        max_upload_size=max(1, checkpoint.MAX_ZIP_BYTES // 2**20),
        help="A ZIP as “Download checkpoint (ZIP)” makes it: config.json + model.safetensors. "
        "Pickle-based files (torch.save, .pt, .bin, .pkl) are refused.",
    )
    if file is None:
        return
    done = st.session_state.get(f"{key}_done")
    if done is None or done[0] != file.file_id:
        done = (file.file_id, *_add_uploaded_checkpoint(file.getvalue(), file.name))
        st.session_state[f"{key}_done"] = done
    _, ok, message = done
    if ok:
        st.success(message, icon=":material/check_circle:")
    else:
        st.error(message, icon=":material/error:")


# ---------------------------------------------------------------------------------------------
# Presentation mode: one slide per step, in large type

SLIDE_VIEW = "slide_view"  # key of the slide's container: its CSS class scopes the large type
PRESENT_CSS = """<style>
.st-key-slide_view h1 { font-size: 3.4rem; }
.st-key-slide_view [data-testid="stMarkdownContainer"] p,
.st-key-slide_view [data-testid="stMarkdownContainer"] li { font-size: 1.4rem; line-height: 1.5; }
.st-key-slide_view .katex-display { font-size: 1.5rem; }
.st-key-slide_view summary p { font-size: 1.2rem; }
.st-key-slide_controls [data-testid="stMarkdownContainer"] { font-size: 1.3rem; }
</style>"""


def training_metadata(settings: Settings) -> dict[str, Any]:
    """A shipped checkpoint's metadata (dataset, split_seed, limit...); {} for a session model."""
    info = checkpoints().get(settings.model_name)
    try:
        return checkpoint.read_metadata(info.path) if info else {}
    except checkpoint.CheckpointError:
        return {}


PRESENT_EXAMPLES = 10  # test-set pictures offered on the present page (one of each class first)


def presentation_pictures(settings: Settings) -> dict[str, Image.Image]:
    """Pictures to present, by name: test-set examples of the model's own dataset first (a
    digits model means something on a digit, not on a photo), then the demo photos."""
    meta = training_metadata(settings)
    found: dict[str, Image.Image] = {}
    if meta.get("dataset") in DATASETS:
        try:
            examples = images.test_examples(
                meta["dataset"], PRESENT_EXAMPLES, meta.get("split_seed", 0), meta.get("limit")
            )
        except DataError:  # e.g. Fashion-MNIST not installed: the photos remain
            examples = []
        found |= {f"test {k + 1} · {ex.label}": ex.image for k, ex in enumerate(examples)}
    return found | images.demo_images()


def current_slide(n: int) -> int:
    """The slide index in st.session_state[SLIDE] (0-based; it may come from a shared URL),
    clamped into 0..n-1 and stored back."""
    try:
        k = int(st.session_state.get(SLIDE, 0))
    except (TypeError, ValueError):
        k = 0
    st.session_state[SLIDE] = k = min(max(k, 0), n - 1)
    return k


def _step_slide(delta: int, n: int) -> None:
    st.session_state[SLIDE] = min(max(current_slide(n) + delta, 0), n - 1)


def slide_controls(n: int) -> int:
    """Previous, "Slide k of n", Next (disabled at the ends); returns the current slide index."""
    k = current_slide(n)
    with st.container(key="slide_controls"):
        back, counter, forward = st.columns([1, 2, 1], vertical_alignment="center")
    back.button(
        "Previous",
        key="slide_previous",
        on_click=_step_slide,
        args=(-1, n),
        disabled=k == 0,
        icon=":material/arrow_back:",
        width="stretch",
    )
    counter.markdown(
        f"<div style='text-align:center'>Slide {k + 1} of {n}</div>", unsafe_allow_html=True
    )
    forward.button(
        "Next",
        key="slide_next",
        on_click=_step_slide,
        args=(1, n),
        disabled=k == n - 1,
        icon=":material/arrow_forward:",
        icon_position="right",
        type="primary",
        width="stretch",
    )
    return k


def sentence_line(key: str = "sentence_line") -> str:
    """A one-line box for the sentence of the text pages (st.session_state[SENTENCE])."""
    st.session_state.setdefault(SENTENCE, EXAMPLE_SENTENCES[0])
    st.session_state[key] = st.session_state[SENTENCE]
    st.text_input("Sentence", key=key, on_change=_copy_state, args=(key, SENTENCE))
    return _shared_sentence()


def slide_input(model: Classifier, item: Any, explanation: Explanation) -> None:
    """What the model reads, for the first slide: the tokens as chips, or the picture as the
    model sees it, cut into its patches."""
    tokens = list(explanation.tokens)
    if model.config.kind == "text":
        token_box(len(tokens)).html(token_chips_html(tokens))
        return
    cfg = model.config.image
    title = f"The {cfg.size}×{cfg.size} input, cut into {cfg.num_patches} patches"
    pixels = images.resized_input(model, item)
    grid = cached(plots.image_with_grid, pixels, cfg.patch, tokens, title)
    st.plotly_chart(grid, width="stretch", key="slide_input_grid")


SLIDE_FONT_PX = 16  # plotly's default is 12: too small across a room


def _slide_figures(trace: Trace, tokens: list[str], classes: list[str]) -> dict[str, go.Figure]:
    """plots.trace_figures in larger type (its own copies: cached figures are shared)."""
    figures = plots.trace_figures(trace, tokens, classes)
    for fig in figures.values():
        fig.update_layout(font_size=SLIDE_FONT_PX, title_font_size=round(SLIDE_FONT_PX * 1.4))
    return figures


def render_slide(
    slide: Slide,
    explanation: Explanation,
    config: ModelConfig,
    show_input: Callable[[], None] | None = None,
) -> None:
    """One slide in large type: its title, the formulas of its steps (for `config`, the live
    settings) each with its sentence, its figure, and the speaker notes in an expander.
    `show_input` draws the input under the first slide's formula."""
    trace = explanation.trace
    figures = cached(_slide_figures, trace, list(explanation.tokens), list(explanation.classes))
    st.html(PRESENT_CSS)
    with st.container(key=SLIDE_VIEW):
        st.title(slide.title)
        words, picture = st.columns([2, 3], gap="large")
        with words:
            for step in steps_of(slide):
                st.latex(formulas.step_latex(step.key, trace.similarity, config, trace.temperature))
                st.markdown(step.explanation)
            if slide.key == "input" and show_input is not None:
                show_input()
            if slide.figure == "probs":
                st.markdown(prediction_line(explanation))
        with picture:
            st.plotly_chart(figures[slide.figure], width="stretch", key=f"slide_{slide.key}")
        with st.expander("Speaker notes", icon=":material/record_voice_over:"):
            st.markdown(slide.note)
