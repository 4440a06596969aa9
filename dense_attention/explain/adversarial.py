"""Adversarial attention (Jain & Wallace 2019): the pooling weights α' farthest from the model's α
(Jensen–Shannon divergence, at most ln 2) whose prediction stays within ε in total variation.

For one input the search runs gradient ascent on the logits of α' (several seeded starts in one
batch), with the token-to-token attention, v and h_o fixed as the model computed them:
maximise JSD(α, α') − λ · max(0, TV(p, p') / ε − 1). The answer is the largest JSD among the
visited α' whose TV(p, p') ≤ ε (α itself, JSD 0, when none is).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core.errors import DenseAttentionError
from ..core.model import DenseAttention
from ..data.dataset import Split
from ..inputs.classifier import Classifier
from .faithfulness import features_of, sample_split

EPSILON = 0.01  # the largest total variation between p and p' that counts as "the same answer"
LN2 = math.log(2)  # the largest JSD (natural log): two distributions with disjoint supports
STEPS = 150
RESTARTS = 8  # seeded starts searched together in one batch
LEARNING_RATE = 0.3
PENALTY = 2.0  # λ: weight of the excess of TV over ε, in units of ε
QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


class AdversarialError(DenseAttentionError):
    """An input or a setting the search cannot use; the message says why."""


def jsd(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon divergence over the last dim (natural log, 0 log 0 = 0): in [0, ln 2]."""
    m = (p + q) / 2

    def kl(a: torch.Tensor) -> torch.Tensor:
        terms = a * (a.clamp_min(1e-30).log() - m.clamp_min(1e-30).log())
        return torch.where(a > 0, terms, torch.zeros_like(terms)).sum(-1)

    return (kl(p) + kl(q)) / 2


