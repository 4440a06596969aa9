"""Does attention matter for this input? The one verdict (which paths carry the decision, in
the words every page uses), the ablation table, and what-if runs over the faithfulness analysis."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.config import ModelConfig
from ..core.trace import Trace, attention_entropy
from ..inputs.classifier import Classifier
from . import drag
from .faithfulness import Ablation, Faithfulness, FaithfulnessError, Features, TrainingMeans
from .faithfulness import ablations_of as run_ablations

__all__ = [
    "ABLATION_LABELS",
    "DECIDES",
    "DIAGONAL",
    "NOTHING",
    "PATHS",
    "Effect",
    "Spread",
    "Verdict",
    "ablation_table",
    "attention_spread",
    "dataset_table",
    "fmt_delta",
    "head_ablation_table",
    "input_caution",
    "judge",
    "judge_input",
    "mean_diagonal",
    "model_has",
    "verdict_of",
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

# The verdict's thresholds (docs/faithfulness.md, "The verdict"), on one input's Δp of the
# predicted class's probability p.
DECIDES = 0.10  # |Δp| from which an ablation's path decides (a flip always does)
NOTHING = 0.02  # |Δp| under which replacing a path "barely" changes p; between: "a little"
DIAGONAL = 0.5  # mean a_ii above which token-to-token attention "mostly keeps each token itself"
NEAR_UNIFORM = 0.95  # mean row entropy / log N from which attention counts as near-uniform
SHOWN_DECIMALS = 3  # Δp is shown to 3 decimals (2 from 0.1 on); smaller shows as "< 0.001"

# The paths a decision can go through, and the ablations that test each (first present wins,
# except "shape": the stronger of uniform and shuffled attention).
PATHS = ("mixing", "shape", "pooling", "skip")
PATH_ABLATIONS = {
    "mixing": ("no_attention",),  # token-to-token attention replaced by the identity
    "shape": ("uniform", "permuted"),  # its weights replaced by uniform or shuffled ones
    "pooling": ("uniform_alpha",),  # α replaced by 1/N: only with learned pooling
    "skip": ("h_o_mean", "h_o_zero"),  # h_o replaced: only with skip = "mean"
}
PATH_NAMES = {
    "mixing": "token-to-token attention",
    "shape": "the shape of token-to-token attention",
    "pooling": "the pooling α",
    "skip": "the skip input h_o",
}
REPLACEMENTS = {  # what the ablation does, as the subject of "... moves p by X"
    "no_attention": "replacing it by the identity (v_i = h_i)",
    "uniform": "uniform attention (a_ij = 1/N)",
    "permuted": "shuffling each row of the attention",
    "uniform_alpha": "uniform α (α_i = 1/N)",
    "h_o_mean": "replacing h_o by its training mean",
    "h_o_zero": "replacing h_o by 0",
}
LEVELS = ("decides", "a little", "barely")  # an Effect's level, strongest first


def fmt_delta(delta: float) -> str:
    """Δp as the verdict shows it: "−0.19", "+0.004", "< 0.001" below the rounding, "0" for
    exactly nothing (never "−0.000")."""
    if delta == 0:
        return "0"
    if abs(delta) < 0.5 * 10**-SHOWN_DECIMALS:
        return f"< {10**-SHOWN_DECIMALS:g}"
    decimals = SHOWN_DECIMALS - 1 if abs(delta) >= 0.095 else SHOWN_DECIMALS
    return ("−" if delta < 0 else "+") + f"{abs(delta):.{decimals}f}"


def model_has(path: str, config: ModelConfig) -> bool:
    """Whether a model with `config` (its live settings in) has this path at all."""
    if path == "pooling":
        return config.pooling == "learned"
    if path == "skip":
        return config.skip != "none"
    return path in PATHS


@dataclass(frozen=True)
class Effect:
    """What replacing one path did to this input's prediction."""

    path: str  # one of PATHS
    ablation: str  # the faithfulness ablation quoted for it
    delta: float  # Δp of the predicted class (mean over draws for shuffled attention)
    flip_rate: float  # share of draws whose prediction changed (0 or 1 for one draw)
    to: str  # the class a single draw flips to ("" when it does not, or over several draws)

    @property
    def flipped(self) -> bool:
        return self.flip_rate >= 0.5

    @property
    def level(self) -> str:
        """One of LEVELS: "decides" (a flip or |Δp| ≥ DECIDES), "a little", "barely"."""
        if self.flipped or abs(self.delta) >= DECIDES:
            return "decides"
        return "a little" if abs(self.delta) >= NOTHING else "barely"

    def moves(self) -> str:
        """ "moves p by −0.19", "changes p by +0.004", with the flip when there is one."""
        verb = "changes" if self.level == "barely" else "moves"
        flip = ""
        if self.flipped:
            rate = f" in {self.flip_rate:.0%} of its draws" if self.ablation == "permuted" else ""
            flip = f" and flips the prediction{rate}" + (f" to '{self.to}'" if self.to else "")
        return f"{verb} p by {fmt_delta(self.delta)}{flip}"

    @property
    def replaced(self) -> str:
        return f"{REPLACEMENTS[self.ablation]} {self.moves()}"


