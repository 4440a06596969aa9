"""The stored MiniLM encodings of the example sentences: equal to the real tokenizer and MiniLM,
complete, and enough for a shipped example to be explained without loading transformers."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from dense_attention.inputs import encoding_cache, text_encoder
from dense_attention.storage import catalog


@pytest.fixture(scope="module")
def stored() -> dict:
    texts, _ = encoding_cache._table()
    assert texts, f"no stored encodings in {encoding_cache.FOLDER}: run the module to build them"
    return texts


def test_every_example_the_app_offers_is_stored(stored) -> None:
    assert set(catalog.example_sentences()) <= set(stored)


@torch.no_grad()
def test_stored_entries_are_what_the_tokenizer_and_minilm_give(stored) -> None:
    tokenizer, minilm = text_encoder.load_tokenizer(), text_encoder.load_minilm()
    for text, entry in stored.items():
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        assert entry["ids"] == enc["input_ids"]
        assert entry["offsets"] == [list(o) for o in enc["offset_mapping"]]
        assert entry["pieces"] == tokenizer.convert_ids_to_tokens(enc["input_ids"])
        ids = torch.tensor([entry["full_ids"]])
        want = minilm(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
        got = encoding_cache.hidden_states(tuple(entry["full_ids"]))
        assert np.allclose(got.numpy(), want.numpy(), atol=2e-5)  # thread counts may differ


def test_tokenizing_a_stored_text_matches_the_tokenizer(stored, monkeypatch) -> None:
    texts = list(stored)[:3]
    for max_len in (128, 6):  # 6: truncated, cut the same way
        cached = text_encoder._tokenize(texts, max_len)
        monkeypatch.setattr(encoding_cache, "tokenized", lambda text: None)
        live = text_encoder._tokenize(texts, max_len)
        monkeypatch.undo()
        assert torch.equal(cached.ids, live.ids) and torch.equal(cached.mask, live.mask)
        assert (cached.tokens, cached.truncated) == (live.tokens, live.truncated)


def test_hidden_states_are_copies_and_unknown_ids_are_not_stored(stored) -> None:
    ids = tuple(next(iter(stored.values()))["full_ids"])
    encoding_cache.hidden_states(ids).zero_()
    assert encoding_cache.hidden_states(ids).abs().sum() > 0
    assert encoding_cache.hidden_states((101, 102)) is None


def test_a_shipped_example_is_explained_without_loading_transformers() -> None:
    """The home page's first chart must not wait for MiniLM (issue #14): in a fresh process,
    explaining the home model's first example imports no transformers; a typed sentence does."""
    code = """
import sys
from dense_attention.storage import catalog, checkpoint
info = catalog.discover_checkpoints(catalog.checkpoint_root())["bbc-topics"]
model = checkpoint.load(info.path)
model.explain(catalog.examples_for(info)[0])
print("transformers" in sys.modules)
model.explain("A sentence nobody stored")
print("transformers" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_unreadable_or_stale_files_are_ignored(tmp_path) -> None:
    """A broken file (here a Git LFS pointer) or another MiniLM's files: MiniLM computes all."""
    source = encoding_cache.FOLDER
    (tmp_path / encoding_cache.TEXTS_FILE).write_text(
        (source / encoding_cache.TEXTS_FILE).read_text()
    )
    (tmp_path / encoding_cache.HIDDEN_FILE).write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n"
    )
    assert encoding_cache._table(tmp_path) == ({}, {})
    (tmp_path / encoding_cache.HIDDEN_FILE).write_bytes(
        (source / encoding_cache.HIDDEN_FILE).read_bytes()
    )
    encoding_cache._table.cache_clear()  # read once per folder: read again
    assert encoding_cache._table(tmp_path)[0]  # both files good: read
    stale = json.loads((tmp_path / encoding_cache.TEXTS_FILE).read_text())
    stale["minilm"] = "0.0.0"
    (tmp_path / encoding_cache.TEXTS_FILE).write_text(json.dumps(stale))
    encoding_cache._table.cache_clear()
    assert encoding_cache._table(tmp_path) == ({}, {})
    encoding_cache._table.cache_clear()
