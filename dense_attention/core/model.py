"""DenseAttention: a dense layer, token-to-token attention, attention pooling and an output layer.

Notation: B batch, N tokens, D input features, d hidden size, C classes; i query token, j key token.
The formulas are docs/design.md's; `trace` returns every intermediate, `forward` only the logits.
An optional sequence encoder (bidirectional LSTM or one transformer layer) reads x in context
first: h = act(W x' + b) with x' = seq(x). Dropout (on h and on a_ij) acts in training mode only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import seeding
from .config import ConfigError, ModelConfig
from .similarity import (
    SIMILARITIES,
    SimilarityParams,
    head_scores,
    merge_heads,
    register_weight,
    split_heads,
)
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


def attention_keep(mask: torch.Tensor, exclude_self: bool = False) -> torch.Tensor:
    """(B, N, N) bool: which a_ij may be non-zero, a real query i and a real key j; with
    `exclude_self`, j != i too, except in a row whose only real key is i itself."""
    keep = mask[:, :, None] & mask[:, None, :]  # (B, N, N) real query and real key
    if not exclude_self:
        return keep
    eye = torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
    others = keep & ~eye
    return others | (keep & eye & ~others.any(dim=-1, keepdim=True))


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of h (B, N, d) over real tokens -> (B, d); zeros for an example with none."""
    weights = mask.to(h.dtype).unsqueeze(-1)
    return (h * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)


def transformer_heads(width: int) -> int:
    """Heads of the transformer sequence encoder: the largest of 4, 2, 1 that divides D."""
    return next(n for n in (4, 2, 1) if width % n == 0)


class LSTMSequenceEncoder(nn.Module):
    """x' = BiLSTM(x): (B, N, D) -> (B, N, D), over the real tokens only; x' = 0 at padding.

    ceil(D/2) units per direction; the two directions are concatenated, which is D wide for an
    even D; for an odd D a linear layer maps the D + 1 outputs back to D. Sequences are packed,
    so the backward direction starts at the last real token, never at padding.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        units = -(-width // 2)
        self.lstm = nn.LSTM(width, units, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * units, width) if 2 * units != width else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if bool(mask.all()):
            out = self.lstm(x)[0]
        else:
            # Real tokens first, in their order (packing wants each sequence as a prefix).
            order = torch.argsort((~mask).to(torch.uint8), dim=1, stable=True)  # (B, N)
            tokens = x.gather(1, order[..., None].expand_as(x))
            lengths = mask.sum(dim=1).clamp_min(1).cpu()  # an all-padding row runs 1 step
            packed = pack_padded_sequence(tokens, lengths, batch_first=True, enforce_sorted=False)
            out = pad_packed_sequence(self.lstm(packed)[0], batch_first=True,
                                      total_length=x.shape[1])[0]  # fmt: skip
            out = torch.zeros_like(out).scatter(1, order[..., None].expand_as(out), out)
        if self.proj is not None:
            out = self.proj(out)
        return out * mask[..., None].to(out.dtype)


class TransformerSequenceEncoder(nn.Module):
    """x' = one torch.nn.TransformerEncoderLayer(x): (B, N, D) -> (B, N, D); x' = 0 at padding.

    d_model D, nhead `transformer_heads(D)`, feed-forward 2D wide, GELU, pre-norm (x' keeps x's
    scale through the residual), dropout 0; padding is a key padding mask (src_key_padding_mask).
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(
            width, transformer_heads(width), dim_feedforward=2 * width, dropout=0.0,
            activation="gelu", batch_first=True, norm_first=True,
        )  # fmt: skip

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # With every key masked, a softmax over nothing can give NaN (older torch releases and
        # some kernels do): an example with no real token attends to all of its positions
        # instead, and its outputs are zeroed below.
        keys = mask | ~mask.any(dim=1, keepdim=True)
        out = self.layer(x, src_key_padding_mask=~keys)
        return out * mask[..., None].to(out.dtype)


