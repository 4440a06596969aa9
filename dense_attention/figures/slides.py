"""The presentation's slides: which steps of the model each one shows, in order, with a title and
speaker notes made from the model's config (explain.words). Plain data; views/present.py draws
them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..core.config import ModelConfig
from ..explain import words
from ..explain.attention_work import lesson_cell
from ..explain.formulas import STEPS, Step
from ..explain.questions import Question
from ..inputs.classifier import Explanation

__all__ = [
    "SLIDES",
    "Slide",
    "on_screen",
    "slide_question",
    "slide_title",
    "speaker_note",
    "steps_of",
]


@dataclass(frozen=True)
class Slide:
    """One slide: the formulas of `steps` (keys of formulas.STEPS) beside one figure. Its title
    and notes for a given model come from slide_title and speaker_note."""

    key: str  # short name, e.g. "attention"
    title: str  # the big title on screen, for any model (slide_title adapts it)
    steps: tuple[str, ...]  # formulas.STEPS keys whose formulas it shows, in the model's order
    figure: str  # the trace_plots.trace_figures key of its figure


SLIDES: tuple[Slide, ...] = (
    Slide("input", "1 · The input", ("x",), "x"),
    Slide("h", "2 · A dense layer", ("h",), "h"),
    Slide("scores", "3 · Every token scores every other", ("similarity", "scores"), "scores"),
    Slide("attention", "4 · Attention weights", ("attn",), "attn"),
    Slide("values", "5 · Attention values", ("values",), "values"),
    Slide("alpha", "6 · Which tokens count", ("alpha",), "alpha"),
    Slide("c", "7 · One vector for the input", ("c",), "c"),
    Slide("output", "8 · The prediction", ("h_o", "probs"), "probs"),
)


def slide_title(slide: Slide, config: ModelConfig) -> str:
    """The slide's big title for this model (under mean pooling no token counts more)."""
    if slide.key == "alpha" and config.pooling == "mean":
        return "6 · Every token counts the same"
    return slide.title


def _context_note(config: ModelConfig, inputs: words.Inputs) -> str:
    """Whether a token has seen the others by the time it reaches the dense layer."""
    contextual = isinstance(inputs, words.TextConfig) and inputs.mode == "minilm_contextual"
    if config.sequence_encoder != "none":
        return "Before it, the sequence encoder has already mixed in context from the other tokens."
    if contextual:
        return "Each x already carries context: MiniLM read the whole text to make it."
    return "No token has looked at any other yet."


def _notes(config: ModelConfig, inputs: words.Inputs) -> dict[str, str]:
    summed = "plain mean" if config.pooling == "mean" else "α-weighted sum"
    tau = config.temperature
    through = words.c_formula(config)
    alpha = (
        "Mean pooling gives every token the same weight α = 1/N, so no token is singled out "
        "here. Nothing in this step is learned."
        if config.pooling == "mean"
        else "A second, learned attention gives one weight α per token for the whole input. It "
        "shows which tokens the pooled vector leans on."
    )
    reads = (
        "c alone (this model has no skip input h_o)"
        if config.skip == "none"
        else "c beside h_o, the plain mean of the hidden vectors,"
    )
    return {
        "input": f"The model never sees words or pixels, only vectors of D = {config.input_dim} "
        f"numbers, one per token: {words.input_words(inputs)}.",
        "h": "The same fully connected layer is applied to every token on its own. "
        + _context_note(config, inputs),
        "scores": f"Each pair (i, j) gets a {config.similarity} similarity score: row i is token "
        f"i asking how much every token j matches it. Dividing by τ = {tau:g} "
        f"{words.temperature_words(tau)}.",
        "attention": "A softmax turns each row of scores into weights that sum to one. This "
        "matrix is the attention: read a row to see where that token looks.",
        "values": "Each token is replaced by the weighted average of all hidden vectors, using "
        "its row of attention weights. Now every token carries context from the others.",
        "alpha": alpha,
        "c": f"The {summed} of the attention values gives a single vector, {through}, whatever "
        "the number of tokens. This is the input's summary.",
        "output": f"A last dense layer reads {reads} and gives one score for each of the "
        f"{config.num_classes} classes; the softmax turns them into probabilities.",
    }


