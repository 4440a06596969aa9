"""The model as runnable PyTorch code: a download button (model.py + model.safetensors in a ZIP)
on every page with a model, its example the input on the page."""

from __future__ import annotations

import functools
import re
from typing import Any

import streamlit as st
import torch

from ..core.i18n import tr
from ..figures import code_export
from ..inputs.classifier import Classifier, Explanation
from . import state
from .charts import download
from .sidebar import Settings


def _zip(model: Classifier, x: torch.Tensor, about: str, title: str) -> bytes:
    return code_export.export_classifier(model, x, about, title).zip()


def code_help(settings: Settings) -> str:
    """What the download holds, from the trained config (the live settings are not in it)."""
    c = settings.trained
    return tr(
        "model.py writes this model's formulas out in plain PyTorch as "
        "it was trained (similarity {similarity}, τ = {temperature:g}, "
        "{pooling} pooling, skip {skip}); model.safetensors holds its "
        "weights and this input's x. Needs only torch and safetensors: "
        "`python model.py` prints the prediction.",
        similarity=c.similarity,
        temperature=c.temperature,
        pooling=c.pooling,
        skip=c.skip,
    )


def code_download(
    settings: Settings,
    explanation: Explanation,
    item: Any,
    key: str = state.CODE_ZIP,
    in_sidebar: bool = False,
) -> None:
    """A "Download the model as PyTorch code" button (in the sidebar with `in_sidebar`); the ZIP
    is made only when clicked. A model with a sequence encoder gets a caption saying why there
    is none."""
    if in_sidebar:
        with st.sidebar:
            return code_download(settings, explanation, item, state.CODE_ZIP_SIDEBAR)
    encoder = settings.trained.sequence_encoder
    if encoder != "none":
        st.caption(
            tr(
                "No PyTorch-code download: this model reads x through a "
                "{encoder} sequence encoder first, and model.py holds the "
                "dense-attention core only.",
                encoder=encoder,
            )
        )
        return
    about = item if isinstance(item, str) else "the picture shown in the app"
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", settings.model_name).strip("-") or "model"
    files = functools.partial(
        _zip, settings.model, explanation.trace.x, about, f"The {settings.model_name} model"
    )
    label = tr("Download the model as PyTorch code")
    download(label, files, f"{name}-pytorch.zip", key, "code", help=code_help(settings))
