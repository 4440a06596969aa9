"""Predict, then reveal: one question per step of the walk-through, made from the model, its
config and one input's trace, with its choices, the answer (read from the trace, or from a
forward pass with attention replaced) and the numbers said when it is revealed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..core.config import ModelConfig
from ..core.i18n import tr
from ..core.model import DenseAttention
from ..core.trace import to_numpy
from ..inputs.classifier import Explanation
from .attention_work import lesson_cell
from .faithfulness import identity_attention, uniform_attention

__all__ = ["CHOICES_MAX", "TIE", "Question", "questions"]

CHOICES_MAX = 4  # choices per question
TIE = 1e-6  # weights closer than this to the answer's are not offered as other choices
YES, NO = "Yes: the prediction changes", "No: the same class still wins"


@dataclass(frozen=True)
class Question:
    """One question under one step: pick a choice, then the answer and its numbers show."""

    step: str  # the formulas.STEPS key it sits under
    prompt: str  # e.g. "Which token will 'charts' attend to most?"
    choices: tuple[str, ...]  # what the reader can pick, in a fixed order
    answer: int  # index of the right choice
    reveal: str  # the numbers behind the answer, one or two sentences

    @property
    def right(self) -> str:
        """The right choice's words."""
        return self.choices[self.answer]


def _label(tokens: list[str], k: int) -> str:
    """Token k as a choice: 'the' alone, or 'the' (token 3) when another token reads the same."""
    return (
        f"'{tokens[k]}'"
        if tokens.count(tokens[k]) == 1
        else tr("'{tokens}' (token {value})", tokens=tokens[k], value=k + 1)
    )


def _pick(weights: np.ndarray, allowed: np.ndarray) -> tuple[list[int], int]:
    """The CHOICES_MAX allowed positions with the largest weights, in position order (the order
    gives nothing away), and which of them is the largest; ties with it are left out."""
    order = [int(k) for k in np.argsort(-weights, kind="stable") if allowed[k]]
    best = order[0]
    others = [k for k in order[1:] if abs(weights[k] - weights[best]) > TIE]
    shown = sorted([best, *others[: CHOICES_MAX - 1]])
    return shown, shown.index(best)


def _attend_most(tokens: list[str], attn: np.ndarray, scores: np.ndarray, i: int) -> Question:
    """Which token does token i attend to most (itself included unless the model excludes it)?
    Under the similarity step: a softmax keeps the order of a row's scores."""
    n = len(tokens)
    allowed = attn[i] > 0 if attn[i, i] == 0 else np.ones(n, dtype=bool)
    shown, answer = _pick(attn[i], allowed)
    j = shown[answer]
    target = "itself" if j == i else _label(tokens, j)
    reveal = tr(
        "{label} gives the most attention to {target}: s = {scores:.2f}, so a = "
        "{attn:.2f} (uniform would be 1/N = {value:.2f}).",
        label=_label(tokens, i),
        target=target,
        scores=scores[i, j],
        attn=attn[i, j],
        value=1 / n,
    )
    if j != i and attn[i, i] > 0:
        reveal += tr(" It keeps a = {attn:.2f} for itself.", attn=attn[i, i])
    choices = tuple("itself" if k == i else _label(tokens, k) for k in shown)
    prompt = tr("Which token will {label} attend to most?", label=_label(tokens, i))
    return Question("scores", prompt, choices, answer, reveal)


def _keeps(tokens: list[str], attn: np.ndarray, i: int) -> Question:
    """How much of its attention does token i keep for itself (a_ii)?"""
    n, keep = len(tokens), float(attn[i, i])
    uniform = 1 / n
    bands = (
        tr("Less than 1/N = {uniform:.2f}", uniform=uniform),
        tr("Between {uniform:.2f} and 0.5", uniform=uniform),
        tr("More than half"),
    )
    answer = 0 if keep < uniform else 1 if keep <= 0.5 else 2
    if uniform >= 0.5:  # two tokens: the middle band is empty
        bands, answer = bands[::2], 0 if keep < uniform else 1
    j = int(np.argmax(np.where(np.arange(n) == i, -np.inf, attn[i])))
    reveal = tr(
        "a = {keep:.2f} on the diagonal: {label} keeps that share of its "
        "attention; its largest weight on another token is a = {attn:.2f}, on "
        "{label2}.",
        keep=keep,
        label=_label(tokens, i),
        attn=attn[i, j],
        label2=_label(tokens, j),
    )
    prompt = tr("How much of its attention will {label} keep for itself?", label=_label(tokens, i))
    return Question("attn", prompt, bands, answer, reveal)


def _alpha(tokens: list[str], alpha: np.ndarray, config: ModelConfig) -> Question:
    """Which token gets the largest α? Under mean pooling the answer is that none does."""
    n = len(tokens)
    if config.pooling == "mean":
        shown = [_label(tokens, k) for k in range(min(n, CHOICES_MAX - 1))]
        none = tr("None: every α is 1/N = {value:.2f}", value=1 / n)
        reveal = tr(
            "Mean pooling gives all {n} tokens the same weight, α = 1/N = {value:.2f}.",
            n=n,
            value=1 / n,
        )
        prompt = tr("Under mean pooling, which token gets the largest α?")
        return Question("alpha", prompt, (*shown, none), len(shown), reveal)
    shown, answer = _pick(alpha, np.ones(n, dtype=bool))
    k = shown[answer]
    runner = max((alpha[m], m) for m in range(n) if m != k)[1]
    reveal = tr(
        "{label} gets α = {alpha:.2f}; next is {label2} with α = {alpha2:.2f} "
        "(uniform would be 1/N = {value:.2f}).",
        label=_label(tokens, k),
        alpha=alpha[k],
        label2=_label(tokens, runner),
        alpha2=alpha[runner],
        value=1 / n,
    )
    choices = tuple(_label(tokens, m) for m in shown)
    return Question("alpha", tr("Which token gets the largest α?"), choices, answer, reveal)