def speaker_note(slide: Slide, config: ModelConfig, inputs: words.Inputs = None) -> str:
    """The slide's speaker notes (1-3 sentences) for this model: `config` with the live
    settings in, `inputs` its encoder's config (what x is)."""
    return _notes(config, inputs)[slide.key]


def steps_of(slide: Slide) -> tuple[Step, ...]:
    """The formulas.STEPS a slide shows, in order."""
    by_key = {step.key: step for step in STEPS}
    return tuple(by_key[key] for key in slide.steps)


def _focus(explanation: Explanation) -> tuple[int, str, float]:
    """The token with the largest α: its index, label and α."""
    alpha = explanation.trace.alpha[0]
    k = int(alpha.argmax())
    return k, explanation.tokens[k], float(alpha[k])


def _link_note(explanation: Explanation, slide: str, mean_pooling: bool = False) -> str:
    """The instructive link in this slide's numbers: a token looking at another, never at
    itself (attention_work.lesson_cell: the largest α_i·a_ij with i != j; under mean pooling,
    where every α is equal, the largest a_ij with i != j)."""
    trace, tokens = explanation.trace, explanation.tokens
    i, j = lesson_cell(trace.attn[0], trace.alpha[0])
    if i == j:
        return f"One token: {tokens[0]!r} can only look at itself."
    a, keep = float(trace.attn[0, i, j]), float(trace.attn[0, i, i])
    pair = f"{tokens[i]!r} (token {i + 1}) to {tokens[j]!r} (token {j + 1})"
    weighted = float(trace.alpha[0, i]) * a
    why = (
        "the largest weight between two different tokens"
        if mean_pooling
        else f"the strongest link between two different tokens, α·a = {weighted:.2f}"
    )
    itself = "" if trace.exclude_self else f" (to itself: {keep:.2f})"
    if slide == "scores":
        s, s_self = float(trace.scores[0, i, j]), float(trace.scores[0, i, i])
        itself = "" if trace.exclude_self else f" (with itself: {s_self:.2f})"
        return f"Point at the link from {pair}, {why}: its score is s = {s:.2f}{itself}."
    if slide == "values":
        return f"v of {tokens[i]!r} takes a = {a:.2f} of h of {tokens[j]!r}{itself}: {why}."
    uniform = f"uniform would be {1 / len(tokens):.2f}"
    return f"Point at the link from {pair}, {why}: a = {a:.2f}{itself}, {uniform}."


def slide_question(slide: Slide, asked: Mapping[str, Question]) -> Question | None:
    """The question a slide carries: the first of its steps' questions (explain.questions)."""
    return next((asked[key] for key in slide.steps if key in asked), None)


def on_screen(slide: Slide, explanation: Explanation, config: ModelConfig | None = None) -> str:
    """One sentence quoting the numbers the slide's figure shows for this input, for the
    speaker: the instructive link (a token looking at another, _link_note), the largest α
    (under mean pooling, per `config`, the one α every token has), the prediction and its
    probability."""
    probs = explanation.trace.probs[0]
    top = int(probs.argmax())
    prediction = f"The model predicts {explanation.classes[top]!r} at {float(probs[top]):.1%}."
    mean_pooling = config is not None and config.pooling == "mean"
    if slide.key in ("scores", "attention", "values"):
        return _link_note(explanation, slide.key, mean_pooling)
    if slide.key in ("alpha", "c"):
        _, token, alpha = _focus(explanation)
        n = len(explanation.tokens)
        if mean_pooling:
            return f"Every α is 1/N = {1 / n:.2f} here ({n} tokens, mean pooling)."
        return f"The largest α is {alpha:.2f}, on {token!r} (uniform would be {1 / n:.2f})."
    if slide.key == "output":
        return prediction
    return f"{len(explanation.tokens)} tokens here. {prediction}"
