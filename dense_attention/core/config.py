"""Frozen configuration dataclasses: what a model is (ModelConfig) and how it trains."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import DenseAttentionError

SIMILARITY_NAMES = ("dot", "scaled_dot", "cosine", "neg_euclidean", "additive", "bilinear")
ACTIVATIONS = ("identity", "relu", "tanh", "gelu")
POOLINGS = ("learned", "mean")
POOL_ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu")
SKIPS = ("mean", "none")
SEQUENCE_ENCODERS = ("none", "lstm", "transformer")
# The temperatures offered wherever τ is chosen (every page and shared links): four orders of
# magnitude each way of 1, with no NaN-prone extremes.
TEMPERATURES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
# The temperatures a config may hold: ten times wider than TEMPERATURES each way. Outside it
# (1e-300, NaN, Inf) every score overflows or vanishes and the attention is NaN or uniform.
TEMPERATURE_RANGE = (1e-3, 1e3)


class ConfigError(DenseAttentionError, ValueError):
    """A configuration field has an unknown name or an invalid value.

    Also a ValueError, Python's error for a bad argument value: callers catch it as one
    (server.store reads a stored model's config beside JSON's own ValueErrors).
    """


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")


def _check_positive(name: str, value: float, kind: type = int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    if kind is int and not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r}")


def _check_probability(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{name} must be a probability in [0, 1), got {value!r}")


def _check_temperature(value: float) -> None:
    low, high = TEMPERATURE_RANGE
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not low <= value <= high:  # also False for NaN
        raise ConfigError(f"temperature must be a number from {low:g} to {high:g}, got {value!r}")


def _check_non_negative(name: str, value: float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not value >= 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config dataclass from a dict, refusing unknown fields with a clear ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    try:
        return cls(**data)
    except TypeError as err:  # a required field is missing
        raise ConfigError(f"{cls.__name__}: {err}") from err


@dataclass(frozen=True)
class ModelConfig:
    """The shape and the choices of one DenseAttention model."""

    input_dim: int  # D: features per token (embedding + position, or flattened patch + position)
    hidden_dim: int  # d: width of the dense projection h = act(W x + b)
    num_classes: int  # C: outputs of the final layer
    similarity: str = "scaled_dot"  # s(h_i, h_j), one of SIMILARITY_NAMES
    temperature: float = 1.0  # tau: every score is s(h_i, h_j) / tau; within TEMPERATURE_RANGE
    activation: str = "identity"  # act of the dense layer: identity|relu|tanh|gelu
    pooling: str = "learned"  # alpha: learned (u^T tanh(W_a v_i + b_a)) or mean (uniform)
    pool_activation: str = "tanh"  # sigma in c = sigma(sum_i alpha_i v_i)
    skip: str = "mean"  # h_o fed to the output beside c: mean of h_i, or none (c alone)
    # The fields below came later; their defaults rebuild the models saved before them exactly.
    dropout_h: float = 0.0  # p of dropout on h while training (h_o and the values see it too)
    dropout_attn: float = 0.0  # p of dropout on the attention weights a_ij while training
    # Reads x in context before the dense layer, h = act(W x' + b) with x' = seq(x):
    # none | lstm (bidirectional, output width D) | transformer (one torch encoder layer)
    sequence_encoder: str = "none"
    # "Attend to the other tokens": a_ii is masked before the softmax (s_ii = -inf), so v_i mixes
    # only the other tokens h_j (a one-token input keeps itself). Off: every a_ij, as before.
    exclude_self: bool = False
    # H attention heads: head k attends over its slice h^k = h[k d/H : (k+1) d/H] (additive and
    # bilinear: its slice of their projection), and v_i concatenates the heads' v^k_i. 1 = one
    # head over all of h, exactly the model before heads existed. hidden_dim must divide by it.
    heads: int = 1

    def __post_init__(self) -> None:
        for name in ("input_dim", "hidden_dim", "num_classes"):
            _check_positive(name, getattr(self, name))
        _check_temperature(self.temperature)
        _check_choice("similarity", self.similarity, SIMILARITY_NAMES)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("pool_activation", self.pool_activation, POOL_ACTIVATIONS)
        _check_choice("skip", self.skip, SKIPS)
        _check_probability("dropout_h", self.dropout_h)
        _check_probability("dropout_attn", self.dropout_attn)
        _check_choice("sequence_encoder", self.sequence_encoder, SEQUENCE_ENCODERS)
        if not isinstance(self.exclude_self, bool):
            raise ConfigError(f"exclude_self must be true or false, got {self.exclude_self!r}")
        _check_positive("heads", self.heads)
        if self.hidden_dim % self.heads:
            raise ConfigError(
                f"hidden_dim ({self.hidden_dim}) must be divisible by heads ({self.heads}): "
                "each head attends over an equal slice of h"
            )

    @property
    def head_dim(self) -> int:
        """d/H: the width of one head's slice of h."""
        return self.hidden_dim // self.heads

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return from_dict(cls, data)


DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class TrainConfig:
    """How a model is trained; every field has a default that trains digits in seconds."""

    epochs: int = 30  # passes over the training split (at most; early stopping may end sooner)
    batch_size: int = 64  # examples per optimiser step
    lr: float = 3e-3  # AdamW learning rate
    weight_decay: float = 1e-4  # AdamW decoupled weight decay
    schedule: str = "cosine"  # learning rate: constant, or cosine decay to 0 over all epochs
    patience: int = 8  # stop after this many epochs without a better validation accuracy
    seed: int = 0  # seeds the initialisation and the shuffling: repeatable runs on the CPU
    device: str = "auto"  # auto (cuda, then mps, then cpu) | cpu | cuda | mps
    snapshot_every: int = 20  # record the probe examples' attention every k optimiser steps
    probes: int = 4  # validation examples whose attention is recorded in snapshots
    max_seconds: float | None = None  # wall-clock budget; training stops (keeping the best) after
    # Penalties added to the cross-entropy: loss = CE + l1 * sum|w| + l2 * sum w^2, summed over
    # the penalised weights (train.penalised_parameters: the dense-attention core's weight
    # matrices and vectors; no biases, LayerNorm or encoder embeddings). l2 is a coupled penalty,
    # unlike AdamW's decoupled weight_decay, which decays every parameter.
    l1: float = 0.0
    l2: float = 0.0
    # Train on a stratified subsample of at most this many training examples (None = all); the
    # validation split is untouched, so a small value provokes overfitting on purpose.
    max_train_examples: int | None = None
    # Cross-entropy against targets mixed with the uniform distribution (0 = one-hot targets):
    # discourages over-confident logits. Reported losses stay the plain cross-entropy.
    label_smoothing: float = 0.0
    # Which weights training ends with: "best" (the epoch with the best validation accuracy,
    # with early stopping) or "last" (all epochs, no early stopping: for a refit on train + val,
    # where the validation split was seen in training and cannot pick an epoch).
    keep: str = "best"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience", "snapshot_every"):
            _check_positive(name, getattr(self, name))
        _check_positive("lr", self.lr, float)
        if self.weight_decay < 0 or self.probes < 0:
            raise ConfigError("weight_decay and probes must not be negative")
        if self.max_seconds is not None:
            _check_positive("max_seconds", self.max_seconds, float)
        _check_non_negative("l1", self.l1)
        _check_non_negative("l2", self.l2)
        if self.max_train_examples is not None:
            _check_positive("max_train_examples", self.max_train_examples)
        _check_choice("device", self.device, DEVICES)
        _check_choice("schedule", self.schedule, ("constant", "cosine"))
        _check_choice("keep", self.keep, ("best", "last"))
        _check_non_negative("label_smoothing", self.label_smoothing)
        if self.label_smoothing >= 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return from_dict(cls, data)
