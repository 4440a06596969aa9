"""Figures and traces as files: PNG and SVG (kaleido + the system chromium), standalone HTML
(one chart, or a whole walk-through with plotly.js once), CSV, JSON; each says what made it."""

from __future__ import annotations

import html
import io
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..core.errors import DenseAttentionError
from ..core.trace import ArrayLike, to_numpy
from ..inputs.classifier import Explanation

PNG_WIDTH = 900  # pixels, for figures that leave their width to the page (Streamlit stretches)
PNG_HEIGHT = 500  # pixels, for figures without a height of their own

# Kaleido's sync server keeps one chromium open (~0.3 s an export instead of ~4 s). It is a
# process-wide singleton whose request queue is not safe to share between threads, and
# Streamlit runs every session (and every deferred download) in its own thread: one lock.
_KALEIDO_LOCK = threading.Lock()
_kaleido_started = False


class ExportError(DenseAttentionError):
    """A figure could not be rendered to an image; the message says why."""


@dataclass(frozen=True)
class Provenance:
    """What produced an exported figure or trace: written into titles, metadata and JSON."""

    model: str  # the model's label in the picker, e.g. "bbc-topics"
    similarity: str  # the similarity the trace ran with
    temperature: float  # the temperature τ it ran with
    pooling: str  # "attention" or "mean"
    text: str = ""  # the input: a sentence, or the picture's name
    verdict: str = ""  # the verdict of that input (explain.verdict), "" when not judged

    def line(self) -> str:
        """One line for a title: "model bbc-topics · similarity cosine · τ = 1 · pooling ..."."""
        return (
            f"model {self.model} · similarity {self.similarity} · τ = {self.temperature:g} · "
            f"pooling {self.pooling}"
        )

    def fields(self) -> dict[str, str]:
        """Every field as text (PNG text chunks, HTML meta tags, SVG metadata)."""
        return {name: f"{value:g}" if isinstance(value, float) else str(value)
                for name, value in asdict(self).items()}  # fmt: skip


def _kaleido():
    """kaleido, with its server started on first use (never at import: the app may not export)."""
    global _kaleido_started
    import kaleido

    if not _kaleido_started:
        # mathjax=False: our figures hold no LaTeX, and its default is a CDN (no network here).
        kaleido.start_sync_server(mathjax=False, silence_warnings=True)
        _kaleido_started = True
    return kaleido


def for_export(fig: go.Figure, about: Provenance | None = None) -> go.Figure:
    """A copy of `fig` that keeps its labels inside the file and says what made it.

    Axis margins grow to fit the tick labels (automargin): the figure's own margins are tight
    for the page, and Streamlit's default template, unlike plotly's, does not grow them, so
    a PNG made in the app cut the row labels to a character and lost the column labels.
    `about` goes under the title as a subtitle.
    """
    out = go.Figure(fig)
    out.update_xaxes(automargin=True)
    out.update_yaxes(automargin=True)
    if about is not None:
        top = out.layout.margin.t if out.layout.margin.t is not None else 50
        subtitle = html.escape(about.line(), quote=False)
        out.update_layout(title_subtitle_text=subtitle, margin_t=top + 30)
    return out


def _render(fig: go.Figure, fmt: str, width: int | None, height: int | None, scale: float) -> bytes:
    width = int(width or fig.layout.width or PNG_WIDTH)
    height = int(height or fig.layout.height or PNG_HEIGHT)
    opts = {"format": fmt, "width": width, "height": height, "scale": scale}
    with _KALEIDO_LOCK:
        try:
            kaleido = _kaleido()
            return kaleido.calc_fig_sync(fig.to_dict(), opts=opts)
        except ImportError as err:
            raise ExportError(f"{fmt.upper()} export needs kaleido: `pip install kaleido`") from err
        except Exception as err:  # kaleido's own errors (no chromium, render timeout) -> one type
            raise ExportError(f"{fmt.upper()} export failed: {err}") from err


def _png_with_text(png: bytes, about: Provenance) -> bytes:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for name, value in about.fields().items():
        info.add_itxt(name, value)
    info.add_itxt("Description", about.line())
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).save(out, format="png", pnginfo=info)
    return out.getvalue()


