"""What a browser needs to recompute attention live, without a server round trip.

A similarity, temperature or pooling change does not change h. So the server sends, once per
input: h (N x d, once per distinct h: the model's own, or each similarity's own checkpoint's when
the model has variants trained with each); once per model and browser session: the pooling and
output weights; and once per similarity's weights and session: the additive (W_q, W_k, w) or
bilinear (W_s) parameters. Nothing it sends grows with N². The browser then computes, for any
similarity, τ and pooling, exactly what `DenseAttention.trace` does:

    s = head_scores(similarity, h, params, H) (the raw scores, as core.similarity computes them;
    kept per input and similarity, since they do not depend on τ or pooling),
    a = masked softmax(s / τ) (a_ii masked too under exclude_self), v = a h,
    (with H heads: head k's a^k from its own raw scores, v = [a^1 h^1; ...; a^H h^H], and the
    matrix shown is the heads' mean)
    α = masked softmax(e), e = uᵀ tanh(W_α v + b_α) (e = 0 under mean pooling: α uniform),
    c = σ(Σ α_i v_i), z = W₂[c; h_o] + b₂ (or W₂ c + b₂ without skip), p = softmax(z)

(dense_attention/ui/assets/live_view.js, in float64; it matches torch's float32 to ~1e-6).
Arrays travel as base64 little-endian float32 (a 256-wide W_α is 350 KB as base64, ~1.3 MB as
JSON numbers).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core.config import POOLINGS
from ..core.model import DenseAttention
from ..core.trace import Trace
from .hashing import digest

__all__ = [
    "Variant", "encode", "input_part", "params_key", "params_part", "weights_key", "weights_part",
]  # fmt: skip


@dataclass(frozen=True)
class Variant:
    """The model a similarity runs on (its own checkpoint, or the picked model for all) and
    that model's trace of the input (for h and the mask)."""

    model: DenseAttention
    trace: Trace


def encode(values: Any) -> str:
    """An array or tensor as base64 of its little-endian float32 bytes (row-major)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    array = np.ascontiguousarray(np.asarray(values, dtype="<f4"))
    return base64.b64encode(array.tobytes()).decode("ascii")


def _weights(model: DenseAttention) -> dict[str, torch.Tensor]:
    return {
        "pool_weight": model.pool_weight,
        "pool_bias": model.pool_bias,
        "pool_vector": model.pool_vector,
        "out_weight": model.out.weight,
        "out_bias": model.out.bias,
    }


def weights_key(model: DenseAttention, classes: list[str]) -> str:
    """A content hash of what `weights_part` sends: the browser keeps weights under it."""
    cfg = model.config
    return digest(_weights(model), cfg.pool_activation, cfg.skip, cfg.exclude_self,
                  cfg.heads, list(classes))[:24]  # fmt: skip


def weights_part(model: DenseAttention, classes: list[str]) -> dict[str, Any]:
    """The pooling and output weights (and how they are used), and the names of the model's
    `classes`, for the browser to keep."""
    cfg = model.config
    if len(classes) != cfg.num_classes:
        raise ValueError(f"{len(classes)} class names for {cfg.num_classes} classes")
    parts = {name: encode(value) for name, value in _weights(model).items()}
    return {
        **parts,
        "hidden": cfg.hidden_dim,
        "classes": cfg.num_classes,
        "class_names": list(classes),
        "pool_activation": cfg.pool_activation,
        "skip": cfg.skip,
        "exclude_self": cfg.exclude_self,
        "heads": cfg.heads,
    }


# The parameters of each similarity that has any (core.similarity.SimilarityParams).
PARAMS = {
    "additive": ("additive_query", "additive_key", "additive_vector"),
    "bilinear": ("bilinear",),
}


def _params(model: DenseAttention, similarity: str) -> dict[str, torch.Tensor]:
    return {name: getattr(model.similarity_params, name) for name in PARAMS.get(similarity, ())}


def params_key(model: DenseAttention, similarity: str) -> str | None:
    """A content hash of what `params_part` sends for `similarity` (None: it has no parameters,
    as dot, scaled_dot, cosine and neg_euclidean): the browser keeps parameters under it."""
    params = _params(model, similarity)
    return digest(similarity, params)[:24] if params else None


def params_part(model: DenseAttention, similarity: str) -> dict[str, Any]:
    """`similarity`'s parameters in `model`: additive's W_q and W_k (a x d, row-major) and w (a),
    or bilinear's W_s (d x d), with a (the additive layer's width)."""
    params = _params(model, similarity)
    if not params:
        raise ValueError(f"{similarity} has no parameters")
    width = model.similarity_params.additive_vector.shape[0]
    return {"similarity": similarity, "width": width,
            **{name: encode(value) for name, value in params.items()}}  # fmt: skip


def input_part(
    variants: Mapping[str, Variant], tokens: list[str], classes: list[str]
) -> dict[str, Any]:
    """Everything about one input: its tokens and mask, h once per distinct content, and for each
    similarity the keys of the weights it runs on (see `weights_key`; `classes` names the models'
    classes), of its h and of its parameters (see `params_key`; None: it has none). Its size
    grows with N (N x d numbers per h), not N². Every variant must have the input's N tokens."""
    first = next(iter(variants.values())).trace
    mask = first.mask[0].cpu().numpy().astype(bool)
    similarities: dict[str, dict[str, str]] = {}
    hidden: dict[str, str] = {}
    for similarity, variant in variants.items():
        h = variant.trace.h[0]
        if h.shape[0] != mask.shape[0]:
            raise ValueError(f"{similarity}: {h.shape[0]} tokens, the input has {mask.shape[0]}")
        h_key = digest(h)[:24]
        hidden.setdefault(h_key, encode(h))
        similarities[similarity] = {
            "weights": weights_key(variant.model, classes),
            "h": h_key,
            "params": params_key(variant.model, similarity),
        }
    return {
        "tokens": list(tokens),
        "mask": [bool(m) for m in mask],
        "h": hidden,
        "similarities": similarities,
        "poolings": list(POOLINGS),
    }