def total_variation(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """½ Σ |p − q| over the last dim: the largest change of any event's probability."""
    return (p - q).abs().sum(-1) / 2


@dataclass(frozen=True)
class Adversary:
    """The farthest α' found for one input (n real tokens, C classes)."""

    alpha: np.ndarray  # (n,) the model's α
    adversarial: np.ndarray  # (n,) α' with TV(p, p') <= epsilon and the largest JSD found
    jsd: float  # JSD(α, α') in [0, ln 2]
    tv: float  # TV(p, p') of α'
    probs: np.ndarray  # (C,) p under α
    adversarial_probs: np.ndarray  # (C,) p' under α'
    epsilon: float

    @property
    def share_of_max(self) -> float:
        """JSD / ln 2: 0 = the same attention, 1 = disjoint supports."""
        return self.jsd / LN2

    @property
    def same_prediction(self) -> bool:
        return int(self.probs.argmax()) == int(self.adversarial_probs.argmax())


def _starts(alpha: torch.Tensor, restarts: int, seed: int) -> torch.Tensor:
    """(R, n) logits: log α plus seeded noise of growing size (0.5 to 3), one start each."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(restarts, alpha.shape[-1], generator=gen).to(alpha.device)
    scale = torch.linspace(0.5, 3.0, restarts, device=alpha.device)[:, None]
    return alpha.clamp_min(1e-12).log()[None] + scale * noise


def search(
    core: DenseAttention,
    x: torch.Tensor,
    settings: dict[str, Any] | None = None,
    *,
    epsilon: float = EPSILON,
    steps: int = STEPS,
    restarts: int = RESTARTS,
    lr: float = LEARNING_RATE,
    seed: int = 0,
) -> Adversary:
    """The adversarial α' of one input x (n, D) or (1, n, D), every token real, under the live
    `settings` (similarity, temperature, pooling)."""
    x = x[None] if x.dim() == 2 else x
    n = x.shape[1]
    if n < 2:
        raise AdversarialError("one token has one possible attention (α = 1): nothing to search")
    if not 0 < epsilon < 1 or steps < 1 or restarts < 1:
        raise AdversarialError("needs 0 < epsilon < 1, steps >= 1 and restarts >= 1")
    with torch.no_grad():
        t = core.trace(x, **(settings or {}))
    alpha, p0 = t.alpha[0].float(), t.probs[0].float()
    values, h, mask = (v.expand(restarts, *v.shape[1:]) for v in (t.values, t.h, t.mask))
    logits = _starts(alpha, restarts, seed).requires_grad_(True)
    optimiser = torch.optim.Adam([logits], lr=lr)
    best = (0.0, alpha.detach().clone(), p0)
    for _ in range(steps):
        with torch.enable_grad():
            candidate = torch.softmax(logits, dim=-1)
            probs = torch.softmax(core.head(values, h, mask, candidate)[-1].float(), dim=-1)
            tv, divergence = total_variation(probs, p0), jsd(alpha, candidate)
            best = _keep_best(best, candidate.detach(), probs.detach(), tv.detach(),
                              divergence.detach(), epsilon)  # fmt: skip
            loss = (PENALTY * torch.relu(tv / epsilon - 1) - divergence).sum()
            # grad of the logits only: the model's weights (shared by sessions) get no .grad
            (logits.grad,) = torch.autograd.grad(loss, [logits])
        optimiser.step()
    return _adversary(core, values[:1], h[:1], mask[:1], alpha, p0, best, epsilon)


def _keep_best(best: tuple, candidate: torch.Tensor, probs: torch.Tensor, tv: torch.Tensor,
               divergence: torch.Tensor, epsilon: float) -> tuple:  # fmt: skip
    """The (jsd, α', p') with the largest JSD so far among candidates within ε."""
    feasible = torch.where(tv <= epsilon, divergence, torch.full_like(divergence, -1.0))
    r = int(feasible.argmax())
    if float(feasible[r]) > best[0]:
        return float(feasible[r]), candidate[r].clone(), probs[r].clone()
    return best


@torch.no_grad()
def _adversary(
    core: DenseAttention, values: torch.Tensor, h: torch.Tensor, mask: torch.Tensor,
    alpha: torch.Tensor, p0: torch.Tensor, best: tuple, epsilon: float,
) -> Adversary:  # fmt: skip
    """Recompute p' of the best α' alone (batch of one) and package it."""
    adversarial = best[1]
    probs = torch.softmax(core.head(values, h, mask, adversarial[None])[-1][0].float(), dim=-1)
    return Adversary(alpha=alpha.cpu().numpy(), adversarial=adversarial.cpu().numpy(),
                     jsd=float(jsd(alpha, adversarial)), tv=float(total_variation(probs, p0)),
                     probs=p0.cpu().numpy(), adversarial_probs=probs.cpu().numpy(),
                     epsilon=epsilon)  # fmt: skip


def search_item(
    classifier: Classifier, item: Any, settings: dict[str, Any] | None = None, **options: Any
) -> Adversary:
    """`search` on one raw input (a text or an image) of `classifier`, over its real tokens."""
    f = features_of(classifier, item)
    return search(classifier.core, f.x[:, f.mask[0]], settings, **options)


@dataclass(frozen=True)
class AdversarialSummary:
    """The best JSD reached on each of E examples (n >= 2), and its distribution."""

    jsd: np.ndarray  # (E,)
    epsilon: float
    skipped: int  # one-token examples

    def to_dict(self) -> dict[str, Any]:
        q = np.quantile(self.jsd, QUANTILES)
        return {"examples": len(self.jsd), "skipped_one_token": self.skipped,
                "epsilon_tv": self.epsilon, "max_jsd": round(LN2, 4),
                "mean_jsd": round(float(self.jsd.mean()), 4),
                "quantiles": {f"{p:g}": round(float(v), 4) for p, v in zip(QUANTILES, q,
                                                                           strict=True)},
                "share_over_half_ln2": round(float((self.jsd > LN2 / 2).mean()), 4)}  # fmt: skip

    def text(self) -> str:
        """One line for the CLI."""
        block = self.to_dict()
        q = block["quantiles"]
        return (f"adversarial attention (TV <= {self.epsilon:g}) over {len(self.jsd)} examples: "
                f"best JSD median {q['0.5']:.3f} (10% {q['0.1']:.3f}, 90% {q['0.9']:.3f}, "
                f"max {q['1']:.3f}; ln 2 = {LN2:.3f}); "
                f"{block['share_over_half_ln2']:.0%} of inputs over ln 2 / 2")  # fmt: skip


def study(
    classifier: Classifier, split: Split, limit: int | None = None, seed: int = 0,
    on_example: Callable[[int, int], None] | None = None, **options: Any,
) -> AdversarialSummary:  # fmt: skip
    """`search` on each example of a stratified sample of at most `limit` of split."""
    tensors = classifier.tensors(sample_split(split, limit, seed))
    device = next(classifier.parameters()).device
    values, skipped = [], 0
    for i in range(len(tensors)):
        with torch.no_grad():
            x, mask = classifier.features(*tensors.take(slice(i, i + 1)).to(device).inputs)
        if int(mask.sum()) < 2:
            skipped += 1
        else:
            values.append(search(classifier.core, x[:, mask[0]], seed=seed, **options).jsd)
        if on_example:
            on_example(i + 1, len(tensors))
    if not values:
        raise AdversarialError("no example has two tokens or more")
    return AdversarialSummary(jsd=np.array(values), epsilon=options.get("epsilon", EPSILON),
                              skipped=skipped)  # fmt: skip