@dataclass(frozen=True)
class Verdict:
    """Which paths carry one input's decision, in the words every page shows."""

    headline: str  # one line, for a badge
    text: str  # the whole verdict, every number it rests on
    decides: tuple[str, ...]  # PATHS that decide, in PATHS order
    effects: dict[str, Effect]  # path -> the ablation quoted for it (the model's paths only)
    diagonal: float  # mean a_ii: the share of attention a token keeps for itself

    @property
    def matters(self) -> bool:
        """Some attention (token-to-token or the pooling α) decides."""
        return any(path != "skip" for path in self.decides)

    @property
    def tone(self) -> str:
        """ "mixing" (what tokens take from each other decides), "attention" (another
        attention path decides) or "other" (none does): a badge's colour."""
        return "mixing" if "mixing" in self.decides else "attention" if self.matters else "other"


def _strength(a: Ablation) -> tuple[bool, float]:
    return a.flipped, abs(a.delta)


def _effects(
    ablations: Mapping[str, Ablation], config: ModelConfig, classes: Sequence[str]
) -> dict[str, Effect]:
    effects = {}
    for path in PATHS:
        found = [ablations[n] for n in PATH_ABLATIONS[path] if n in ablations]
        if not found or not model_has(path, config):
            continue
        a = max(found, key=_strength) if path == "shape" else found[0]
        single = a.flipped and a.name != "permuted"  # one draw: its argmax is the new class
        to = classes[int(np.argmax(a.probs))] if single else ""
        effects[path] = Effect(path, a.name, a.delta, a.flip_rate, to)
    return effects


def _token_sentence(mixing: Effect, shape: Effect, diagonal: float) -> str:
    """What token-to-token attention does: its mixing (the identity), its shape, its diagonal."""
    share = f"{diagonal:.0%} on the diagonal"
    keeps = diagonal > DIAGONAL
    where = (
        f"mostly keeps each token itself ({share})"
        if keeps
        else f"puts {share} (the share a token keeps for itself)"
    )
    if mixing.level == "decides":
        return f"Token-to-token attention decides: {mixing.replaced}. It {where}; {shape.replaced}."
    if shape.level == "decides":
        why = ", taking that diagonal away" if keeps else ""
        return (
            f"Here token-to-token attention {where}; {mixing.replaced}, but {shape.replaced}"
            f"{why}: its shape decides, not what it mixes in from other tokens."
        )
    little = "moves p a little but " if "a little" in (mixing.level, shape.level) else ""
    return (
        f"Here token-to-token attention {where}; {mixing.replaced} and {shape.replaced}: "
        f"it {little}does not decide."
    )


def _upper(text: str) -> str:
    """The first letter upper-cased, the rest untouched (str.capitalize lowers "N")."""
    return text[:1].upper() + text[1:]


def _path_sentence(effect: Effect) -> str:
    """The pooling α or the skip input h_o, at its level."""
    name = PATH_NAMES[effect.path]
    if effect.level == "decides":
        return f"{_upper(name)} decides: {effect.replaced}."
    if effect.level == "a little":
        return f"{_upper(effect.replaced)}: {name} counts a little but does not decide."
    return f"{_upper(name)} barely matters: {effect.replaced}."


def _headline(decides: tuple[str, ...]) -> str:
    names = [PATH_NAMES[p] for p in decides if not (p == "shape" and "mixing" in decides)]
    if not names:
        return "No single path decides this prediction"
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{_upper(joined)} {'decides' if len(names) == 1 else 'decide'}"


def judge(
    ablations: Mapping[str, Ablation],
    diagonal: float,
    config: ModelConfig,
    classes: Sequence[str],
) -> Verdict:
    """The verdict one input's ablations support: which of the model's paths (PATHS; pooling
    only when learned, skip only when the model has h_o) decide, with their Δp, and how much
    attention sits on the diagonal. `config` carries the live settings; `classes` name a flip."""
    effects = _effects(ablations, config, classes)
    if "mixing" not in effects or "shape" not in effects:
        raise FaithfulnessError("the verdict needs the identity and uniform attention ablations")
    decides = tuple(p for p in PATHS if p in effects and effects[p].level == "decides")
    sentences = [_token_sentence(effects["mixing"], effects["shape"], diagonal)]
    sentences += [_path_sentence(effects[p]) for p in ("pooling", "skip") if p in effects]
    if not decides:
        sentences.append(
            f"No single path decides: none of these replacements moves p by {DECIDES:g} or more, "
            "or flips it."
        )
    return Verdict(_headline(decides), " ".join(sentences), decides, effects, diagonal)


