"""Classifier: an encoder (text or image) feeding a DenseAttention model; what checkpoints hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from ..core.config import ConfigError, ModelConfig
from ..core.errors import DenseAttentionError
from ..core.model import DenseAttention
from ..core.trace import Trace
from .image_encoder import ImageConfig, ImageEncoder
from .splits import TensorSplit
from .text_encoder import UNK, TextConfig, TextEncoder


class ItemSplit(Protocol):
    """What `Classifier.tensors` reads from a split (data.Split is one): items and labels."""

    items: list[str] | Any  # texts, or images float32 (n, H, W, C) in [0, 1]
    labels: Any  # (n,) int class indices


class LabelledData(Protocol):
    """What `build_classifier` reads from a dataset (data.Dataset is one)."""

    kind: str  # "text" | "image"
    classes: tuple[str, ...]  # class names, index = label
    train: ItemSplit


@dataclass(frozen=True)
class ClassifierConfig:
    """A whole classifier: the encoder's config (text or image), the model's, and class names."""

    model: ModelConfig  # the DenseAttention part; model.input_dim == encoder input_dim
    classes: tuple[str, ...]  # class names, index = label
    text: TextConfig | None = None  # set for text classifiers
    image: ImageConfig | None = None  # set for image classifiers

    def __post_init__(self) -> None:
        if (self.text is None) == (self.image is None):
            raise ConfigError("a classifier needs exactly one of a text or an image encoder")
        encoder = self.text or self.image
        if encoder.input_dim != self.model.input_dim:
            raise ConfigError(
                f"encoder gives {encoder.input_dim} features, model expects {self.model.input_dim}"
            )
        if len(self.classes) != self.model.num_classes:
            raise ConfigError(
                f"{len(self.classes)} class names for {self.model.num_classes} classes"
            )

    @property
    def kind(self) -> str:
        return "text" if self.text is not None else "image"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "classes": list(self.classes),
            "text": self.text.to_dict() if self.text else None,
            "image": self.image.to_dict() if self.image else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassifierConfig:
        if not isinstance(data, dict) or set(data) != {"model", "classes", "text", "image"}:
            raise ConfigError("a classifier config needs exactly: model, classes, text, image")
        return cls(
            model=ModelConfig.from_dict(data["model"]),
            classes=tuple(str(c) for c in data["classes"]),
            text=TextConfig.from_dict(data["text"]) if data["text"] is not None else None,
            image=ImageConfig.from_dict(data["image"]) if data["image"] is not None else None,
        )


@dataclass(frozen=True)
class Explanation:
    """One input explained: its trace (cropped to real tokens) and what labels the pictures."""

    trace: Trace  # batch of one, real tokens only
    tokens: list[str]  # a label per token (word pieces, "[UNK]", or patch names such as r0c1)
    truncated: int  # tokens cut off the input (0 for images)
    classes: tuple[str, ...]
    originals: tuple[str, ...] = ()  # text: what each token stands for in the input (() = tokens)

    @property
    def hover_tokens(self) -> list[str]:
        """Token names for hover texts: "[UNK] (Ωμέγα)" where the model reads [UNK] in place of
        some text, the token itself elsewhere."""
        if not self.originals:
            return list(self.tokens)
        return [
            t if t == o or t != UNK else f"{UNK} ({o})"
            for t, o in zip(self.tokens, self.originals, strict=True)
        ]


class Classifier(nn.Module):
    """Raw input -> encoder -> x, mask -> DenseAttention -> logits."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = TextEncoder(config.text) if config.text else ImageEncoder(config.image)
        self.core = DenseAttention(config.model)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.config.classes

    def prepare(self, items: list[str] | Any) -> tuple[torch.Tensor, ...]:
        """Raw texts or images -> the input tensors of `forward` (on the CPU)."""
        if self.config.kind == "text":
            batch = self.encoder.tokenize(list(items))
            return batch.ids, batch.mask
        return (self.encoder.prepare(items),)

    def features(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Input tensors -> (x (B, N, D), mask (B, N))."""
        if self.config.kind == "text":
            ids, mask = inputs
            if ids.is_floating_point():  # token embeddings computed once by `tensors`
                return self.encoder.with_positions(ids, mask), mask
            return self.encoder(ids, mask), mask
        return self.encoder(inputs[0])

    def forward(self, *inputs: torch.Tensor, **overrides: Any) -> torch.Tensor:
        return self.core(*self.features(*inputs), **overrides)

    def trace(self, *inputs: torch.Tensor, **overrides: Any) -> Trace:
        return self.core.trace(*self.features(*inputs), **overrides)

    def penalised_parameters(self) -> dict[str, nn.Parameter]:
        """The core's weights that L1/L2 act on; the encoder's embeddings are not penalised."""
        return {f"core.{k}": p for k, p in self.core.penalised_parameters().items()}

    @torch.no_grad()
    def explain(self, item: str | Any, **overrides: Any) -> Explanation:
        """Trace one raw input (a text or an image); overrides: similarity, temperature, pooling."""
        device = next(self.parameters()).device
        if self.config.kind == "text":
            batch = self.encoder.tokenize([item])
            inputs = (batch.ids.to(device), batch.mask.to(device))
            originals, truncated = tuple(batch.tokens[0]), batch.truncated[0]
            unknown = self.encoder.unknown(batch.ids)[0, : len(originals)].tolist()
            tokens = [UNK if u else t for t, u in zip(originals, unknown, strict=True)]
        else:
            inputs = (self.encoder.prepare([item]).to(device),)
            tokens, truncated, originals = self.encoder.patch_labels(), 0, ()
        trace = self.trace(*inputs, **overrides).example(0)
        _check_finite(trace)
        return Explanation(trace, tokens, truncated, self.classes, originals)

    def tensors(self, split: ItemSplit, batch_size: int = 64) -> TensorSplit:
        """A dataset split as tensors ready for `train` (frozen MiniLM features precomputed)."""
        labels = torch.as_tensor(split.labels, dtype=torch.int64)
        if self.config.kind == "image":
            return TensorSplit(self.prepare(split.items), labels)
        ids, mask = self.prepare(split.items)
        if self.config.text.mode == "minilm_contextual":  # frozen MiniLM: run once, not per epoch
            ids = self._frozen_tokens(ids, mask, batch_size)
        return TensorSplit((ids, mask), labels)

    @torch.no_grad()
    def _frozen_tokens(self, ids: torch.Tensor, mask: torch.Tensor, batch_size: int):
        """MiniLM's token embeddings (n, N, 384); padding rows zero. Batches of similar length,
        each cut to its longest text, so short texts do not pay for the longest one's padding."""
        lengths = mask.sum(dim=1)
        out = torch.zeros(*ids.shape, self.encoder.config.token_dim)
        order = torch.argsort(lengths, stable=True)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            n = int(lengths[rows].max())
            tok = self.encoder.token_embeddings(ids[rows, :n], mask[rows, :n])
            out[rows, :n] = tok * mask[rows, :n, None]
        return out


class NonFiniteTrace(DenseAttentionError):
    """A trace whose attention or output overflowed to NaN or Inf: nothing to draw."""


def _check_finite(trace: Trace) -> None:
    names = ("scores", "attn", "alpha", "probs")
    bad = [name for name in names if not torch.isfinite(getattr(trace, name)).all()]
    if bad:
        raise NonFiniteTrace(
            f"this input overflows the model: {', '.join(bad)} hold NaN or infinite values at "
            f"temperature {trace.temperature:g} (its weights are too large for this setting); "
            "try a larger temperature or another similarity"
        )


def build_classifier(
    dataset: LabelledData,
    hidden_dim: int = 64,
    text: TextConfig | None = None,
    image: ImageConfig | None = None,
    **model_options: Any,
) -> Classifier:
    """A fresh classifier shaped for `dataset`; model_options go to ModelConfig (similarity, ...).

    Text in `learned` mode gets its vocabulary from the training split (small checkpoints).
    """
    if dataset.kind == "text":
        text = text or TextConfig()
        if text.mode == "learned" and not text.vocab:
            vocab = TextEncoder.build_vocab(list(dataset.train.items), min_count=2)
            text = TextConfig(**{**text.to_dict(), "vocab": vocab})
        encoder_cfg: dict[str, Any] = {"text": text}
    else:
        items = dataset.train.items
        size, channels = items.shape[1], items.shape[3]
        image = image or ImageConfig(size=size, channels=channels, patch=_default_patch(size))
        encoder_cfg = {"image": image}
    enc = encoder_cfg.get("text") or encoder_cfg["image"]
    model = ModelConfig(
        input_dim=enc.input_dim,
        hidden_dim=hidden_dim,
        num_classes=len(dataset.classes),
        **model_options,
    )
    return Classifier(ClassifierConfig(model=model, classes=dataset.classes, **encoder_cfg))


def _default_patch(size: int) -> int:
    """About 16 to 64 patches: 2 for 8x8 digits, 4 for 28x28 Fashion-MNIST and 32x32 images."""
    return next(p for p in (4, 2, 1) if size % p == 0 and (size // p) ** 2 >= 16)
