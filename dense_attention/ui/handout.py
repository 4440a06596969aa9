"""The handout buttons: the walk-through of the page's input as one HTML file that opens offline,
and as PDF printed by the server's Chromium (the page says so when the server has none)."""

from __future__ import annotations

import functools

import streamlit as st

from ..core.config import ModelConfig
from ..core.i18n import N_, tr
from ..explain import words
from ..figures import export, handout
from ..inputs.classifier import Explanation
from .charts import download

NO_CHROMIUM = N_(
    "No PDF handout here: this server has no Chromium to print it. Download the HTML handout "
    "and print it from your browser (it opens offline)."
)


def handout_downloads(
    explanation: Explanation,
    config: ModelConfig,
    *,
    cell: tuple[int, int] | None = None,
    key: str = "steps",
    about: export.Provenance | None = None,
    inputs: words.Inputs = None,
    picture: bytes | None = None,
) -> None:
    """Two buttons, each file made only when clicked: the handout as HTML (the input, the
    prediction, every step's formula with this input's numbers for `cell`, its words and its
    chart) and as PDF; without Chromium on the server, a caption in place of the PDF button."""
    page = functools.partial(
        handout.handout_html, explanation, config,
        about=about, cell=cell, inputs=inputs, picture=picture,
    )  # fmt: skip
    stem = "handout" if about is None else f"handout-{export.file_stem(about.model)}"
    download(
        tr("Handout (HTML, opens offline)"), page, f"{stem}.html", f"{key}_handout_html",
        "description",
        help=tr(
            "The whole walk-through in one file: the input, the prediction, every "
            "step's formula with this input's numbers, its explanation and its chart.",
        ),
    )  # fmt: skip
    if handout.chromium_path() is None:
        st.caption(tr(NO_CHROMIUM))
        return
    pdf = functools.partial(_pdf, page)
    download(
        tr("Handout (PDF)"), pdf, f"{stem}.pdf", f"{key}_handout_pdf", "picture_as_pdf",
        help=tr("The same handout printed to A4 by the server's Chromium (a few seconds)."),
    )  # fmt: skip


def _pdf(page: functools.partial[str]) -> bytes:
    return handout.handout_pdf(page())
