"""A real transformer's attention beside ours: MiniLM's attention maps (entropy: trace.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.trace import attention_entropy
from ..inputs.text_encoder import MINILM_MAX_LEN, TextEncoder, TokenBatch, load_minilm

__all__ = ["ReferenceAttention", "attention_entropy", "minilm_attention", "tokens_read"]


@dataclass(frozen=True)
class ReferenceAttention:
    """The attention of pretrained all-MiniLM-L6-v2 over one tokenized text.

    Notation: L layers (6), H heads per layer (12), N tokens including [CLS] and [SEP].
    """

    tokens: list[str]  # N display tokens, the same WordPieces as TextEncoder.tokenize gives
    attentions: np.ndarray  # (L, H, N, N) float32; row i of a head sums to 1 over keys j

    @property
    def layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def heads(self) -> int:
        return self.attentions.shape[1]

    def head(self, layer: int, head: int | None = None) -> np.ndarray:
        """(N, N) attention of one head (0-based), or the mean over the heads when head is None."""
        maps = self.attentions[layer]
        return maps.mean(axis=0) if head is None else maps[head]


@torch.no_grad()
def minilm_attention(batch: TokenBatch, b: int = 0) -> ReferenceAttention:
    """MiniLM's attention for example `b` of a TokenBatch (from TextEncoder.tokenize).

    Passing the batch our model read, rather than raw text, keeps the two models' tokens aligned
    one to one: the same MiniLM WordPiece ids, [CLS] and [SEP] included, the same truncation.
    """
    if not -len(batch.tokens) <= b < len(batch.tokens):
        raise IndexError(f"example {b} is outside a batch of {len(batch.tokens)}")
    keep = batch.mask[b]
    ids = batch.ids[b][keep][None]  # (1, N) real tokens only
    if ids.shape[1] > MINILM_MAX_LEN:
        raise ValueError(f"MiniLM reads at most {MINILM_MAX_LEN} tokens, got {ids.shape[1]}")
    model = load_minilm()
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True)
    if not out.attentions:
        raise RuntimeError("MiniLM returned no attention maps: load it with eager attention")
    maps = torch.stack(out.attentions)[:, 0]  # (L, H, N, N)
    return ReferenceAttention(tokens=list(batch.tokens[b]), attentions=maps.float().numpy())


def tokens_read(encoder: TextEncoder, text: str) -> tuple[TokenBatch, tuple[int, ...]]:
    """The batch a text model's `encoder` reads for `text`, and its real MiniLM token ids: the
    same ids give the same MiniLM attention (a cache key for minilm_attention)."""
    batch = encoder.tokenize([text])
    return batch, tuple(int(t) for t in batch.ids[0][batch.mask[0]])
