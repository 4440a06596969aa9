"""A chart with its Export menu, and download buttons whose files are made only when clicked."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from ..core.i18n import tr
from ..figures import export
from ..inputs.classifier import Explanation
from . import lazy
from .lazy import Figure, figure_of

MIME_TYPES = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "html": "text/html",
    "csv": "text/csv",
    "json": "application/json",
    "zip": "application/zip",
    "pdf": "application/pdf",
}


def download(
    label: str,
    data: Callable[[], Any],
    file_name: str,
    key: str,
    icon: str,
    help: str | None = None,
) -> None:
    """A download button whose file is made by `data()` only when clicked (no rerun after)."""
    st.download_button(
        label,
        data=data,
        file_name=file_name,
        mime=MIME_TYPES[file_name.rsplit(".", 1)[-1]],
        on_click="ignore",
        key=key,
        icon=f":material/{icon}:",
        help=help,
    )


def _png(fig: Figure, about: export.Provenance | None) -> bytes:
    return export.figure_png(figure_of(fig), scale=2.0, about=about)


def _file(write: Callable[..., Any], fig: Figure, about: export.Provenance | None) -> Any:
    return write(figure_of(fig), about)


def export_buttons(
    fig: Figure,
    name: str,
    csv: Callable[[], str] | None = None,
    key: str | None = None,
    *,
    about: export.Provenance | None = None,
    html: bool = True,
) -> None:
    """An "Export" popover: the figure as PNG, SVG and (with `html`) standalone HTML, its
    numbers as CSV. `about` (model, settings, input) goes into the files' titles and metadata.

    Every file is made only when its button is clicked (a PNG takes ~0.3 s, an HTML page with
    plotly.js inlined is ~5 MB), so drawing the buttons costs nothing on a rerun; `fig` may be
    what builds the figure (then built only for a file or a drawn chart).
    """
    key = key or f"export_{name}"
    with st.popover(tr("Export"), icon=":material/download:"):
        png = functools.partial(_png, fig, about)
        download(tr("PNG image"), png, f"{name}.png", f"{key}_png", "image")
        svg = functools.partial(_file, export.figure_svg, fig, about)
        download(tr("SVG (vector)"), svg, f"{name}.svg", f"{key}_svg", "image")
        if html:
            page = functools.partial(_file, export.figure_html, fig, about)
            download(tr("HTML (interactive)"), page, f"{name}.html", f"{key}_html", "html")
        if csv is not None:
            download(tr("CSV (the numbers)"), csv, f"{name}.csv", f"{key}_csv", "table")


def chart(
    fig: Figure,
    name: str,
    csv: Callable[[], str] | None = None,
    key: str = "",
    **options: Any,
) -> None:
    """A plotly chart, full width of its column, with its Export menu under it (`options`:
    export_buttons' `about` and `html`); in a live fragment only near the screen (ui.lazy)."""
    key = key or name
    lazy.plotly_chart(fig, key=f"chart_{key}", width="stretch")
    export_buttons(fig, name, csv, key=f"export_{key}", **options)


def matrix_table(matrix: Any, tokens: Sequence[str]) -> Callable[[], str]:
    """A token x token matrix as CSV, made when asked (rows and columns "k:token")."""
    labels = export.token_labels(tokens)
    return functools.partial(export.matrix_csv, matrix, labels, labels, tr("query i \\ key j"))


def trace_download(
    explanation: Explanation,
    name: str = "trace",
    key: str = "trace_json",
    about: export.Provenance | None = None,
) -> None:
    """A button for the whole trace (every intermediate, tokens, classes; with `about`, the
    model, its settings and the input) as JSON."""
    trace_file = functools.partial(export.trace_json, explanation, about)
    download(tr("Download the whole trace (JSON)"), trace_file, f"{name}.json", key, "data_object")