SEQUENCE_ENCODER_CLASSES = {"lstm": LSTMSequenceEncoder, "transformer": TransformerSequenceEncoder}


class DenseAttention(nn.Module):
    """The dense + attention classifier of docs/design.md, with `trace` for every intermediate."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.hidden_dim
        self.dense = nn.Linear(config.input_dim, d)
        self.similarity_params = SimilarityParams(d, trainable=config.similarity)
        # Learned pooling e_i = u^T tanh(W_a v_i + b_a); kept (as buffers) under mean pooling too,
        # so the app can switch pooling on any model.
        learned = config.pooling == "learned"
        pool_weight, pool_vector = _pooling_init(d)
        register_weight(self, "pool_weight", pool_weight, learned)
        register_weight(self, "pool_bias", torch.zeros(d), learned)
        register_weight(self, "pool_vector", pool_vector, learned)
        self.out = nn.Linear(2 * d if config.skip == "mean" else d, config.num_classes)
        # Built last, so a seed gives the other weights the same values with or without it.
        self.sequence_encoder = None
        if config.sequence_encoder != "none":
            cls = SEQUENCE_ENCODER_CLASSES[config.sequence_encoder]
            self.sequence_encoder = cls(config.input_dim)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Re-draw this module's own random weights (W_a, u of pooling) from `generator`.

        Its layers (dense, out, the sequence encoder) are not touched: seeding.init_parameters
        re-draws every layer of a model; the similarity weights have a fixed initialisation.
        """
        pool_weight, pool_vector = _pooling_init(self.config.hidden_dim, generator)
        self.pool_weight.copy_(pool_weight)
        self.pool_bias.zero_()
        self.pool_vector.copy_(pool_vector)

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
            raise ConfigError(
                f"unknown similarity {similarity!r}; choose from {list(SIMILARITIES)}"
            )
        if not (math.isfinite(temperature) and temperature > 0):
            raise ConfigError(f"temperature must be a positive number, got {temperature}")
        if pooling not in ("learned", "mean"):
            raise ConfigError(f"unknown pooling {pooling!r}; choose learned or mean")
        return similarity, temperature, pooling

    def encode_sequence(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x' = seq(x) (B, N, D), 0 at padding; x itself when there is no sequence encoder."""
        return x if self.sequence_encoder is None else self.sequence_encoder(x, mask)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """h = act(W x + b): (B, N, D) -> (B, N, d); given x' when there is a sequence encoder."""
        return ACTIVATION_FNS[self.config.activation](self.dense(x))

    def hidden(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """h (B, N, d) from the input x: sequence encoder, dense layer, and dropout if training."""
        h = self.project(self.encode_sequence(x, mask))
        if self.training and self.config.dropout_h > 0:
            h = seeding.dropout(h, self.config.dropout_h)
        return h

    def _attn_dropout(self, attn: torch.Tensor) -> torch.Tensor:
        if self.training and self.config.dropout_attn > 0:
            return seeding.dropout(attn, self.config.dropout_attn)
        return attn

    def penalised_parameters(self) -> dict[str, nn.Parameter]:
        """The weights L1/L2 penalties act on: every trainable parameter but biases and LayerNorm.

        That is W (dense), the configured similarity's weights, W_a and u of learned pooling, W2
        (out) and the sequence encoder's weight matrices; fixed buffers are not parameters.
        """
        norms = {name for name, m in self.named_modules() if isinstance(m, nn.LayerNorm)}
        return {
            name: p
            for name, p in self.named_parameters()
            if p.requires_grad
            and "bias" not in name.rpartition(".")[2]
            and name.rpartition(".")[0] not in norms
        }

    def attend_heads(
        self, h: torch.Tensor, mask: torch.Tensor, similarity: str, temperature: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each head's scores s(h^k_i, h^k_j)/tau and attention a^k_ij, both (B, H, N, N);
        padding rows/columns get 0 (a_ii too under exclude_self, when the row has another key)."""
        scores = head_scores(similarity, h, self.similarity_params, self.config.heads)
        keep = attention_keep(mask, self.config.exclude_self)[:, None]  # (B, 1, N, N)
        scores = scores / temperature
        return scores, masked_softmax(scores, keep, dim=-1)

    def attend(
        self, h: torch.Tensor, mask: torch.Tensor, similarity: str, temperature: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores and attention (B, N, N): the one head's, or their mean over the heads."""
        scores, attn = self.attend_heads(h, mask, similarity, temperature)
        return head_mean(scores), head_mean(attn)

    def _fast_values(
        self, h: torch.Tensor, mask: torch.Tensor, similarity: str, temperature: float
    ) -> torch.Tensor:
        """v = attn @ h through scaled_dot_product_attention, for dot and scaled_dot (no dropout:
        `forward` takes the explicit path when attention dropout is on), head by head."""
        heads = self.config.heads
        width = h.shape[-1] // heads
        scale = 1.0 / temperature / (math.sqrt(width) if similarity == "scaled_dot" else 1.0)
        parts = h if heads == 1 else split_heads(h, heads)  # (B, H, N, d/H) with heads
        if bool(mask.all()):
            values = F.scaled_dot_product_attention(parts, parts, parts, scale=scale)
            return values if heads == 1 else merge_heads(values)
        # Allow every key of an all-padding example (no NaN), then zero padded query rows.
        keys = (mask | ~mask.any(dim=1, keepdim=True))[:, None, :]  # (B, 1, N)
        keys = keys if heads == 1 else keys[:, None]  # (B, 1, 1, N)
        values = F.scaled_dot_product_attention(parts, parts, parts, attn_mask=keys, scale=scale)
        values = values if heads == 1 else merge_heads(values)
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
        self,
        values: torch.Tensor,
        h: torch.Tensor,
        mask: torch.Tensor,
        alpha: torch.Tensor,
        c_override: torch.Tensor | None = None,
        h_o_override: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """pooled (B, d), c (B, d), h_o (B, d) and logits (B, C); an override replaces c or h_o."""
        pooled = (alpha.unsqueeze(-1) * values).sum(dim=1)
        c = ACTIVATION_FNS[self.config.pool_activation](pooled)
        h_o = masked_mean(h, mask)
        c = c if c_override is None else _overridden("c_override", c_override, c)
        h_o = h_o if h_o_override is None else _overridden("h_o_override", h_o_override, h_o)
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
        h = self.hidden(x, mask)
        # Attention dropout draws its masks through seeding.dropout, so it needs a_ij itself.
        explicit = self.config.exclude_self or (self.training and self.config.dropout_attn > 0)
        if similarity in ("dot", "scaled_dot") and not explicit:
            values = self._fast_values(h, mask, similarity, temperature)
        else:
            attn = self.attend_heads(h, mask, similarity, temperature)[1]
            values = mix(self._attn_dropout(attn), h)
        alpha = self.pool(values, mask, pooling)[1]
        return self.head(values, h, mask, alpha)[-1]

    def trace(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        similarity: str | None = None,
        temperature: float | None = None,
        pooling: str | None = None,
        attn_override: torch.Tensor | None = None,
        alpha_override: torch.Tensor | None = None,
        h_o_override: torch.Tensor | None = None,
        c_override: torch.Tensor | None = None,
    ) -> Trace:
        """Every intermediate; `similarity`, `temperature` and `pooling` override the config.

        `x` is the input as given; with a sequence encoder, h is computed from x' = seq(x). In
        training mode (dropout > 0) `values` use the dropped-out attention; `attn` is the softmax.

        The `*_override` hooks replace one intermediate and let the rest follow from it (the
        ablations of explain.faithfulness): `attn_override` a_ij, used as given (padding is not
        re-masked): (B, N, N) or (N, N) for every head alike, (B, H, N, N) head by head;
        `alpha_override` (B, N); `h_o_override` and `c_override`
        (B, d) or (d,). The trace then holds the replacement in that field. With no override
        the computation is exactly the one `trace` did before the hooks existed.
        """
        mask = self._check(x, mask)
        similarity, temperature, pooling = self._settings(similarity, temperature, pooling)
        h = self.hidden(x, mask)
        scores, attn = self.attend_heads(h, mask, similarity, temperature)  # (B, H, N, N)
        if attn_override is not None:
            attn = _overridden("attn_override", _per_head(attn_override), attn)
        values = mix(self._attn_dropout(attn), h)
        pool_scores, alpha = self.pool(values, mask, pooling)
        if alpha_override is not None:
            alpha = _overridden("alpha_override", alpha_override, alpha)
        pooled, c, h_o, logits = self.head(values, h, mask, alpha, c_override, h_o_override)
        return Trace(
            x=x, mask=mask, h=h, scores=head_mean(scores), attn=head_mean(attn), values=values,
            pool_scores=pool_scores, alpha=alpha, pooled=pooled, c=c, h_o=h_o,
            logits=logits, probs=torch.softmax(logits, dim=-1),
            similarity=similarity, temperature=temperature,
            exclude_self=self.config.exclude_self, head_scores=scores, head_attn=attn,
        )  # fmt: skip


def head_mean(t: torch.Tensor) -> torch.Tensor:
    """(B, H, N, N) -> (B, N, N): the mean over the heads; one head's own values when H = 1."""
    return t[:, 0] if t.shape[1] == 1 else t.mean(dim=1)


def mix(attn: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """v (B, N, d) from each head's a^k (B, H, N, N) and h (B, N, d): the heads' v^k_i =
    sum_j a^k_ij h^k_j side by side; one head is exactly attn @ h."""
    heads = attn.shape[1]
    if heads == 1:
        return attn[:, 0] @ h
    return merge_heads(attn @ split_heads(h, heads))


def _per_head(value: torch.Tensor) -> torch.Tensor:
    """An attention override (B, N, N) for every head alike as (B, 1, N, N); others unchanged."""
    value = torch.as_tensor(value)
    return value[:, None] if value.dim() == 3 else value


def weight_count(config: ModelConfig) -> int:
    """How many numbers DenseAttention(config) holds, parameters and buffers (the fixed
    similarity and pooling weights count too), from its shapes: a checkpoint's size is checked
    before anything is allocated. Only a sequence encoder is still built on the meta device
    (for the core, that ran its initialisers' arithmetic through torch's Python meta kernels,
    whose first use imports torch._dynamo: 1-1.5 s of the app's first page)."""
    d, inputs, classes = config.hidden_dim, config.input_dim, config.num_classes
    count = inputs * d + d  # dense W, b
    count += 3 * d * d + d  # similarity weights: W_q, W_k, w (additive) and W_s (bilinear)
    count += d * d + 2 * d  # pooling W_a, b_a, u
    count += (2 * d if config.skip == "mean" else d) * classes + classes  # out W2, b2
    if config.sequence_encoder != "none":
        with torch.device("meta"):
            encoder = SEQUENCE_ENCODER_CLASSES[config.sequence_encoder](inputs)
        count += sum(t.numel() for t in [*encoder.parameters(), *encoder.buffers()])
    return count


def _pooling_init(
    d: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """W_a (d, d) and u (d,) of learned pooling, each U(-1/sqrt(d), 1/sqrt(d))."""
    bound = 1.0 / math.sqrt(d)
    pool_weight = (torch.rand(d, d, generator=generator) * 2 - 1) * bound
    return pool_weight, (torch.rand(d, generator=generator) * 2 - 1) * bound


def _overridden(name: str, value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`value` broadcast to the shape of the intermediate it replaces, on its device and dtype."""
    value = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    try:
        return value.expand_as(like)
    except RuntimeError as err:
        raise ValueError(
            f"{name} must broadcast to {tuple(like.shape)}, got {tuple(value.shape)}"
        ) from err
