"""The presentation's slides: which steps of the model each one shows, in order, with a title and
speaker notes. Plain data; views/present.py draws them."""

from __future__ import annotations

from dataclasses import dataclass

from ..explain.formulas import STEPS, Step
from ..inputs.classifier import Explanation

__all__ = ["SLIDES", "Slide", "on_screen", "steps_of"]


@dataclass(frozen=True)
class Slide:
    """One slide: the formulas of `steps` (keys of formulas.STEPS) beside one figure."""

    key: str  # short name, e.g. "attention"
    title: str  # the big title on screen
    steps: tuple[str, ...]  # formulas.STEPS keys whose formulas it shows, in the model's order
    figure: str  # the trace_plots.trace_figures key of its figure
    note: str  # speaker notes: 1-3 sentences, shown on request


SLIDES: tuple[Slide, ...] = (
    Slide("input", "1 · The input", ("x",), "x",
          "The model never sees words or pixels, only vectors: one per token (a word piece or an "
          "image patch), plus where it stands. Everything after this is a few matrix products."),
    Slide("h", "2 · A dense layer", ("h",), "h",
          "The same fully connected layer is applied to every token on its own. No token has "
          "looked at any other yet."),
    Slide("scores", "3 · Every token scores every other", ("similarity", "scores"), "scores",
          "Each pair (i, j) gets a similarity score: row i is token i asking how much every "
          "token j matches it. The temperature τ stretches or squeezes the scores."),
    Slide("attention", "4 · Attention weights", ("attn",), "attn",
          "A softmax turns each row of scores into weights that sum to one. This matrix is the "
          "attention: read a row to see where that token looks."),
    Slide("values", "5 · Attention values", ("values",), "values",
          "Each token is replaced by the weighted average of all hidden vectors, using its row "
          "of attention weights. Now every token carries context from the others."),
    Slide("alpha", "6 · Which tokens count", ("alpha",), "alpha",
          "A second, learned attention gives one weight α per token for the whole input. It "
          "shows which tokens the prediction leans on."),
    Slide("c", "7 · One vector for the input", ("c",), "c",
          "The α-weighted sum of the attention values gives a single vector c, whatever the "
          "number of tokens. This is the input's summary."),
    Slide("output", "8 · The prediction", ("h_o", "probs"), "probs",
          "A last dense layer reads c, beside the plain mean of the hidden vectors, and gives "
          "one score per class; the softmax turns them into probabilities."),
)  # fmt: skip


def steps_of(slide: Slide) -> tuple[Step, ...]:
    """The formulas.STEPS a slide shows, in order."""
    by_key = {step.key: step for step in STEPS}
    return tuple(by_key[key] for key in slide.steps)


def _focus(explanation: Explanation) -> tuple[int, str, float]:
    """The token with the largest α: its index, label and α."""
    alpha = explanation.trace.alpha[0]
    k = int(alpha.argmax())
    return k, explanation.tokens[k], float(alpha[k])


def _row_note(explanation: Explanation) -> str:
    k, token, _ = _focus(explanation)
    row = explanation.trace.attn[0, k]
    j = int(row.argmax())
    return (
        f"Row {k + 1} ({token!r}, the token with the largest α) looks most at "
        f"{explanation.tokens[j]!r}: a = {float(row[j]):.2f} (uniform would be {1 / len(row):.2f})."
    )


def on_screen(slide: Slide, explanation: Explanation) -> str:
    """One sentence quoting the numbers the slide's figure shows for this input, for the
    speaker: the top attended token of the largest-α token's row, the largest α, the
    prediction and its probability."""
    probs = explanation.trace.probs[0]
    top = int(probs.argmax())
    prediction = f"The model predicts {explanation.classes[top]!r} at {float(probs[top]):.1%}."
    if slide.key in ("scores", "attention", "values"):
        return _row_note(explanation)
    if slide.key in ("alpha", "c"):
        _, token, alpha = _focus(explanation)
        n = len(explanation.tokens)
        return f"The largest α is {alpha:.2f}, on {token!r} (uniform would be {1 / n:.2f})."
    if slide.key == "output":
        return prediction
    return f"{len(explanation.tokens)} tokens here. {prediction}"
