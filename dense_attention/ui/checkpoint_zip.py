"""Checkpoints as ZIP files: download a model, upload one into this browser's models."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import streamlit as st

from ..core.i18n import tr
from ..figures import export
from ..inputs.classifier import Classifier
from ..server import metrics
from ..storage import checkpoint
from ..training.train import pick_device
from . import browser, state
from .charts import download
from .styles import md

CHECKPOINT_UPLOAD_MB = max(1, checkpoint.MAX_ZIP_BYTES // 2**20)  # the uploader's stated limit


def checkpoint_download(
    model: Classifier,
    name: str,
    metrics: dict[str, Any] | None = None,
    key: str = "checkpoint_zip",
    metadata: dict[str, Any] | None = None,
) -> None:
    """A "Download checkpoint (ZIP)" button: a ZIP named after `name` (file-system safe:
    "digits #1" -> digits-1.zip) holds config.json, model.safetensors and, when given,
    metrics.json (checkpoint.to_zip). The ZIP is made only when clicked."""
    zip_file = functools.partial(checkpoint.to_zip, model, metadata, metrics)
    download(
        tr("Download checkpoint (ZIP)"), zip_file, f"{export.file_stem(name)}.zip", key, "download"
    )


def trained_download(trained: metrics.TrainedModel, key: str = "checkpoint_zip") -> None:
    """checkpoint_download of a run of this browser, named as in the picker, with its metrics
    and its training metadata (dataset, split seed, limit: test examples are found again)."""
    runs = browser.workspace().results.items()
    name = next((n for n, r in runs if r is trained), "model")
    metadata = trained.training_metadata()
    checkpoint_download(trained.model, name, trained.to_json(), key=key, metadata=metadata)


def _upload_name(filename: str) -> str:
    """A new name in user_models() from the file's: digits.zip -> digits-upload(-2, -3...)."""
    base = f"{Path(filename).stem.strip() or 'checkpoint'}-upload"
    name, k = base, 2
    while name in browser.user_models():
        name, k = f"{base}-{k}", k + 1
    return name


def _training_metadata(loaded: checkpoint.Loaded) -> dict[str, Any]:
    """The ZIP's dataset, split seed and limit: config.json's metadata, else metrics.json's."""
    found = {**(loaded.metrics or {}), **loaded.metadata}
    return {k: found[k] for k in ("dataset", "split_seed", "limit") if k in found}


def _add_uploaded_checkpoint(raw: bytes, filename: str) -> tuple[bool, str]:
    """Read a checkpoint ZIP into this session's models: (it worked, what to tell the user)."""
    try:
        loaded = checkpoint.from_zip(raw, device=pick_device())
    except checkpoint.CheckpointError as err:
        return False, tr("Cannot load {filename}: {err}", filename=md(filename), err=md(err))
    if not isinstance(loaded.model, Classifier):
        return False, (
            tr(
                "Cannot load {filename}: it holds a bare {name__}, without the text or "
                "image encoder the pages feed it through. Load a classifier checkpoint "
                "(as the Train page or `python -m dense_attention train` save).",
                filename=md(filename),
                name__=type(loaded.model).__name__,
            )
        )
    name = _upload_name(filename)
    browser.user_models()[name] = loaded.model
    browser.workspace().metadata[name] = _training_metadata(loaded)
    browser.save_model(name)  # kept on disk, as a model trained here is
    browser.pick(loaded.model, name)  # picked, as a model trained here is
    kind, label = loaded.model.config.kind, browser.label(name)
    article = "an" if kind[0] in "aeiou" else "a"
    return True, (
        tr(
            "Loaded **{name}**, {article} {kind} model. It is now in the model "
            "picker of every page that shows {kind} models, as “{label}”, and picked "
            "there (only you see it).",
            name=md(name),
            article=article,
            kind=kind,
            label=md(label),
        )
    )


def checkpoint_upload(key: str = "checkpoint_upload") -> None:
    """A ZIP uploader: a checkpoint read from it joins this session's models (user_models()).

    Each file is read once (its file_id is remembered under f"{key}_done") and what came of it
    stays shown while the file is in the uploader. Only classifier checkpoints are accepted;
    any problem (not a ZIP, a pickle, a foreign config...) is an st.error, never a traceback.
    """
    file = st.file_uploader(
        tr("Load a checkpoint (ZIP)"),
        type=["zip"],
        key=key,
        max_upload_size=CHECKPOINT_UPLOAD_MB,
        help=tr(
            "Up to {CHECKPOINT_UPLOAD_MB} MB. A ZIP as “Download checkpoint (ZIP)” "
            "makes it: config.json + model.safetensors. Pickle-based files "
            "(torch.save, .pt, .bin, .pkl) are refused.",
            CHECKPOINT_UPLOAD_MB=CHECKPOINT_UPLOAD_MB,
        ),
    )
    if file is None:
        return
    done_key = f"{key}{state.UPLOAD_DONE}"
    done = st.session_state.get(done_key)
    if done is None or done[0] != file.file_id:
        done = (file.file_id, *_add_uploaded_checkpoint(file.getvalue(), file.name))
        st.session_state[done_key] = done
    _, ok, message = done
    if ok:
        st.success(message, icon=":material/check_circle:")
    else:
        st.error(message, icon=":material/error:")
