"""What-if on the pooling weights: tokens knocked out, one token's α dragged to a value and the
other tokens' α renormalised to share the rest in their proportions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..inputs.classifier import Classifier
from .faithfulness import FaithfulnessError, Features

__all__ = ["dragged_alpha", "knocked_mask", "pooling_weights"]


def knocked_mask(mask: torch.Tensor, knocked: Sequence[int]) -> torch.Tensor:
    """`mask` (1, N) with the real tokens `knocked` (0-based among the real ones) set False.
    Refuses to knock out every token."""
    out = mask.clone()
    real = torch.nonzero(out[0]).flatten()
    out[0, real[list(knocked)]] = False
    if not bool(out.any()):
        raise FaithfulnessError("every token is knocked out: keep at least one")
    return out


def dragged_alpha(alpha: torch.Tensor, j: int, value: float, mask: torch.Tensor) -> torch.Tensor:
    """α (1, N) with α_j = value and every other real token's α scaled by (1 - value) /
    (1 - α_j), so they keep their proportions and all sum to 1; with α all on j, the rest is
    shared evenly. `alpha` and `mask` are (1, N); j indexes N."""
    if not 0.0 <= value <= 1.0 or not bool(mask[0, j]):
        raise FaithfulnessError("α must lie in [0, 1], on a token that is not knocked out")
    others = alpha.detach().clone() * mask
    others[0, j] = 0.0
    total = float(others.sum())
    if total > 0:
        others = others * (1.0 - value) / total
    else:  # α was all on j: spread the rest evenly
        rest = mask.clone()
        rest[0, j] = False
        others = rest.to(alpha.dtype) * (1.0 - value) / max(int(rest.sum()), 1)
    others[0, j] = value
    return others


@torch.no_grad()
def pooling_weights(
    classifier: Classifier,
    features: Features,
    knocked: Sequence[int] = (),
    settings: dict[str, Any] | None = None,
) -> np.ndarray:
    """The model's own α (n,) over the n real tokens of `features` with `knocked` masked (their
    α is 0), under the live `settings`: where a dragged α starts."""
    mask = knocked_mask(features.mask, knocked)
    alpha = classifier.core.trace(features.x, mask, **(settings or {})).alpha[0]
    return alpha[features.mask[0]].double().cpu().numpy()
