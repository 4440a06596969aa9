"""DenseAttention: a dense layer, token-to-token attention, attention pooling and an output layer.

Notation: B batch, N tokens, D input features, d hidden size, C classes; i query token, j key token.
The formulas are those of DESIGN.md; `trace` returns every intermediate, `forward` only the logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .similarity import SIMILARITIES, SimilarityParams, register_weight
from .trace import Trace

ACTIVATION_FNS = {
    "identity": lambda t: t,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "sigmoid": torch.sigmoid,
}


def masked_softmax(logits: torch.Tensor, keep: torch.Tensor, dim: int) -> torch.Tensor:
    """Softmax over `dim` where `keep` is True; masked entries and all-masked slices give 0."""
    logits = logits.masked_fill(~keep, float("-inf"))
    top = logits.amax(dim=dim, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    weights = torch.exp(logits - top)  # exp(-inf) = 0 for masked entries
    return weights / weights.sum(dim=dim, keepdim=True).clamp_min(torch.finfo(weights.dtype).tiny)


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of h (B, N, d) over real tokens -> (B, d); zeros for an example with none."""
    weights = mask.to(h.dtype).unsqueeze(-1)
    return (h * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


class DenseAttention(nn.Module):
    """The dense + attention classifier of DESIGN.md, with `trace` for every intermediate."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.hidden_dim
        self.dense = nn.Linear(config.input_dim, d)
        self.similarity_params = SimilarityParams(d, trainable=config.similarity)
        # Learned pooling e_i = u^T tanh(W_a v_i + b_a); kept (as buffers) under mean pooling too,
        # so the app can switch pooling on any model.
        learned = config.pooling == "learned"
        bound = 1.0 / math.sqrt(d)
        register_weight(self, "pool_weight", (torch.rand(d, d) * 2 - 1) * bound, learned)
        register_weight(self, "pool_bias", torch.zeros(d), learned)
        register_weight(self, "pool_vector", (torch.rand(d) * 2 - 1) * bound, learned)
        self.out = nn.Linear(2 * d if config.skip == "mean" else d, config.num_classes)

    def _check(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.config.input_dim:
            raise ValueError(
                f"x must have shape (B, N, {self.config.input_dim}), got {tuple(x.shape)}"
            )
        if mask is None:
            return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if mask.shape != x.shape[:2]:
            raise ValueError(f"mask must have shape {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
        return mask.to(device=x.device, dtype=torch.bool)

    def _settings(
        self, similarity: str | None, temperature: float | None, pooling: str | None
    ) -> tuple[str, float, str]:
        similarity = similarity or self.config.similarity
        temperature = self.config.temperature if temperature is None else float(temperature)
        pooling = pooling or self.config.pooling
        if similarity not in SIMILARITIES:
            raise ValueError(f"unknown similarity {similarity!r}; choose from {list(SIMILARITIES)}")
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {temperature}")
        if pooling not in ("learned", "mean"):
            raise ValueError(f"unknown pooling {pooling!r}; choose learned or mean")
        return similarity, temperature, pooling

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """h = act(W x + b): (B, N, D) -> (B, N, d)."""
        return ACTIVATION_FNS[self.config.activation](self.dense(x))

    def attend(
        self, h: torch.Tensor, mask: torch.Tensor, similarity: str, temperature: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores s(h_i, h_j)/tau and attention a_ij, both (B, N, N); padding rows/columns get 0."""
        scores = SIMILARITIES[similarity].fn(h, self.similarity_params) / temperature
        keep = mask[:, :, None] & mask[:, None, :]  # (B, N, N) real query and real key
        return scores, masked_softmax(scores, keep, dim=-1)

    def _fast_values(
        self, h: torch.Tensor, mask: torch.Tensor, similarity: str, temperature: float
    ) -> torch.Tensor:
        """v = attn @ h through scaled_dot_product_attention, for dot and scaled_dot."""
        scale = 1.0 / temperature / (math.sqrt(h.shape[-1]) if similarity == "scaled_dot" else 1.0)
        if bool(mask.all()):
            return F.scaled_dot_product_attention(h, h, h, scale=scale)
        # Allow every key of an all-padding example (no NaN), then zero padded query rows.
        keys = (mask | ~mask.any(dim=1, keepdim=True))[:, None, :]  # (B, 1, N)
        values = F.scaled_dot_product_attention(h, h, h, attn_mask=keys, scale=scale)
        return values * mask[..., None].to(values.dtype)

    def pool(
        self, values: torch.Tensor, mask: torch.Tensor, pooling: str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooling scores e (B, N) and weights alpha (B, N), zero on padding."""
        if pooling == "learned":
            hidden = torch.tanh(values @ self.pool_weight.T + self.pool_bias)  # (B, N, d)
            pool_scores = hidden @ self.pool_vector  # (B, N)
        else:
            pool_scores = torch.zeros(values.shape[:2], dtype=values.dtype, device=values.device)
        return pool_scores, masked_softmax(pool_scores, mask, dim=1)

    def head(
        self, values: torch.Tensor, h: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """pooled (B, d), c (B, d), h_o (B, d) and logits (B, C)."""
        pooled = (alpha.unsqueeze(-1) * values).sum(dim=1)
        c = ACTIVATION_FNS[self.config.pool_activation](pooled)
        h_o = masked_mean(h, mask)
        features = torch.cat([c, h_o], dim=-1) if self.config.skip == "mean" else c
        return pooled, c, h_o, self.out(features)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        similarity: str | None = None,
        temperature: float | None = None,
        pooling: str | None = None,
    ) -> torch.Tensor:
        """Logits (B, C) for x (B, N, D) and mask (B, N) (True = real token)."""
        mask = self._check(x, mask)
        similarity, temperature, pooling = self._settings(similarity, temperature, pooling)
        h = self.project(x)
        if similarity in ("dot", "scaled_dot"):
            values = self._fast_values(h, mask, similarity, temperature)
        else:
            values = self.attend(h, mask, similarity, temperature)[1] @ h
        alpha = self.pool(values, mask, pooling)[1]
        return self.head(values, h, mask, alpha)[-1]

    def trace(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        similarity: str | None = None,
        temperature: float | None = None,
        pooling: str | None = None,
    ) -> Trace:
        """Every intermediate; `similarity`, `temperature` and `pooling` override the config."""
        mask = self._check(x, mask)
        similarity, temperature, pooling = self._settings(similarity, temperature, pooling)
        h = self.project(x)
        scores, attn = self.attend(h, mask, similarity, temperature)
        values = attn @ h
        pool_scores, alpha = self.pool(values, mask, pooling)
        pooled, c, h_o, logits = self.head(values, h, mask, alpha)
        return Trace(
            x=x, mask=mask, h=h, scores=scores, attn=attn, values=values,
            pool_scores=pool_scores, alpha=alpha, pooled=pooled, c=c, h_o=h_o,
            logits=logits, probs=torch.softmax(logits, dim=-1),
            similarity=similarity, temperature=temperature,
        )  # fmt: skip
