"""The app's Streamlit layer, the only library module that imports streamlit: cached loaders,
session-state keys, the shared sidebar, and the renderers the pages share (steps, the formula
with numbers, exports, friendly errors).

Isolation between sessions: `st.cache_resource` holds only read-only things shared by every user
(shipped checkpoints in eval mode, MiniLM, figures keyed by a digest of everything they show). A
model trained in a session lives in `st.session_state[USER_MODELS]`, never in a shared cache.
"""

from __future__ import annotations

import functools
import hashlib
import html
import os
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

from . import checkpoint, export, formulas, plots, reference
from .classifier import Classifier, Explanation
from .config import POOLINGS, ModelConfig
from .encoders import CHARS_PER_TOKEN_CAP, EncodingError, load_minilm
from .similarity import SIMILARITIES
from .trace import TENSOR_FIELDS, Trace
from .train import pick_device

# ---------------------------------------------------------------------------------------------
# Session-state keys, all in one place

USER_MODELS = "user_models"  # dict name -> Classifier trained in this session (never shared)
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
    """Models trained in this session: name -> Classifier (only this session sees them)."""
    return st.session_state.setdefault(USER_MODELS, {})


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
    st.session_state[MODEL_WIDGET] = chosen if chosen in labels else labels[0]
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
    return Settings(label, model, similarity, float(temperature), pooling, changed, cache_key)


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
    return st.session_state[SENTENCE]


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
        st.download_button(
            "PNG image",
            data=functools.partial(_png, fig),
            file_name=f"{name}.png",
            mime="image/png",
            on_click="ignore",
            key=f"{key}_png",
            icon=":material/image:",
        )
        st.download_button(
            "HTML (interactive)",
            data=functools.partial(export.figure_html, fig),
            file_name=f"{name}.html",
            mime="text/html",
            on_click="ignore",
            key=f"{key}_html",
            icon=":material/html:",
        )
        if csv is not None:
            st.download_button(
                "CSV (the numbers)",
                data=csv,
                file_name=f"{name}.csv",
                mime="text/csv",
                on_click="ignore",
                key=f"{key}_csv",
                icon=":material/table:",
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
    st.download_button(
        "Download the whole trace (JSON)",
        data=functools.partial(export.trace_json, explanation),
        file_name=f"{name}.json",
        mime="application/json",
        on_click="ignore",
        key=key,
        icon=":material/data_object:",
    )


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
