"""TensorSplit: one dataset split as the tensors a model reads, shared by classifier and train."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TensorSplit:
    """One split ready for the model: input tensors with the example on dimension 0, and labels."""

    inputs: tuple[torch.Tensor, ...]  # e.g. (ids (n, N), mask (n, N)) or (pixels (n, C, H, W),)
    labels: torch.Tensor  # (n,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: torch.Tensor | slice) -> TensorSplit:
        return TensorSplit(tuple(t[index] for t in self.inputs), self.labels[index])

    def to(self, device: torch.device) -> TensorSplit:
        return TensorSplit(tuple(t.to(device) for t in self.inputs), self.labels.to(device))