def figure_png(
    fig: go.Figure,
    width: int | None = None,
    height: int | None = None,
    scale: float = 1.0,
    about: Provenance | None = None,
) -> bytes:
    """The figure as PNG bytes, (width * scale) x (height * scale) pixels.

    Width and height default to the figure's own layout size, else PNG_WIDTH x PNG_HEIGHT.
    `about` goes into the subtitle and into the PNG's text chunks (model, similarity, ...).
    """
    png = _render(for_export(fig, about), "png", width, height, scale)
    return png if about is None else _png_with_text(png, about)


def figure_svg(fig: go.Figure, about: Provenance | None = None) -> bytes:
    """The figure as an SVG document at its own size; `about` also as <title> and <metadata>."""
    svg = _render(for_export(fig, about), "svg", None, None, 1.0).decode("utf-8")
    if about is not None:
        rows = "".join(f"<dal:{k}>{html.escape(v)}</dal:{k}>" for k, v in about.fields().items())
        head = (
            f"<title>{html.escape(about.line())}</title><metadata "
            f'xmlns:dal="https://dense-attention-lab/provenance">{rows}</metadata>'
        )
        start = svg.index(">", svg.index("<svg")) + 1
        svg = svg[:start] + head + svg[start:]
    return svg.encode("utf-8")


def _head(title: str, about: Provenance | None) -> str:
    meta = (
        ""
        if about is None
        else "".join(
            f'<meta name="dal:{k}" content="{html.escape(v)}">' for k, v in about.fields().items()
        )
    )
    style = "<style>body{font-family:sans-serif;max-width:1100px;margin:1em auto}</style>"
    return f'<head><meta charset="utf-8"><title>{html.escape(title)}</title>{meta}{style}</head>'


def figure_html(fig: go.Figure, about: Provenance | None = None) -> str:
    """A standalone HTML page of the interactive figure; plotly.js is inlined (works offline)."""
    if about is None:
        return fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False})
    return figures_html([("", fig)], about.line(), about)


def figures_html(
    sections: Sequence[tuple[str, go.Figure]], title: str, about: Provenance | None = None
) -> str:
    """One standalone HTML page of several interactive figures (a heading over each), with
    plotly.js inlined once (~5 MB) rather than once per figure; works offline."""
    from plotly.offline import get_plotlyjs

    parts = [f"<h1>{html.escape(title)}</h1>"]
    if about is not None:
        parts.append(f"<p>{html.escape(about.line())}</p>")
        if about.text:
            parts.append(f"<blockquote>{html.escape(about.text)}</blockquote>")
        if about.verdict:
            parts.append(f"<p>{html.escape(about.verdict)}</p>")
    for heading, fig in sections:
        if heading:
            parts.append(f"<h2>{html.escape(heading)}</h2>")
        div = for_export(fig, about).to_html(
            include_plotlyjs=False, full_html=False, config={"displaylogo": False}
        )
        parts.append(div)
    body = "\n".join(parts)
    return (
        f"<!DOCTYPE html>\n<html>{_head(title, about)}<body>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n{body}</body></html>\n'
    )


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


def file_stem(name: str, fallback: str = "model") -> str:
    """A file-system-safe stem for a download: "digits #1 (stopped)" -> "digits-1-stopped"."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return stem[:80] or fallback


def token_labels(tokens: Sequence[str]) -> list[str]:
    """ "1:[CLS]", "2:the", ...: unique labels even when a token repeats (CSV headers)."""
    return [f"{k + 1}:{t}" for k, t in enumerate(tokens)]


def _numbered(prefix: str, size: int) -> list[str]:
    return [f"{prefix}{k + 1}" for k in range(size)]


def step_csv(explanation: Explanation, key: str) -> str:
    """The numbers behind step `key`'s figure (the keys of trace_plots.trace_figures) as CSV.

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


def trace_json(explanation: Explanation, about: Provenance | None = None) -> str:
    """The whole trace (every field, as nested lists) with its tokens and classes, as JSON;
    with `about`, also the model's name, the settings it ran with and the input."""
    trace = explanation.trace
    document = {
        **(
            {}
            if about is None
            else {
                "model": about.model,
                "settings": {
                    "similarity": about.similarity,
                    "temperature": about.temperature,
                    "pooling": about.pooling,
                },
                "input": about.text,
                **({"verdict": about.verdict} if about.verdict else {}),
            }
        ),  # fmt: skip
        "tokens": list(explanation.tokens),
        "classes": list(explanation.classes),
        "truncated": explanation.truncated,
        "shapes": {name: list(shape) for name, shape in trace.shapes().items()},
        "trace": trace.to_dict(),
    }
    return json.dumps(document)