def verdict_of(result: Faithfulness, trace: Trace, config: ModelConfig) -> Verdict:
    """The verdict of a full analysis (the attention page), with the trace it ran on."""
    return judge(result.ablations, mean_diagonal(trace), config, result.classes)


@torch.no_grad()
def judge_input(
    classifier: Classifier,
    features: Features,
    means: TrainingMeans | None = None,
    settings: dict[str, Any] | None = None,
) -> Verdict:
    """The verdict of one input from its ablations alone (no attributions: cheap enough for a
    badge beside every prediction); the same numbers, so the same words, as `verdict_of`."""
    settings = settings or {}
    ablations = run_ablations(classifier.core, features.x, features.mask, means, settings)
    trace = classifier.core.trace(features.x, features.mask, **settings)
    live = {k: v for k, v in settings.items() if k in ("similarity", "temperature", "pooling")}
    config = replace(classifier.config.model, **live)
    return judge(ablations, mean_diagonal(trace), config, classifier.classes)


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


def mean_diagonal(trace: Trace) -> float:
    """Mean over example 0's real query rows i of a_ii, the share each token keeps for itself
    (0 for an input with no real token)."""
    keep = trace.mask[0].bool()
    diagonal = torch.diagonal(trace.attn[0], dim1=-2, dim2=-1)[keep]
    return float(diagonal.float().mean()) if len(diagonal) else 0.0


def _shown(name: str, config: ModelConfig | None) -> bool:
    """Whether ablation `name` tests a path the model has (every one when config is None)."""
    paths = [p for p, names in PATH_ABLATIONS.items() if name in names]
    return config is None or all(model_has(p, config) for p in paths)


def ablation_table(result: Faithfulness, config: ModelConfig | None = None) -> pd.DataFrame:
    """One row per ablation of a path the model has (`config`, live settings in; None: every
    ablation): what it replaces, the new prediction, p of the original class, Δp (rounded to
    SHOWN_DECIMALS, so never "-0.000") and how often it flips (0 or 1; a fraction for the
    permuted draws)."""
    rows = []
    for name, ablation in result.ablations.items():
        if not _shown(name, config):
            continue
        new = int(np.argmax(ablation.probs))
        rows.append({
            "ablation": ABLATION_LABELS.get(name, name),
            "prediction": result.classes[new],
            "p_original_class": float(ablation.probs[result.predicted]),
            "delta_p": round(ablation.delta, SHOWN_DECIMALS) + 0.0,  # + 0.0: -0.0 becomes 0.0
            "delta_p_std": ablation.delta_std,
            "flip_rate": ablation.flip_rate,
        })  # fmt: skip
    return pd.DataFrame(rows)


# The columns' prefix of each of faithfulness.HEAD_ABLATIONS in head_ablation_table.
HEAD_ABLATION_PREFIX = {"uniform": "uniform", "no_attention": "identity"}


def head_ablation_table(result: Faithfulness) -> pd.DataFrame:
    """One row per head of a model with several heads (empty with one): head k's attention
    alone replaced by the uniform one (a^k_ij = 1/N) and by the identity (v^k_i = h^k_i), each
    with the new prediction, Δp of the original class (rounded to SHOWN_DECIMALS) and whether
    the prediction flips."""
    rows = []
    for k, by_name in enumerate(result.heads):
        row: dict[str, Any] = {"head": k + 1}
        for name, prefix in HEAD_ABLATION_PREFIX.items():
            ablation = by_name[name]
            row[f"{prefix}_prediction"] = result.classes[int(np.argmax(ablation.probs))]
            row[f"{prefix}_delta_p"] = round(ablation.delta, SHOWN_DECIMALS) + 0.0
            row[f"{prefix}_flips"] = ablation.flipped
        rows.append(row)
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


def dataset_table(block: dict[str, Any], config: ModelConfig | None = None) -> pd.DataFrame:
    """A dataset-level study (a metrics.json "faithfulness" block, or StudySummary.to_dict())
    as one row per ablation of a path the model has: its flip rate and mean |Δp|."""
    flips, moves = block.get("flip_rate", {}), block.get("mean_abs_delta", {})
    rows = [
        {"ablation": ABLATION_LABELS.get(name, name), "flip_rate": rate,
         "mean_abs_delta_p": moves.get(name)}
        for name, rate in flips.items() if _shown(name, config)
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
