"""The similarity functions s(h_i, h_j), one registry that the model, the app and the CLI share."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .i18n import N_

# Notation: B batch, N tokens, d hidden size, a width of the additive attention layer.


def register_weight(module: nn.Module, name: str, value: torch.Tensor, trainable: bool) -> None:
    """Attach `value` as a trainable parameter or a fixed buffer; both are in state_dict."""
    if trainable:
        module.register_parameter(name, nn.Parameter(value))
    else:
        module.register_buffer(name, value)


class SimilarityParams(nn.Module):
    """Weights of the similarities that have any: additive (W_q, W_k, w) and bilinear (W_s).

    Every model carries both sets so the app can switch similarity on a trained model. The set
    the model was configured with is trainable (nn.Parameter); the others are fixed buffers with
    a deterministic initialisation (bilinear starts as scaled dot, W_s = I / sqrt(d)), so every
    entry of `model.parameters()` takes part in the forward pass and receives a gradient.
    """

    def __init__(self, hidden_dim: int, trainable: str) -> None:
        super().__init__()
        d = hidden_dim
        gen = torch.Generator().manual_seed(0)
        bound = 1.0 / math.sqrt(d)
        init = {
            "additive_query": (torch.rand(d, d, generator=gen) * 2 - 1) * bound,  # W_q (a, d)
            "additive_key": (torch.rand(d, d, generator=gen) * 2 - 1) * bound,  # W_k (a, d)
            "additive_vector": (torch.rand(d, generator=gen) * 2 - 1) * bound,  # w (a,)
            "bilinear": torch.eye(d) / math.sqrt(d),  # W_s (d, d)
        }
        owner = {"additive": ("additive_query", "additive_key", "additive_vector")}
        owner["bilinear"] = ("bilinear",)
        for name, value in init.items():
            register_weight(self, name, value, name in owner.get(trainable, ()))


SimilarityFn = Callable[[torch.Tensor, SimilarityParams], torch.Tensor]


def _dot(h: torch.Tensor, p: SimilarityParams) -> torch.Tensor:
    return h @ h.transpose(-1, -2)


def _scaled_dot(h: torch.Tensor, p: SimilarityParams) -> torch.Tensor:
    return (h @ h.transpose(-1, -2)) / math.sqrt(h.shape[-1])


def _cosine(h: torch.Tensor, p: SimilarityParams) -> torch.Tensor:
    unit = F.normalize(h, dim=-1, eps=1e-8)
    return unit @ unit.transpose(-1, -2)


def _neg_euclidean(h: torch.Tensor, p: SimilarityParams) -> torch.Tensor:
    # Pairwise differences, not |a|^2 + |b|^2 - 2ab: identical tokens must score exactly 0.
    dist = torch.cdist(h, h, compute_mode="donot_use_mm_for_euclid_dist")
    return -dist.square()


def _additive(h: torch.Tensor, p: SimilarityParams) -> torch.Tensor:
    query = h @ p.additive_query.T  # (B, N, a)
    key = h @ p.additive_key.T  # (B, N, a)
    return torch.tanh(query[:, :, None, :] + key[:, None, :, :]) @ p.additive_vector  # (B, N, N)


def _bilinear(h: torch.Tensor, p: SimilarityParams) -> torch.Tensor:
    return (h @ p.bilinear) @ h.transpose(-1, -2)


def split_heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(..., N, d) -> (..., H, N, d/H): head k takes the k-th equal slice of the last axis."""
    *lead, n, width = t.shape
    return t.reshape(*lead, n, heads, width // heads).transpose(-2, -3)


def merge_heads(t: torch.Tensor) -> torch.Tensor:
    """(..., H, N, d/H) -> (..., N, d): the heads' slices concatenated (split_heads undone)."""
    *lead, heads, n, width = t.shape
    return t.transpose(-2, -3).reshape(*lead, n, heads * width)


def _additive_heads(h: torch.Tensor, p: SimilarityParams, heads: int) -> torch.Tensor:
    query = split_heads(h @ p.additive_query.T, heads)  # (B, H, N, a/H)
    key = split_heads(h @ p.additive_key.T, heads)  # (B, H, N, a/H)
    w = p.additive_vector.reshape(heads, 1, 1, -1)  # head k's slice of w: (H, 1, 1, a/H)
    return (torch.tanh(query[..., :, None, :] + key[..., None, :, :]) * w).sum(-1)


def head_scores(name: str, h: torch.Tensor, p: SimilarityParams, heads: int = 1) -> torch.Tensor:
    """Each head's s(h_i, h_j) before the temperature: h (B, N, d) -> (B, H, N, N).

    One head is exactly `SIMILARITIES[name].fn(h, p)`. With H heads, head k compares the slices
    h^k (d/H wide; scaled_dot divides by sqrt(d/H)); bilinear compares (h_i W_s)^k with h_j^k,
    additive sums head k's slice of the hidden units, w^k . tanh(W_q^k h_i + W_k^k h_j).
    """
    if heads == 1:
        return SIMILARITIES[name].fn(h, p)[:, None]
    if name == "additive":
        return _additive_heads(h, p, heads)
    if name == "bilinear":
        return split_heads(h @ p.bilinear, heads) @ split_heads(h, heads).transpose(-1, -2)
    parts = split_heads(h, heads)  # (B, H, N, d/H)
    return SIMILARITIES[name].fn(parts.flatten(0, 1), p).unflatten(0, parts.shape[:2])


@dataclass(frozen=True)
class Similarity:
    """One similarity function with what the app shows about it."""

    name: str
    fn: SimilarityFn  # (h (B, N, d), params) -> s (B, N, N), before the temperature
    latex: str  # s(h_i, h_j) written out
    description: str  # English, marked for core.i18n: show it as tr(description)


SIMILARITIES: dict[str, Similarity] = {
    s.name: s
    for s in (
        Similarity("dot", _dot, r"h_i^\top h_j", N_("Plain dot product: large vectors dominate.")),
        Similarity(
            "scaled_dot",
            _scaled_dot,
            r"\frac{h_i^\top h_j}{\sqrt{d}}",
            N_("Dot product over sqrt(d), as in Transformers: keeps scores in range as d grows."),
        ),
        Similarity(
            "cosine",
            _cosine,
            r"\frac{h_i^\top h_j}{\lVert h_i\rVert\,\lVert h_j\rVert}",
            N_("Angle only, in [-1, 1]: scores are small, so a low temperature sharpens them."),
        ),
        Similarity(
            "neg_euclidean",
            _neg_euclidean,
            r"-\lVert h_i - h_j\rVert^2",
            N_("Negative squared distance: every token scores itself highest (0)."),
        ),
        Similarity(
            "additive",
            _additive,
            r"w^\top \tanh(W_q h_i + W_k h_j)",
            N_("Bahdanau-style additive attention, the source article's own layer."),
        ),
        Similarity(
            "bilinear",
            _bilinear,
            r"h_i^\top W_s h_j",
            N_("A learned bilinear form; it starts equal to the scaled dot product."),
        ),
    )
}
