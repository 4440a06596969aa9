"""Jain & Wallace's permutation test (2019, section 4.2) on the pooling weights α: shuffle α among
an input's real tokens, keep everything else as the model computed it, and see how far the
output moves (median over the draws, per input; then the median over inputs).

Their attention is the one the output reads (a BiLSTM's states pooled by additive attention); α
is ours. The token-to-token attention a_ij stays as computed (its own row shuffle is
faithfulness.py's `permuted` ablation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data.dataset import Split
from ..inputs.classifier import Classifier
from .faithfulness import FaithfulnessError, sample_split

DRAWS = 100  # permutations per input (J&W used 100)
MAX_ALPHA_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)  # inputs grouped by their largest α_i, as J&W plot


@dataclass(frozen=True)
class PermutationTest:
    """Per input (E of them): the median over the draws of |Δp(ŷ)| and of the total variation
    between the class probabilities, and the input's largest α_i."""

    abs_delta: np.ndarray  # (E,) median |p_perm(ŷ) − p(ŷ)|
    tv: np.ndarray  # (E,) median ½ Σ_c |p_perm(c) − p(c)|
    flip_rate: np.ndarray  # (E,) share of draws whose prediction is another class
    max_alpha: np.ndarray  # (E,)
    draws: int

    def to_dict(self) -> dict[str, Any]:
        r = lambda v: float(f"{v:.4g}")  # noqa: E731
        bins = {}
        for lo, hi in zip(MAX_ALPHA_BINS, MAX_ALPHA_BINS[1:], strict=False):
            inside = (self.max_alpha > lo) & (self.max_alpha <= hi)
            if inside.any():
                median = r(np.median(self.abs_delta[inside]))
                bins[f"{lo:g}-{hi:g}"] = {"inputs": int(inside.sum()), "median_abs_delta": median}
        return {"inputs": len(self.abs_delta), "draws": self.draws,
                "median_abs_delta": r(np.median(self.abs_delta)),
                "median_tv": r(np.median(self.tv)), "mean_flip_rate": r(self.flip_rate.mean()),
                "by_max_alpha": bins}  # fmt: skip


@torch.no_grad()
def permute_alpha(
    classifier: Classifier, split: Split, limit: int | None, seed: int = 0, draws: int = DRAWS
) -> PermutationTest:
    """The permutation test over a stratified sample of at most `limit` inputs of `split`
    (inputs with one real token have one α and nothing to shuffle: left out)."""
    if draws < 1:
        raise FaithfulnessError(f"draws must be >= 1, got {draws}")
    tensors = classifier.tensors(sample_split(split, limit, seed))
    classifier.eval()
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(len(tensors)):
        x, mask = classifier.features(*tensors.take(slice(i, i + 1)).inputs)
        x = x[:, mask[0]]  # (1, n, D) real tokens only
        n = x.shape[1]
        if n < 2:
            continue
        t = classifier.core.trace(x)
        alpha, p0 = t.alpha[0], t.probs[0]
        order = torch.rand(draws, n, generator=gen).argsort(dim=-1)
        probs = classifier.core.trace(x.expand(draws, -1, -1), alpha_override=alpha[order]).probs
        y = int(p0.argmax())
        rows.append(((probs[:, y] - p0[y]).abs().median(), (probs - p0).abs().sum(-1).div(2)
                     .median(), (probs.argmax(-1) != y).float().mean(), alpha.max()))  # fmt: skip
    if not rows:
        raise FaithfulnessError("no input with two tokens or more: nothing to permute")
    a, tv, flips, peak = (np.array([float(v) for v in col]) for col in zip(*rows, strict=True))
    return PermutationTest(a, tv, flips, peak, draws)
