"""ERASER comprehensiveness and sufficiency (DeYoung et al. 2020) of token-importance orders.

For one input of N real tokens with p the probability of the predicted class ŷ, and a method's
top k% tokens (ceil(k N / 100), so at least one): comprehensiveness = p(ŷ|x) − p(ŷ|x without
them), sufficiency = p(ŷ|x) − p(ŷ|only them), and each one's AOPC = its mean over k. Removing a
token means masking it: it leaves the attention, the pooling and h_o, as a knock-out does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.errors import DenseAttentionError
from ..core.i18n import tr
from ..core.model import DenseAttention

PERCENTS = (1, 5, 10, 20, 50)  # k: the share of tokens taken as the method's rationale
RANDOM = "random"  # the mean of random orders: the baseline every method should beat
RANDOM_ORDERS = 5
TOO_SHORT = (
    "ERASER needs at least two tokens: with one, removing its top token leaves no input and "
    "keeping it changes nothing."
)


class EraserError(DenseAttentionError):
    """An input or a setting ERASER cannot use; the message says why."""


@dataclass(frozen=True)
class Eraser:
    """Comprehensiveness and sufficiency of each method at K percentages, for one input."""

    n: int  # real tokens
    p0: float  # p(ŷ|x), ŷ the predicted class
    percents: tuple[int, ...]  # (K,) k in %
    counts: np.ndarray  # (K,) tokens in the top k%: ceil(k n / 100), at least one
    comprehensiveness: dict[str, np.ndarray]  # method -> (K,) p0 − p(ŷ | top k% masked)
    sufficiency: dict[str, np.ndarray]  # method -> (K,) p0 − p(ŷ | all but the top k% masked)

    @property
    def aopc_comprehensiveness(self) -> dict[str, float]:
        """Mean over k of comprehensiveness per method: higher = the top tokens matter more."""
        return {m: float(v.mean()) for m, v in self.comprehensiveness.items()}

    @property
    def aopc_sufficiency(self) -> dict[str, float]:
        """Mean over k of sufficiency per method: lower = the top tokens alone suffice."""
        return {m: float(v.mean()) for m, v in self.sufficiency.items()}

    def rounded_up(self) -> tuple[int, ...]:
        """The percentages whose k% of n is under one token (one token is taken instead)."""
        return tuple(k for k in self.percents if k * self.n < 100)

    def note(self) -> str:
        """What removing means here, and which k were rounded up to one token."""
        text = tr("Removing a token means masking it. Top k% of {n} tokens, rounded up.", n=self.n)
        short = self.rounded_up()
        if short:
            shown = ", ".join(f"{k}%" for k in short)
            text += tr(
                " {shown} of {n} tokens is under one token: one token is taken.",
                shown=shown,
                n=self.n,
            )
        return text

    def table(self) -> pd.DataFrame:
        """One row per method and k: tokens, comprehensiveness and sufficiency."""
        rows = [
            {"method": m, "k_percent": k, "tokens": int(c),
             "comprehensiveness": float(self.comprehensiveness[m][i]),
             "sufficiency": float(self.sufficiency[m][i])}
            for m in self.comprehensiveness
            for i, (k, c) in enumerate(zip(self.percents, self.counts, strict=True))
        ]  # fmt: skip
        return pd.DataFrame(rows)

    def aopc_table(self) -> pd.DataFrame:
        """One row per method: AOPC of comprehensiveness and of sufficiency."""
        comp, suff = self.aopc_comprehensiveness, self.aopc_sufficiency
        return pd.DataFrame({"method": list(comp), "comprehensiveness_aopc": list(comp.values()),
                             "sufficiency_aopc": [suff[m] for m in comp]})  # fmt: skip


def top_counts(n: int, percents: tuple[int, ...] = PERCENTS) -> np.ndarray:
    """Tokens in the top k% of n tokens for each k: ceil(k n / 100), integer arithmetic."""
    if any(not 0 < k < 100 for k in percents):
        raise EraserError(f"every k must be a percentage strictly between 0 and 100: {percents}")
    return np.array([-(-k * n // 100) for k in percents], dtype=int)


def _rationale_masks(order: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(K, n) bool: True for the first counts[k] tokens of `order` (the top k%)."""
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    return rank[None, :] < counts[:, None]


