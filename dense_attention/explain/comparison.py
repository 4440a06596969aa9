"""One input under two settings: how its attention moved (difference and per-token entropy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.trace import Trace, attention_entropy

__all__ = ["AttentionComparison", "compare_attention"]


@dataclass(frozen=True)
class AttentionComparison:
    """Attention of example 0 of two traces of the same tokens, A and B (N real tokens)."""

    difference: np.ndarray  # (N, N) a_ij under B minus a_ij under A
    entropy: np.ndarray  # (N, 2) entropy in nats of each query token's row: column 0 A, 1 B


def compare_attention(a: Trace, b: Trace) -> AttentionComparison:
    """How the attention of the same input differs between trace `a` and trace `b`."""
    attn_a, attn_b = a.attn[0].detach().cpu(), b.attn[0].detach().cpu()
    if attn_a.shape != attn_b.shape:
        raise ValueError(f"the traces hold different inputs: {attn_a.shape} vs {attn_b.shape}")
    difference = (attn_b - attn_a).numpy()
    entropy = np.stack([attention_entropy(attn_a), attention_entropy(attn_b)], axis=1)
    return AttentionComparison(difference, entropy)
