"""Tests for inputs.text_encoder: text -> tokens, x and mask, in every token-embedding mode."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dense_attention.core.config import ConfigError
from dense_attention.inputs.encoding import EncodingError
from dense_attention.inputs.text_encoder import (
    TEXT_MODES,
    TextConfig,
    TextEncoder,
    load_minilm,
    load_tokenizer,
    minilm_path,
)

SENTENCES = [
    "The cat sat on the mat.",
    "Attention pools the tokens that matter most for the prediction, one weight each.",
    "playing 😀 مرحبا بالعالم 你好世界 नमस्ते दुनिया",
]


@pytest.fixture(scope="module", params=TEXT_MODES)
def text_encoder(request) -> TextEncoder:
    torch.manual_seed(0)
    return TextEncoder(TextConfig(mode=request.param, max_len=32)).eval()


# --------------------------------------------------------------------------------------------
# Text: tokenization


@pytest.mark.parametrize("text", ["", "   ", "\n\t  \u3000"])
def test_empty_text_raises(text: str) -> None:
    with pytest.raises(EncodingError, match="Type some text: the input is empty"):
        TextEncoder(TextConfig()).tokenize([text])


def test_batch_with_one_empty_text_raises_and_names_it() -> None:
    with pytest.raises(EncodingError, match=r"empty \(text #1\)"):
        TextEncoder(TextConfig()).tokenize(["fine", " "])
    with pytest.raises(EncodingError):
        TextEncoder(TextConfig()).tokenize([])


def test_text_without_readable_characters_raises() -> None:
    with pytest.raises(EncodingError, match="no readable characters"):
        TextEncoder(TextConfig()).tokenize(["\u200b\u0301"])


@pytest.mark.parametrize(
    "text",
    ["😀🎉 👍🏽", "مرحبا بالعالم", "你好，世界", "नमस्ते दुनिया", "  padded  text  ", "ünïcödé CAFÉ"],
)
def test_any_script_tokenizes_with_cls_and_sep(text: str) -> None:
    batch = TextEncoder(TextConfig()).tokenize([text])
    tokens = batch.tokens[0]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and len(tokens) > 2
    assert batch.ids[0, 0] == 101 and batch.ids[0, len(tokens) - 1] == 102
    assert len(tokens) == int(batch.mask[0].sum()) == batch.ids.shape[1]
    assert batch.truncated == [0]
    assert "[UNK]" not in tokens  # unknown pieces show the original text instead


def test_wordpieces_and_unknown_spans_are_displayed() -> None:
    tokens = TextEncoder(TextConfig()).tokenize(["Tokenizing 😀"]).tokens[0]
    assert tokens == ["[CLS]", "token", "##izing", "😀", "[SEP]"]


def test_truncation_counts_the_cut_tokens() -> None:
    batch = TextEncoder(TextConfig(max_len=8)).tokenize(["a b c d e f g h i j", "a b"])
    assert batch.ids.shape == (2, 8)
    assert batch.tokens[0] == ["[CLS]", *"abcdef", "[SEP]"]
    assert batch.truncated == [4, 0]
    assert batch.mask.sum(1).tolist() == [8, 4]


@pytest.mark.parametrize("words", [10_000, 1_000_000])
def test_very_long_text_is_truncated_fast(words: int) -> None:
    encoder = TextEncoder(TextConfig(max_len=64))
    start = time.perf_counter()
    x, mask, batch = encoder.encode([" ".join(["playing"] * words)])
    assert time.perf_counter() - start < 2.0  # tokenizing all 8 M characters would take ~8 s
    assert x.shape == (1, 64, encoder.config.input_dim) and bool(mask.all())
    assert batch.tokens[0][-1] == "[SEP]"
    assert 0.9 * words <= batch.truncated[0] <= words  # every word is one token here


def test_special_token_ids_match_the_tokenizer() -> None:
    tok = load_tokenizer()
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id) == (
        0,
        100,
        101,
        102,
    )
    assert len(tok) == 30522
    assert minilm_path().endswith("model")


# --------------------------------------------------------------------------------------------
# Text: embeddings


def test_x_shape_matches_input_dim(text_encoder: TextEncoder) -> None:
    x, mask, batch = text_encoder.encode(SENTENCES)
    n = batch.ids.shape[1]
    assert x.shape == (3, n, text_encoder.config.input_dim) and x.dtype == torch.float32
    assert mask.dtype == torch.bool and mask.shape == (3, n)
    assert [len(t) for t in batch.tokens] == mask.sum(1).tolist()
    assert torch.isfinite(x).all()
    assert (x[~mask] == 0).all()


def test_batch_padding_does_not_change_real_positions(text_encoder: TextEncoder) -> None:
    short, long = SENTENCES[0], SENTENCES[1]
    x_alone, mask_alone, _ = text_encoder.encode([short])
    x_batch, mask_batch, _ = text_encoder.encode([long, short])
    n = int(mask_alone.sum())
    assert x_batch.shape[1] > n and int(mask_batch[1].sum()) == n
    torch.testing.assert_close(x_batch[1, :n], x_alone[0, :n], atol=1e-5, rtol=1e-5)


def test_minilm_modes_keep_the_checkpoint_small() -> None:
    for mode in ("minilm_static", "minilm_contextual"):
        state = TextEncoder(TextConfig(mode=mode, max_len=64, pos_dim=16)).state_dict()
        assert list(state) == ["pos.weight"] and state["pos.weight"].shape == (64, 16)


def test_learned_mode_keeps_only_vocab_rows() -> None:
    vocab = TextEncoder.build_vocab(SENTENCES)
    encoder = TextEncoder(TextConfig(vocab=vocab, embed_dim=8))
    state = encoder.state_dict()
    assert sorted(state) == ["pos.weight", "tok.weight", "vocab_ids"]
    assert state["tok.weight"].shape == (len(vocab), 8)
    assert state["vocab_ids"].tolist() == list(vocab)
    assert all(v.shape[0] < 30522 for v in state.values())


def test_learned_state_dict_round_trip() -> None:
    config = TextConfig(vocab=TextEncoder.build_vocab(SENTENCES))
    first, second = TextEncoder(config), TextEncoder(config)
    second.load_state_dict(first.state_dict())
    x1, _, _ = first.encode(SENTENCES)
    x2, _, _ = second.encode(SENTENCES)
    torch.testing.assert_close(x1, x2, atol=0, rtol=0)


def test_unseen_ids_use_the_unk_row_and_gradients_flow() -> None:
    vocab = TextEncoder.build_vocab(["the cat"])
    encoder = TextEncoder(TextConfig(vocab=vocab, embed_dim=4, pos_dim=2))
    x, mask, batch = encoder.encode(["the zebra"])
    unk_row = encoder.tok.weight[vocab.index(100)]
    torch.testing.assert_close(x[0, 2, :4], unk_row)  # "zebra" is not in the vocab
    assert batch.tokens[0] == ["[CLS]", "the", "zebra", "[SEP]"]
    x.sum().backward()
    assert encoder.tok.weight.grad.abs().sum() > 0 and encoder.pos.weight.grad.abs().sum() > 0


def test_build_vocab_is_sorted_deterministic_and_bounded() -> None:
    texts = ["the cat", "the dog", "the cat sat", ""]
    vocab = TextEncoder.build_vocab(texts)
    assert vocab == tuple(sorted(vocab)) == TextEncoder.build_vocab(list(reversed(texts)))
    assert {0, 100, 101, 102} <= set(vocab) and len(vocab) == 4 + 4  # the cat dog sat
    the, cat = load_tokenizer().convert_tokens_to_ids(["the", "cat"])
    assert TextEncoder.build_vocab(texts, min_count=2) == tuple(
        sorted((0, 100, 101, 102, the, cat))
    )
    assert TextEncoder.build_vocab(texts, max_size=5) == tuple(sorted((0, 100, 101, 102, the)))


def test_static_embeddings_are_minilm_word_embeddings() -> None:
    encoder = TextEncoder(TextConfig(mode="minilm_static", pos_dim=3))
    x, mask, batch = encoder.encode(SENTENCES)
    table = load_minilm().embeddings.word_embeddings.weight
    expected = table[batch.ids] * mask.unsqueeze(-1)
    torch.testing.assert_close(x[..., :384], expected, atol=0, rtol=0)
    torch.testing.assert_close(x[0, :2, 384:], encoder.pos.weight[:2])


def test_contextual_embeddings_are_minilm_last_hidden_state() -> None:
    from transformers import AutoModel

    reference = AutoModel.from_pretrained(minilm_path(), local_files_only=True).eval()
    encoder = TextEncoder(TextConfig(mode="minilm_contextual", pos_dim=0))
    x, mask, batch = encoder.encode(SENTENCES)
    with torch.no_grad():
        hidden = reference(input_ids=batch.ids, attention_mask=batch.mask.long()).last_hidden_state
    assert x.shape[-1] == 384 == encoder.config.input_dim
    torch.testing.assert_close(x[mask], hidden[mask], atol=1e-5, rtol=1e-4)


def test_text_config_validation_and_json_round_trip() -> None:
    config = TextConfig(mode="learned", vocab=(102, 0, 101, 100, 2009))
    assert config.vocab == (0, 100, 101, 102, 2009)
    assert TextConfig.from_dict({**config.to_dict(), "vocab": [0, 100, 101, 102, 2009]}) == config
    assert TextConfig(mode="minilm_static", embed_dim=32, pos_dim=16).input_dim == 400
    with pytest.raises(ConfigError):
        TextConfig(mode="bag_of_words")
    with pytest.raises(ConfigError):
        TextConfig(vocab=(5, 6))  # no special tokens
    with pytest.raises(EncodingError):
        TextEncoder(TextConfig(max_len=4))(torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 5))


# The background preload and a page load MiniLM's tokenizer and model at the same moment in a
# fresh process (transformers not yet imported): with a lock each, one of them raised
# "cannot import name 'AutoTokenizer' from 'transformers'" in about half of such processes.
_RACE = """
import threading
from dense_attention.inputs import text_encoder as te
barrier, errors = threading.Barrier(2), []
def run(load):
    barrier.wait()
    try:
        load()
    except Exception as err:
        errors.append(repr(err))
threads = [threading.Thread(target=run, args=(f,)) for f in (te.load_tokenizer, te.load_minilm)]
[t.start() for t in threads]
[t.join() for t in threads]
assert te.load_tokenizer() is te.load_tokenizer() and te.load_minilm() is te.load_minilm()
print("ERRORS", errors)
"""


def test_tokenizer_and_model_load_at_once_in_fresh_processes() -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "TRANSFORMERS_VERBOSITY": "error"}
    for _ in range(6):
        done = subprocess.run(
            [sys.executable, "-c", _RACE], env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "ERRORS []" in done.stdout, done.stdout[-2000:]
