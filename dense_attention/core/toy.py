"""The Model page's toy: a tiny fixed untrained model and sentence; every number fits on screen."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import ModelConfig
from .model import DenseAttention
from .trace import Trace

__all__ = ["ToyExample", "toy_example"]


@dataclass(frozen=True)
class ToyExample:
    """A tiny fixed model and sentence for the model page: read-only once built."""

    model: DenseAttention
    x: torch.Tensor  # (1, N, D)
    tokens: tuple[str, ...]
    class_names: tuple[str, ...]

    def trace(self, similarity: str | None = None, temperature: float | None = None) -> Trace:
        """The cropped trace (B=1) of the sentence, with optional overrides."""
        with torch.no_grad():
            return self.model.trace(self.x, similarity=similarity, temperature=temperature)


def toy_example(seed: int = 0) -> ToyExample:
    """ "the cat sat on the mat" through an untrained DenseAttention(D=8, d=6, C=2).

    Each distinct word gets one random embedding, so the two "the" share the same x_i: this model
    sees no positions, and their rows in every matrix are equal.
    """
    tokens = ("the", "cat", "sat", "on", "the", "mat")
    vocabulary = sorted(set(tokens))
    gen = torch.Generator().manual_seed(seed)
    embeddings = torch.randn(len(vocabulary), 8, generator=gen)
    x = embeddings[[vocabulary.index(t) for t in tokens]].unsqueeze(0)  # (1, N, D)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DenseAttention(ModelConfig(input_dim=8, hidden_dim=6, num_classes=2)).eval()
    return ToyExample(model, x, tokens, ("class 1", "class 2"))
