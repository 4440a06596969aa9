"""What every session shares, read-only: the shipped checkpoints, MiniLM, and figures and
explanations keyed by a digest of their content (so sharing them leaks nothing)."""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from ..core import i18n
from ..explain import reference
from ..explain.query_key_map import SampleTokens, sample_test_items, sample_tokens
from ..inputs.classifier import Classifier, Explanation
from ..inputs.text_encoder import load_minilm
from ..server import memo
from ..server.hashing import digest
from ..storage import catalog, checkpoint
from ..training.train import pick_device


@st.cache_data(show_spinner=False, max_entries=8)
def _discover(root: str, stamps: tuple[tuple[str, int], ...]) -> dict[str, catalog.CheckpointInfo]:
    return catalog.discover_checkpoints(Path(root))


def checkpoints() -> dict[str, catalog.CheckpointInfo]:
    """The shipped checkpoints; re-read only when a config.json or weights file changes."""
    root = catalog.checkpoint_root()
    if not root.is_dir():
        return {}
    return _discover(str(root), catalog.folder_stamps(root))


@st.cache_data(show_spinner=False, max_entries=8)
def _variants(
    path: str, _info: catalog.CheckpointInfo, stamps: tuple[Any, ...]
) -> dict[str, catalog.CheckpointInfo]:
    return catalog.similarity_variants(_info)


def similarity_variants(info: catalog.CheckpointInfo) -> dict[str, catalog.CheckpointInfo]:
    """catalog.similarity_variants of a shipped checkpoint; re-read when a variant changes."""
    stamps = (info.stamp, *catalog.folder_stamps(info.path / catalog.VARIANTS_DIR))
    return _variants(str(info.path), info, stamps)


@st.cache_resource(show_spinner="Loading the model…", max_entries=16)
def load_checkpoint(path: str, stamp: int) -> Classifier:
    """A shipped checkpoint on the device in use, in eval mode; shared by every session, so it is
    only ever read (explain runs under no_grad and changes nothing)."""
    return checkpoint.load(path, device=pick_device())


@st.cache_resource(show_spinner=False, max_entries=8)
def query_key_sample(
    cache_key: str, _model: Classifier, dataset: str, split_seed: int
) -> SampleTokens:
    """h of every token in a sample of a shipped checkpoint's test set (the query–key map's
    points), read once per checkpoint (`cache_key`) and shared, read-only, by every session."""
    return sample_tokens(_model, sample_test_items(dataset, split_seed))


@st.cache_resource(show_spinner="Loading MiniLM (a pretrained transformer)…")
def load_reference_model():
    """The pretrained MiniLM (eval mode, frozen), loaded once per server."""
    return load_minilm()


FIGURE_CACHE_BYTES = 256 * 2**20  # figures kept for every session, in all (JSON bytes)
FIGURE_MAX_BYTES = 8 * 2**20  # a larger figure is drawn afresh each time, never kept


@st.cache_resource(show_spinner=False)
def _figures() -> memo.ByteLRU:
    """The server's figure cache: bounded by bytes, least recently used out first."""
    return memo.ByteLRU(FIGURE_CACHE_BYTES, FIGURE_MAX_BYTES)


def _shared(key: str, build: Callable[[], Any]) -> Any:
    return _figures().get_or_build(key, build)


@st.cache_resource(show_spinner=False, max_entries=64, ttl=3600)
def _shared_explanation(key: str, _build: Callable[[], Explanation]) -> Explanation:
    return _build()


def cached(build: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """build(*args, **kwargs), computed once for every session with the same arguments.

    Only for pure builders of read-only results (figures, reference attention): the key is a
    digest of the builder's name and every argument, so equal content gives the equal result.
    Building a figure costs tens of ms (plotly validates every cell); this keeps reruns fast.
    The cache is bounded by bytes (FIGURE_CACHE_BYTES; a figure over FIGURE_MAX_BYTES is
    never kept), so large pictures or many users cannot grow the server without end.
    """
    name = f"{build.__module__}.{build.__qualname__}"
    key = digest(name, i18n.language(), args, kwargs)  # a figure's words are in one language
    return _shared(key, functools.partial(build, *args, **kwargs))


def shared_explanation(
    cache_key: str, build: Callable[[], Explanation], *parts: Any
) -> Explanation:
    """build(), shared by every session for a shipped model (`cache_key`) and input `parts`."""
    return shared_result("explain", cache_key, build, *parts)


def shared_result(tag: str, cache_key: str | None, build: Callable[[], Any], *parts: Any) -> Any:
    """build() (a read-only result about a model's input, e.g. an explanation or a
    faithfulness analysis), shared by every session for a shipped model (`cache_key`; None for
    a model of this browser: computed afresh) and input `parts`. An input we cannot
    fingerprint is computed afresh."""
    if cache_key is None:
        return build()
    try:
        key = digest(tag, i18n.language(), cache_key, *parts)  # results may hold words
    except TypeError:
        return build()
    return _shared_explanation(key, build)


def minilm_attention(model: Classifier, text: str) -> reference.ReferenceAttention:
    """MiniLM's attention over the same tokens as `model` reads for `text` (shared cache)."""
    batch, ids = reference.tokens_read(model.encoder, text)
    load_reference_model()
    build = functools.partial(reference.minilm_attention, batch)
    return _shared(digest("minilm", ids), build)


# What the other pages import the first time they are opened (1-3 s each on this machine): the
# Image page's datasets and demo photos, the attention page's Captum and Kendall tau, exports.
PAGE_MODULES = (
    "sklearn.datasets",
    "skimage.data",
    "scipy.stats",
    "captum.attr",
    "plotly.offline",
)


def warm_pages() -> None:
    """Import PAGE_MODULES now (meant for the background: see warm_up_later), so the first visit
    of those pages does not wait for them; a module that fails to import is left to its page."""
    for name in PAGE_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - missing, or failing: its page will say so itself
            continue


_LOG = logging.getLogger(__name__)
WARM_UP_DELAY_S = 4.0  # after the first page's run: the browser draws its charts (2 cores)
_WARMING: list[threading.Timer] = []
_WARMING_LOCK = threading.Lock()


def _run_each(*steps: Callable[[], None]) -> None:
    """Every step, whatever the others do: a failing warm-up costs only its own page time."""
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - logged; the page that needs it loads it itself
            _LOG.exception("warm-up step %s failed", getattr(step, "__name__", step))


def warm_up_later(*steps: Callable[[], None]) -> None:
    """Run `steps` once per server, in a background thread WARM_UP_DELAY_S after the first call
    (app.py calls it when the first page's run ends): loads a later page needs, off the first
    page's path."""
    with _WARMING_LOCK:
        if _WARMING:
            return
        timer = threading.Timer(WARM_UP_DELAY_S, _run_each, args=steps)
        timer.daemon = True
        _WARMING.append(timer)
    timer.start()


ASSETS = Path(__file__).parent / "assets"  # the JavaScript and CSS of the app's own elements


@functools.cache
def component(name: str) -> Any:
    """The components-v2 element of assets/<name>.js and <name>.css, registered once per
    process. Its styles are not isolated: it reads the page (the sidebar's widgets, the slides'
    tabs), and the tests and the bench read its numbers; its classes carry its own prefix."""
    return st.components.v2.component(
        f"dense_attention_{name}",
        css=(ASSETS / f"{name}.css").read_text(),
        js=(ASSETS / f"{name}.js").read_text(),
        isolate_styles=False,
    )
