"""Wiegreffe & Pinter's frozen-attention diagnostic (2019, test 3): an MLP that sees each token
alone, pooled with uniform weights, the trained model's α frozen, or its own learned α.

g_i = MLP(x_i) (no token sees another), c = Σ_i w_i g_i, z = W c + b. If the frozen α beats
uniform weights, the trained model's α carries information about which tokens matter that a
model without token-to-token context can use. x_i is the dense-attention model's input: with
MiniLM-contextual text features, MiniLM itself already saw the whole text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..core.errors import DenseAttentionError
from ..core.model import masked_softmax
from ..core.seeding import init_parameters
from ..data.dataset import Dataset, Split
from ..inputs.classifier import Classifier
from .faithfulness import sample_split

POOLINGS = ("uniform", "frozen", "learned")  # w_i: 1/N, the trained model's α, the MLP's own
LABELS = {"uniform": "uniform weights", "frozen": "trained model's α, frozen",
          "learned": "own learned α"}  # fmt: skip


class DiagnosticError(DenseAttentionError):
    """A setting or a data set the diagnostic cannot use; the message says why."""


@dataclass(frozen=True)
class TokenData:
    """E examples as the dense-attention model reads them, with its α."""

    x: torch.Tensor  # (E, N, D) model input, padding rows included
    mask: torch.Tensor  # (E, N) bool, True = real token
    alpha: torch.Tensor  # (E, N) the trained model's pooling weights (0 on padding)
    labels: torch.Tensor  # (E,) int64

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.x[index], self.mask[index], self.alpha[index], self.labels[index]


@torch.no_grad()
def token_data(
    classifier: Classifier, split: Split, limit: int | None, seed: int = 0, batch_size: int = 64
) -> TokenData:
    """x, mask and the trained α of a stratified sample of at most `limit` examples."""
    tensors = classifier.tensors(sample_split(split, limit, seed))
    classifier.eval()
    device = next(classifier.parameters()).device
    parts: list[tuple[torch.Tensor, ...]] = []
    for start in range(0, len(tensors), batch_size):
        part = tensors.take(slice(start, start + batch_size)).to(device)
        x, mask = classifier.features(*part.inputs)
        alpha = classifier.core.trace(x, mask).alpha
        parts.append((x.float().cpu(), mask.cpu(), alpha.float().cpu()))
    x, mask, alpha = (torch.cat(p) for p in zip(*parts, strict=True))
    return TokenData(x, mask, alpha, tensors.labels.cpu())


class TokenMLP(nn.Module):
    """g_i = MLP(x_i) per token, pooled by `pooling`'s weights, then one linear layer."""

    def __init__(self, input_dim: int, hidden: int, classes: int, pooling: str) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise DiagnosticError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.mlp = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU())  # fmt: skip
        self.score = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.out = nn.Linear(hidden, classes)

    def weights(self, g: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """w (B, N): 1/n, the frozen α, or softmax of the MLP's own scores, 0 on padding."""
        if self.pooling == "frozen":
            return alpha
        scores = self.score(g)[..., 0] if self.pooling == "learned" else torch.zeros_like(alpha)
        return masked_softmax(scores, mask, dim=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        g = self.mlp(x)  # (B, N, H): each token alone
        return self.out((self.weights(g, mask, alpha)[..., None] * g).sum(dim=1))


def fit(
    data: TokenData, classes: int, pooling: str, *, hidden: int = 64, epochs: int = 20,
    lr: float = 3e-3, batch_size: int = 64, seed: int = 0,
) -> TokenMLP:  # fmt: skip
    """Train a TokenMLP with Adam on cross-entropy; seeded weights and order."""
    model = init_parameters(TokenMLP(data.x.shape[-1], hidden, classes, pooling), seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for index in torch.randperm(len(data.labels), generator=gen).split(batch_size):
            x, mask, alpha, labels = data.batch(index)
            loss = nn.functional.cross_entropy(model(x, mask, alpha), labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, data: TokenData, batch_size: int = 256) -> float:
    """Share of `data` a TokenMLP classifies right."""
    right = 0
    for index in torch.arange(len(data.labels)).split(batch_size):
        x, mask, alpha, labels = data.batch(index)
        right += int((model(x, mask, alpha).argmax(dim=-1) == labels).sum())
    return right / len(data.labels)


@torch.no_grad()
def model_accuracy(classifier: Classifier, data: TokenData) -> float:
    """The trained dense-attention model's accuracy on the same examples."""
    device = next(classifier.parameters()).device
    logits = classifier.core(data.x.to(device), data.mask.to(device))
    return float((logits.argmax(dim=-1).cpu() == data.labels).float().mean())


@dataclass(frozen=True)
class Diagnostic:
    """Test accuracy of each pooling, beside the trained model's."""

    dataset: str
    accuracy: dict[str, float]  # POOLINGS -> test accuracy
    model_accuracy: float  # the trained dense-attention model, same test examples
    train_examples: int
    test_examples: int
    epochs: int
    seconds: float

    def table(self) -> pd.DataFrame:
        rows = [{"pooling": LABELS[p], "test_accuracy": a} for p, a in self.accuracy.items()]
        rows.append({"pooling": "trained dense-attention model", "test_accuracy":
                     self.model_accuracy})  # fmt: skip
        return pd.DataFrame(rows).set_index("pooling")

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "accuracy": {k: round(v, 4) for k, v in
                                                      self.accuracy.items()},
                "model_accuracy": round(self.model_accuracy, 4),
                "train_examples": self.train_examples, "test_examples": self.test_examples,
                "epochs": self.epochs, "seconds": round(self.seconds, 1)}  # fmt: skip


def run(
    classifier: Classifier, dataset: Dataset, *, train_limit: int | None = 2000,
    test_limit: int | None = 1000, epochs: int = 20, seed: int = 0,
    on_pooling: Callable[[str], None] | None = None, **fit_options: Any,
) -> Diagnostic:  # fmt: skip
    """Fit one TokenMLP per pooling on (a sample of) the training split and score each on (a
    sample of) the test split."""
    import time

    if len(set(map(int, dataset.train.labels))) < 2:
        raise DiagnosticError(f"{dataset.name}: the training split has one class only")
    start = time.perf_counter()
    train = token_data(classifier, dataset.train, train_limit, seed)
    test = token_data(classifier, dataset.test, test_limit, seed)
    classes = len(classifier.classes)
    scores = {}
    for pooling in POOLINGS:
        if on_pooling:
            on_pooling(pooling)
        mlp = fit(train, classes, pooling, epochs=epochs, seed=seed, **fit_options)
        scores[pooling] = accuracy(mlp, test)
    return Diagnostic(dataset=dataset.name, accuracy=scores,
                      model_accuracy=model_accuracy(classifier, test),
                      train_examples=len(train.labels), test_examples=len(test.labels),
                      epochs=epochs, seconds=time.perf_counter() - start)  # fmt: skip