@torch.no_grad()
def erase(
    core: DenseAttention,
    x: torch.Tensor,
    importance: dict[str, np.ndarray],
    settings: dict[str, Any] | None = None,
    *,
    percents: tuple[int, ...] = PERCENTS,
    random_orders: int = RANDOM_ORDERS,
    seed: int = 0,
) -> Eraser:
    """ERASER scores of one input x (n, D) or (1, n, D), every token real, for each method's
    scores (n,) (higher = more important; ties keep token order) and RANDOM (the mean over
    `random_orders` seeded random orders). `settings` are the live similarity / temperature /
    pooling. One batched forward pass of 2 K (methods + random orders) copies."""
    x = x[None] if x.dim() == 2 else x
    n = x.shape[1]
    if n < 2:
        raise EraserError(TOO_SHORT)
    if random_orders < 1:
        raise EraserError("random_orders must be at least 1")
    counts = top_counts(n, percents)
    rng = np.random.default_rng(seed)
    orders = [np.argsort(-np.asarray(s), kind="stable") for s in importance.values()]
    orders += [rng.permutation(n) for _ in range(random_orders)]
    top = np.stack([_rationale_masks(o, counts) for o in orders])  # (O, K, n)
    masks = torch.as_tensor(np.concatenate([~top, top]).reshape(-1, n), device=x.device)
    probs0 = core.trace(x, **(settings or {})).probs[0].float()
    predicted = int(probs0.argmax())
    p0 = float(probs0[predicted])
    probs = core.trace(x.expand(len(masks), -1, -1), masks, **(settings or {})).probs
    drop = p0 - probs[:, predicted].float().cpu().numpy().reshape(2, len(orders), len(counts))
    names = list(importance)
    comp = dict(zip(names, drop[0], strict=False)) | {RANDOM: drop[0, len(names) :].mean(0)}
    suff = dict(zip(names, drop[1], strict=False)) | {RANDOM: drop[1, len(names) :].mean(0)}
    return Eraser(n=n, p0=p0, percents=tuple(percents), counts=counts,
                  comprehensiveness=comp, sufficiency=suff)  # fmt: skip


@dataclass(frozen=True)
class EraserSummary:
    """Means over the E examples that have at least two tokens."""

    examples: int  # E
    skipped: int  # examples of one token (ERASER undefined)
    percents: tuple[int, ...]
    comprehensiveness: dict[str, list[float]]  # method -> (K,) mean over examples
    sufficiency: dict[str, list[float]]  # method -> (K,)

    def to_dict(self) -> dict[str, Any]:
        r = lambda vs: [round(float(v), 4) for v in vs]  # noqa: E731
        comp, suff = self.comprehensiveness, self.sufficiency
        return {"examples": self.examples, "skipped_one_token": self.skipped,
                "percents": list(self.percents), "removal": "masking",
                "comprehensiveness": {m: r(v) for m, v in comp.items()},
                "sufficiency": {m: r(v) for m, v in suff.items()},
                "comprehensiveness_aopc": {m: _mean4(v) for m, v in comp.items()},
                "sufficiency_aopc": {m: _mean4(v) for m, v in suff.items()}}  # fmt: skip

    def table(self) -> pd.DataFrame:
        """One row per method: comprehensiveness and sufficiency at each k, and their AOPC."""
        rows = []
        for m, comp in self.comprehensiveness.items():
            row: dict[str, Any] = {"method": m}
            row |= {f"comp@{k}%": v for k, v in zip(self.percents, comp, strict=True)}
            row["comp_aopc"] = float(np.mean(comp))
            suff = self.sufficiency[m]
            row |= {f"suff@{k}%": v for k, v in zip(self.percents, suff, strict=True)}
            row["suff_aopc"] = float(np.mean(self.sufficiency[m]))
            rows.append(row)
        return pd.DataFrame(rows).set_index("method")


def _mean4(values: list[float]) -> float:
    return round(float(np.mean(values)), 4)


def summarize(results: list[Eraser | None]) -> EraserSummary:
    """Mean comprehensiveness and sufficiency per method and k; None (one-token inputs) skipped."""
    kept = [r for r in results if r is not None]
    if not kept:
        raise EraserError("no example has two tokens or more: " + TOO_SHORT)
    methods = list(kept[0].comprehensiveness)
    mean = lambda field, m: np.mean([getattr(r, field)[m] for r in kept], axis=0).tolist()  # noqa: E731
    return EraserSummary(examples=len(kept), skipped=len(results) - len(kept),
                         percents=kept[0].percents,
                         comprehensiveness={m: mean("comprehensiveness", m) for m in methods},
                         sufficiency={m: mean("sufficiency", m) for m in methods})  # fmt: skip
