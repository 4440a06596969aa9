"""Trace: every intermediate of one DenseAttention pass, named after the formulas, with shapes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor | Sequence[float] | Sequence[Sequence[float]]

TENSOR_FIELDS = (
    "x",
    "mask",
    "h",
    "scores",
    "attn",
    "values",
    "pool_scores",
    "alpha",
    "pooled",
    "c",
    "h_o",
    "logits",
    "probs",
    "head_scores",
    "head_attn",
)
# Fields indexed by token on dimension 1, and those indexed by token on dimensions 1 and 2.
_PER_TOKEN = ("x", "mask", "h", "values", "pool_scores", "alpha")
_PER_PAIR = ("scores", "attn")
_PER_HEAD_PAIR = ("head_scores", "head_attn")  # indexed by token on dimensions 2 and 3


@dataclass(frozen=True)
class Trace:
    """Intermediates of `DenseAttention.trace` (B batch, N tokens, D input, d hidden, C classes,
    H heads).

    Each head k has its own scores and attention (`head_scores`, `head_attn`) and its own part
    v^k_i = sum_j a^k_ij h^k_j of v; `scores` and `attn` are their mean over the heads, so with
    one head they are that head's, as before heads existed.

    Padding (mask False) gets zero weight in `attn` (its row and its column) and in `alpha`;
    `h` and `scores` are the formulas evaluated at every position, padding included.
    """

    x: torch.Tensor  # (B, N, D) input tokens
    mask: torch.Tensor  # (B, N) bool, True = real token
    h: torch.Tensor  # (B, N, d) h_i = act(W x_i + b)
    scores: torch.Tensor  # (B, N, N) s(h_i, h_j) / tau, the softmax logits
    attn: torch.Tensor  # (B, N, N) a_ij = softmax_j(scores_ij) over real j
    values: torch.Tensor  # (B, N, d) v_i = sum_j a_ij h_j
    pool_scores: torch.Tensor  # (B, N) e_i = u^T tanh(W_a v_i + b_a); zeros for mean pooling
    alpha: torch.Tensor  # (B, N) alpha_i = softmax_i(e_i) over real i
    pooled: torch.Tensor  # (B, d) sum_i alpha_i v_i
    c: torch.Tensor  # (B, d) sigma(pooled)
    h_o: torch.Tensor  # (B, d) masked mean of h_i (not fed to the output when skip="none")
    logits: torch.Tensor  # (B, C) z = W2 [c; h_o] + b2
    probs: torch.Tensor  # (B, C) softmax(z)
    similarity: str  # the similarity used for this trace
    temperature: float  # the temperature used for this trace
    exclude_self: bool = False  # a_ii was masked before the softmax (ModelConfig.exclude_self)
    head_scores: torch.Tensor | None = None  # (B, H, N, N) head k's s(h^k_i, h^k_j) / tau
    head_attn: torch.Tensor | None = None  # (B, H, N, N) head k's a^k_ij = softmax_j over real j

    def __post_init__(self) -> None:
        # A trace built without heads (one head): its scores and attention are that head's.
        if self.head_scores is None:
            object.__setattr__(self, "head_scores", self.scores[:, None])
        if self.head_attn is None:
            object.__setattr__(self, "head_attn", self.attn[:, None])

    @property
    def heads(self) -> int:
        """H, the number of attention heads."""
        return self.head_attn.shape[1]

    @property
    def batch_size(self) -> int:
        return self.x.shape[0]

    def lengths(self) -> list[int]:
        """Real tokens per example."""
        return [int(n) for n in self.mask.sum(dim=1)]

    def example(self, b: int, crop: bool = True) -> Trace:
        """Example `b` as a batch of one; with `crop`, only its real tokens (padding dropped)."""
        if not -self.batch_size <= b < self.batch_size:
            raise IndexError(f"example {b} is outside a batch of {self.batch_size}")
        one = {name: getattr(self, name)[b : b + 1 if b != -1 else None] for name in TENSOR_FIELDS}
        if crop:
            keep = one["mask"][0]
            for name in _PER_TOKEN:
                one[name] = one[name][:, keep]
            for name in _PER_PAIR:
                one[name] = one[name][:, keep][:, :, keep]
            for name in _PER_HEAD_PAIR:
                one[name] = one[name][:, :, keep][:, :, :, keep]
        return replace(self, **one)

    def numpy(self) -> dict[str, Any]:
        """Every field as plain numpy arrays (float32 / bool) or Python scalars."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                value = value.detach().cpu()
                value = value.numpy() if value.dtype == torch.bool else value.float().numpy()
            out[f.name] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every field as nested lists, ready for JSON export."""
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.numpy().items()}

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(getattr(self, name).shape) for name in TENSOR_FIELDS}


def to_numpy(values: ArrayLike) -> np.ndarray:
    """A float64 numpy copy of a tensor, array or nested list."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def attention_entropy(attn: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:
    """Entropy in nats of every attention row: attn (..., N, N) -> (..., N) float64.

    H_i = -sum_j a_ij ln a_ij with 0 ln 0 = 0: a row on one key has entropy 0, a uniform row over
    n keys ln n. `mask` (..., N), True = real token, zeroes the rows of padding queries.
    """
    a = to_numpy(attn)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"expected square attention matrices (..., N, N), got shape {a.shape}")
    entropy = -(a * np.log(np.where(a > 0, a, 1.0))).sum(axis=-1)
    if mask is not None:
        entropy = np.where(np.asarray(to_numpy(mask), dtype=bool), entropy, 0.0)
    return entropy


def head_distance(head_attn: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:
    """How differently the heads attend: (B, H, N, N) or (H, N, N) -> (H, H) float64, the mean
    Jensen-Shannon divergence (nats, 0 to ln 2) between two heads' rows of the same query i,
    over every real query of every example. 0 on the diagonal; `mask` (B, N) or (N,)."""
    a = to_numpy(head_attn)
    a = a[None] if a.ndim == 3 else a
    if a.ndim != 4 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"expected head attention (B, H, N, N), got shape {a.shape}")
    keep = np.ones(a.shape[0:1] + a.shape[2:3], bool) if mask is None else to_numpy(mask) > 0
    rows = a.transpose(0, 2, 1, 3)[keep.reshape(a.shape[0], a.shape[2])]  # (rows, H, N)
    p, q = rows[:, :, None, :], rows[:, None, :, :]
    m = (p + q) / 2

    def kl(u: np.ndarray) -> np.ndarray:
        return (u * np.log(np.where(u > 0, u, 1.0) / np.where(m > 0, m, 1.0))).sum(-1)

    return (kl(p) + kl(q)).mean(axis=0) / 2
