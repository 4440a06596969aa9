"""Small random models and data shared by the library's unit tests (seeded, so repeatable)."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from dense_attention import DenseAttention, ModelConfig
from dense_attention.core import config as choices
from dense_attention.data.dataset import Dataset, Split
from dense_attention.inputs.classifier import Classifier, ClassifierConfig
from dense_attention.inputs.image_encoder import ImageConfig
from dense_attention.inputs.text_encoder import TextConfig

# Every combination of the config's choices (config.py's tuples: new choices are covered):
# (similarity, activation, pooling, pool activation, skip, sequence encoder).
CHOICES = list(
    itertools.product(
        choices.SIMILARITY_NAMES,
        choices.ACTIVATIONS,
        choices.POOLINGS,
        choices.POOL_ACTIVATIONS,
        choices.SKIPS,
        choices.SEQUENCE_ENCODERS,
    )
)


def shaken(model: torch.nn.Module, scale: float = 1.0) -> torch.nn.Module:
    """`model` with seeded noise added to every weight (away from its tidy initialisation)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model


def dense_model(seed: int = 0, similarity: str = "scaled_dot", dims=(6, 8, 3), **kw):
    """A DenseAttention (D, d, C = dims) with gelu, tanh pooling and shaken weights."""
    torch.manual_seed(seed)
    D, d, C = dims
    cfg = ModelConfig(input_dim=D, hidden_dim=d, num_classes=C, similarity=similarity,
                      activation="gelu", pool_activation="tanh", **kw)  # fmt: skip
    return shaken(DenseAttention(cfg).eval(), 0.5)


def text_classifier(**model_options) -> Classifier:
    """A 3-class text classifier over a learned 16-word vocabulary, shaken."""
    torch.manual_seed(0)
    cfg = ClassifierConfig(
        model=ModelConfig(input_dim=12, hidden_dim=8, num_classes=3, **model_options),
        classes=("a", "b", "c"),
        text=TextConfig("learned", 16, 8, 4),
    )
    return shaken(Classifier(cfg).eval())


def image_dataset() -> Dataset:
    """40 random 8x8 gray pictures in 2 alternating classes."""
    rng = np.random.default_rng(0)
    images = rng.random((40, 8, 8, 1)).astype(np.float32)
    labels = np.arange(40) % 2
    split = Split(images, labels)
    return Dataset("tiny", "image", ("a", "b"), split, Split(images[:4], labels[:4]),
                   Split(images[:10], labels[:10]), seed=0)  # fmt: skip


def image_classifier(hidden_dim: int = 8) -> Classifier:
    """A 2-class classifier of 8x8 gray pictures (4x4 patches with positions)."""
    torch.manual_seed(0)
    cfg = ClassifierConfig(model=ModelConfig(input_dim=20, hidden_dim=hidden_dim, num_classes=2),
                           classes=("a", "b"),
                           image=ImageConfig(size=8, channels=1, patch=4, pos_dim=4))  # fmt: skip
    return Classifier(cfg).eval()
