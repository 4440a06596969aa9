"""Does attention matter for this input? Plain-language verdicts, the ablation table, and
what-if runs (knock tokens out, drag one token's α) over the faithfulness analysis."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.trace import Trace, attention_entropy
from ..inputs.classifier import Classifier
from . import drag
from .faithfulness import Faithfulness, FaithfulnessError, Features, uniform_attention

__all__ = [
    "ABLATION_LABELS",
    "Spread",
    "Verdict",
    "ablation_table",
    "attention_spread",
    "dataset_table",
    "input_caution",
    "judge",
    "uniform_effect",
    "what_if",
]

# What each ablation of faithfulness.ABLATIONS replaces, in the page's words.
ABLATION_LABELS = {
    "uniform": "Uniform attention (a_ij = 1/N)",
    "permuted": "Permuted attention (each row shuffled, 20 draws)",
    "no_attention": "No attention (v_i = h_i)",
    "uniform_alpha": "Uniform pooling (α_i = 1/N)",
    "h_o_mean": "No skip input (h_o := its training mean)",
    "h_o_zero": "No skip input (h_o := 0)",
    "c_mean": "No pooled vector (c := its training mean)",
}
MOVES = 0.15  # |Δp| from which an ablation "moves" the prediction (the criterion)
NOTHING = 0.02  # |Δp| under which it "changes nothing"
NEAR_UNIFORM = 0.95  # mean row entropy / log N from which attention counts as near-uniform


@dataclass(frozen=True)
class Spread:
    """How spread the attention rows of one input are."""

    entropy: float  # mean over query rows of the row entropy (nats)
    maximum: float  # log N, the entropy of a uniform row

    @property
    def ratio(self) -> float:
        """entropy / log N in [0, 1]; 0 for a single token."""
        return self.entropy / self.maximum if self.maximum > 0 else 0.0

    @property
    def near_uniform(self) -> bool:
        return self.maximum > 0 and self.ratio >= NEAR_UNIFORM


def attention_spread(trace: Trace) -> Spread:
    """Spread of example 0 of a cropped trace (its N real tokens)."""
    n = trace.attn.shape[-1]
    rows = attention_entropy(trace.attn[0])
    return Spread(float(np.mean(rows)), math.log(n) if n > 1 else 0.0)


@dataclass(frozen=True)
class Verdict:
    """A plain-language answer and how strongly attention matters (for the badge's colour)."""

    text: str
    matters: bool  # uniform attention flips the prediction or moves it by MOVES or more


def _skip_note(result: Faithfulness) -> str:
    zero = result.ablations.get("h_o_zero")
    if zero is not None and (zero.flipped or zero.abs_delta >= MOVES):
        return ": this model decides from h_o (removing it changes the prediction)"
    return ""


def judge(result: Faithfulness, spread: Spread) -> Verdict:
    """The verdict the numbers support, e.g. "uniform attention flips the prediction"."""
    uniform = result.ablations["uniform"]
    new = float(uniform.probs[result.predicted])
    p0 = float(result.probs[result.predicted])
    shape = f"entropy {spread.entropy:.2f} of max {spread.maximum:.2f}"
    if uniform.flipped:
        text = (
            f"Uniform attention flips the prediction (p {p0:.1%} → {new:.1%}): "
            f"attention carries this decision ({shape})."
        )
        return Verdict(text, True)
    if uniform.abs_delta >= MOVES:
        text = f"Uniform attention moves p by {uniform.delta:+.2f} without flipping it ({shape})."
        return Verdict(text, True)
    if spread.near_uniform and uniform.abs_delta < NOTHING:
        text = f"Attention is almost uniform here ({shape}) and removing it changes nothing"
        return Verdict(text + (_skip_note(result) or "."), False)
    text = (
        f"Replacing attention by uniform attention moves p by only {uniform.delta:+.3f} "
        f"({shape}): other paths carry most of this decision"
    )
    return Verdict(text + (_skip_note(result) or "."), False)


def ablation_table(result: Faithfulness) -> pd.DataFrame:
    """One row per ablation: what it replaces, the new prediction, p of the original class,
    Δp and how often it flips (0 or 1; a fraction for the permuted draws)."""
    rows = []
    for name, ablation in result.ablations.items():
        new = int(np.argmax(ablation.probs))
        rows.append({
            "ablation": ABLATION_LABELS.get(name, name),
            "prediction": result.classes[new],
            "p_original_class": float(ablation.probs[result.predicted]),
            "delta_p": ablation.delta,
            "delta_p_std": ablation.delta_std,
            "flip_rate": ablation.flip_rate,
        })  # fmt: skip
    return pd.DataFrame(rows)


@torch.no_grad()
def what_if(
    classifier: Classifier,
    features: Features,
    knocked: Sequence[int] = (),
    alpha: tuple[int, float] | None = None,
    settings: dict[str, Any] | None = None,
) -> np.ndarray:
    """Class probabilities (C,) with the tokens `knocked` masked and, with alpha = (j, value),
    token j's pooling weight set to `value` (the other real tokens share 1 - value in their
    proportions). Indices count real tokens, 0-based."""
    mask = features.mask.clone()
    real = torch.nonzero(mask[0]).flatten()
    mask[0, real[list(knocked)]] = False
    if not bool(mask.any()):
        raise FaithfulnessError("every token is knocked out: keep at least one")
    core, settings = classifier.core, settings or {}
    overrides = {}
    if alpha is not None:
        trace = core.trace(features.x, mask, **settings)
        j = int(real[alpha[0]])
        overrides["alpha_override"] = _dragged_alpha(trace, j, alpha[1], mask)
    probs = core.trace(features.x, mask, **settings, **overrides).probs[0]
    return probs.float().cpu().numpy()


def _dragged_alpha(trace: Trace, j: int, value: float, mask: torch.Tensor) -> torch.Tensor:
    """α (1, N) with α_j = value and the rest scaled to sum to 1 - value over real tokens."""
    return drag.dragged_alpha(trace.alpha, j, value, mask)


@torch.no_grad()
def uniform_effect(
    classifier: Classifier, features: Features, settings: dict[str, Any] | None = None
) -> tuple[float, bool]:
    """(Δp of the predicted class, whether it flips) when attention is made uniform: the cheap
    one-number answer for a badge beside the prediction."""
    settings = settings or {}
    probs = classifier.core.trace(features.x, features.mask, **settings).probs[0]
    k = int(probs.argmax())
    attn = uniform_attention(features.mask)
    new = classifier.core.trace(features.x, features.mask, **settings, attn_override=attn).probs[0]
    return float(new[k] - probs[k]), int(new.argmax()) != k


def dataset_table(block: dict[str, Any]) -> pd.DataFrame:
    """A dataset-level study (a metrics.json "faithfulness" block, or StudySummary.to_dict())
    as one row per ablation: its flip rate and mean |Δp| over the examples."""
    flips, moves = block.get("flip_rate", {}), block.get("mean_abs_delta", {})
    rows = [
        {"ablation": ABLATION_LABELS.get(name, name), "flip_rate": rate,
         "mean_abs_delta_p": moves.get(name)}
        for name, rate in flips.items()
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["ablation", "flip_rate", "mean_abs_delta_p"])


UNKNOWN_SHARE = 0.5  # from this share of unknown word pieces, the input gets a caution
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "he",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "she",
        "that",
        "the",
        "their",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "will",
        "with",
        "you",
    ]
)


def input_caution(classifier: Classifier, text: str) -> str | None:
    """A caution for a prediction the input cannot support: mostly [UNK] pieces, or a single
    stop word. None when the input is fine (or the model reads images)."""
    if classifier.config.kind != "text":
        return None
    batch = classifier.encoder.tokenize([text])
    ids = batch.ids[0][batch.mask[0]][1:-1]  # word pieces, without [CLS] and [SEP]
    if len(ids) == 0:
        return None
    unknown = int(classifier.encoder.unknown(ids[None].to(classifier.encoder.device)).sum())
    if unknown / len(ids) >= UNKNOWN_SHARE:
        return (
            f"Most of this input is unknown to the model ({unknown} of {len(ids)} word pieces "
            "read as [UNK]): the prediction says little about this text."
        )
    words = text.split()
    if len(words) == 1 and words[0].strip(".,!?;:").lower() in STOP_WORDS:
        return (
            f"A single stop word ({words[0]!r}) tells the model almost nothing: the prediction "
            "reflects what it learned on average, not this input."
        )
    return None
