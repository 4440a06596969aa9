"""Figures and traces as files: PNG (kaleido + the system chromium), standalone HTML, CSV, JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .classifier import Explanation
from .trace import ArrayLike, to_numpy

PNG_WIDTH = 900  # pixels, for figures that leave their width to the page (Streamlit stretches)
PNG_HEIGHT = 500  # pixels, for figures without a height of their own

# Kaleido's sync server keeps one chromium open (~0.3 s an export instead of ~4 s). It is a
# process-wide singleton whose request queue is not safe to share between threads, and
# Streamlit runs every session (and every deferred download) in its own thread: one lock.
_KALEIDO_LOCK = threading.Lock()
_kaleido_started = False


class ExportError(RuntimeError):
    """A figure could not be rendered to an image; the message says why."""


def _kaleido():
    """kaleido, with its server started on first use (never at import: the app may not export)."""
    global _kaleido_started
    import kaleido

    if not _kaleido_started:
        # mathjax=False: our figures hold no LaTeX, and its default is a CDN (no network here).
        kaleido.start_sync_server(mathjax=False, silence_warnings=True)
        _kaleido_started = True
    return kaleido


def figure_png(
    fig: go.Figure, width: int | None = None, height: int | None = None, scale: float = 1.0
) -> bytes:
    """The figure as PNG bytes, (width * scale) x (height * scale) pixels.

    Width and height default to the figure's own layout size, else PNG_WIDTH x PNG_HEIGHT.
    """
    width = int(width or fig.layout.width or PNG_WIDTH)
    height = int(height or fig.layout.height or PNG_HEIGHT)
    opts = {"format": "png", "width": width, "height": height, "scale": scale}
    with _KALEIDO_LOCK:
        try:
            kaleido = _kaleido()
            return kaleido.calc_fig_sync(fig.to_dict(), opts=opts)
        except ImportError as err:
            raise ExportError("PNG export needs kaleido: `pip install kaleido`") from err
        except Exception as err:  # kaleido's own errors (no chromium, render timeout) -> one type
            raise ExportError(f"PNG export failed: {err}") from err


def figure_html(fig: go.Figure) -> str:
    """A standalone HTML page of the interactive figure; plotly.js is inlined (works offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})


def matrix_csv(
    matrix: ArrayLike,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    index_label: str = "",
) -> str:
    """A (rows, cols) matrix, or a vector as one column, as CSV with row and column labels."""
    values = to_numpy(matrix)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"expected a matrix or a vector, got shape {values.shape}")
    if values.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"{len(row_labels)} row and {len(col_labels)} column labels for a matrix of shape "
            f"{values.shape}"
        )
    frame = pd.DataFrame(values, index=list(row_labels), columns=list(col_labels))
    return safe_csv(frame, index=True, index_label=index_label or None)


# A cell a spreadsheet reads as a formula (=HYPERLINK(...), +, -, @) or that hides one behind a
# tab or carriage return: OWASP's list for CSV injection.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A string a spreadsheet would run as a formula, prefixed with ' (shown as text); any other
    value (numbers too, negative ones included) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def safe_csv(frame: pd.DataFrame, index: bool = False, **to_csv: Any) -> str:
    """`frame.to_csv(...)` with every string cell, column name and index label that starts like
    a formula neutralised (neutralise_cell): class names, tokens and dataset names come from
    uploads. Numeric columns are written as they are."""
    out = frame.map(neutralise_cell)
    out.columns = [neutralise_cell(c) for c in out.columns]
    if index:
        out.index = pd.Index([neutralise_cell(k) for k in out.index], name=out.index.name)
    return out.to_csv(index=index, **to_csv)


def token_labels(tokens: Sequence[str]) -> list[str]:
    """ "1:[CLS]", "2:the", ...: unique labels even when a token repeats (CSV headers)."""
    return [f"{k + 1}:{t}" for k, t in enumerate(tokens)]


def _numbered(prefix: str, size: int) -> list[str]:
    return [f"{prefix}{k + 1}" for k in range(size)]


def step_csv(explanation: Explanation, key: str) -> str:
    """The numbers behind step `key`'s figure (the keys of plots.trace_figures) as CSV.

    Token x token matrices (similarity, scores, attn) label rows and columns "k:token";
    token x feature matrices (x, h, values) columns x1.., h1.., v1..; vectors one row per
    component; alpha has columns e and alpha per token; probs has logit and probability per class.
    """
    t = explanation.trace.numpy()
    rows = token_labels(explanation.tokens)
    if len(rows) != t["attn"].shape[1]:
        raise ValueError(f"{len(rows)} tokens for a trace of {t['attn'].shape[1]} tokens")
    if key in ("similarity", "scores", "attn"):
        matrix = (
            t["scores"][0] * explanation.trace.temperature if key == "similarity" else t[key][0]
        )
        return matrix_csv(matrix, rows, rows, "query i \\ key j")
    if key in ("x", "h", "values"):
        prefix = {"x": "x", "h": "h", "values": "v"}[key]
        return matrix_csv(t[key][0], rows, _numbered(prefix, t[key].shape[2]), "token")
    if key == "alpha":
        table = np.stack([t["pool_scores"][0], t["alpha"][0]], axis=1)
        return matrix_csv(table, rows, ["e", "alpha"], "token")
    if key in ("c", "h_o"):
        table = np.stack([t["pooled"][0], t["c"][0]], axis=1) if key == "c" else t["h_o"][0]
        cols = ["pooled", "c"] if key == "c" else ["h_o"]
        return matrix_csv(table, _numbered("", t[key].shape[1]), cols, "component")
    if key == "probs":
        table = np.stack([t["logits"][0], t["probs"][0]], axis=1)
        return matrix_csv(table, list(explanation.classes), ["logit", "probability"], "class")
    raise ValueError(f"no table for step {key!r}")


def trace_json(explanation: Explanation) -> str:
    """The whole trace (every field, as nested lists) with its tokens and classes, as JSON."""
    trace = explanation.trace
    document = {
        "tokens": list(explanation.tokens),
        "classes": list(explanation.classes),
        "truncated": explanation.truncated,
        "shapes": {name: list(shape) for name, shape in trace.shapes().items()},
        "trace": trace.to_dict(),
    }
    return json.dumps(document)