def _prediction(classes: tuple[str, ...], probs: np.ndarray) -> Question:
    """Which class will the model predict (the top CHOICES_MAX classes, in class order)?"""
    shown, answer = _pick(probs, np.ones(len(probs), dtype=bool))
    top = shown[answer]
    runner = max((probs[m], m) for m in range(len(probs)) if m != top)[1]
    reveal = tr(
        "'{classes}' at {probs:.1%}; next is '{classes2}' at {probs2:.1%}.",
        classes=classes[top],
        probs=probs[top],
        classes2=classes[runner],
        probs2=probs[runner],
    )
    choices = tuple(f"'{classes[m]}'" for m in shown)
    return Question("probs", tr("Which class will the model predict?"), choices, answer, reveal)


def _width(config: ModelConfig) -> Question:
    """How many numbers describe each token after the dense layer (d)?"""
    d, big_d = config.hidden_dim, config.input_dim
    options = sorted({d, big_d, config.num_classes} | ({2 * d} if d == big_d else set()))
    reveal = tr(
        "d = {d}: the dense layer maps each token's D = {big_d} input numbers to "
        "{d} hidden units; the number of tokens N does not change.",
        d=d,
        big_d=big_d,
    )
    prompt = tr("After the dense layer, how many numbers describe each token?")
    return Question("h", prompt, tuple(str(v) for v in options), options.index(d), reveal)


def _ablation(
    step: str, prompt: str, what: str, probs: np.ndarray, new: np.ndarray, classes: tuple[str, ...]
) -> Question:
    """Does replacing the attention change the predicted class? The answer from `new` (C,)."""
    top, now = int(probs.argmax()), int(new.argmax())
    moved = tr(
        "p('{classes}') goes from {probs:.2f} to {new:.2f}",
        classes=classes[top],
        probs=probs[top],
        new=new[top],
    )
    verdict = (
        tr("the prediction becomes '{classes}'", classes=classes[now])
        if now != top
        else tr("the prediction stays '{classes}'", classes=classes[top])
    )
    reveal = tr("With {what}, {moved} and {verdict}.", what=what, moved=moved, verdict=verdict)
    return Question(step, prompt, (YES, NO), 0 if now != top else 1, reveal)


@torch.no_grad()
def _replaced(core: DenseAttention, explanation: Explanation, config: ModelConfig) -> Any:
    """The probabilities (C,) with uniform attention and with none (v_i = h_i), the live
    settings of `config` in."""
    trace = explanation.trace
    x, mask = trace.x, trace.mask
    settings = {
        "similarity": config.similarity,
        "temperature": config.temperature,
        "pooling": config.pooling,
    }
    core.eval()
    runs = (uniform_attention(mask), identity_attention(mask))
    return [to_numpy(core.trace(x, mask, **settings, attn_override=a).probs[0]) for a in runs]


def questions(
    core: DenseAttention, explanation: Explanation, config: ModelConfig
) -> dict[str, Question]:
    """The questions of one input, by formulas.STEPS key: h (its width d), scores (which token
    the instructive query attends to most: attention_work.lesson_cell's i), attn (how much it
    keeps for itself; not asked when the model excludes a_ii), values (no attention), alpha
    (the largest α, or none under mean pooling), c (uniform attention) and probs (the class).
    Token questions need two tokens or more. `config` is the model's with the live settings in;
    `core` the model that made `explanation` under them."""
    trace, tokens, classes = explanation.trace, list(explanation.tokens), explanation.classes
    probs = to_numpy(trace.probs[0]).astype(np.float64)
    asked = {"h": _width(config), "probs": _prediction(classes, probs)}
    if len(tokens) < 2:
        return asked
    attn = to_numpy(trace.attn[0]).astype(np.float64)
    alpha = to_numpy(trace.alpha[0]).astype(np.float64)
    i = lesson_cell(attn, alpha)[0]
    asked["scores"] = _attend_most(tokens, attn, to_numpy(trace.scores[0]), i)
    if not trace.exclude_self:
        asked["attn"] = _keeps(tokens, attn, i)
    uniform, identity = (p.astype(np.float64) for p in _replaced(core, explanation, config))
    asked["values"] = _ablation(
        "values",
        tr(
            "If every token kept only itself (a_ii = 1, so v_i = h_i), would the "
            "prediction change?",
        ),
        tr("no attention (v_i = h_i)"), probs, identity, classes,
    )  # fmt: skip
    asked["alpha"] = _alpha(tokens, alpha, config)
    asked["c"] = _ablation(
        "c", tr("Will uniform attention (a_ij = 1/N) change the prediction?"),
        tr("uniform attention (a_ij = 1/N)"), probs, uniform, classes,
    )  # fmt: skip
    return {key: asked[key] for key in ("h", "scores", "attn", "values", "alpha", "c", "probs")
            if key in asked}  # fmt: skip
