"""The presentation's slides: which steps of the model each one shows, in order, with a title and
speaker notes made from the model's config (explain.words). Plain data; views/present.py draws
them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..core.config import ModelConfig
from ..core.i18n import N_, tr
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
    title: str  # the big title on screen, for any model (slide_title adapts and translates it)
    steps: tuple[str, ...]  # formulas.STEPS keys whose formulas it shows, in the model's order
    figure: str  # the trace_plots.trace_figures key of its figure


SLIDES: tuple[Slide, ...] = (
    Slide("input", N_("1 · The input"), ("x",), "x"),
    Slide("h", N_("2 · A dense layer"), ("h",), "h"),
    Slide("scores", N_("3 · Every token scores every other"), ("similarity", "scores"), "scores"),
    Slide("attention", N_("4 · Attention weights"), ("attn",), "attn"),
    Slide("values", N_("5 · Attention values"), ("values",), "values"),
    Slide("alpha", N_("6 · Which tokens count"), ("alpha",), "alpha"),
    Slide("c", N_("7 · One vector for the input"), ("c",), "c"),
    Slide("output", N_("8 · The prediction"), ("h_o", "probs"), "probs"),
)


def slide_title(slide: Slide, config: ModelConfig) -> str:
    """The slide's big title for this model (under mean pooling no token counts more)."""
    if slide.key == "alpha" and config.pooling == "mean":
        return tr("6 · Every token counts the same")
    return tr(slide.title)


def _context_note(config: ModelConfig, inputs: words.Inputs) -> str:
    """Whether a token has seen the others by the time it reaches the dense layer."""
    contextual = isinstance(inputs, words.TextConfig) and inputs.mode == "minilm_contextual"
    if config.sequence_encoder != "none":
        return tr(
            "Before it, the sequence encoder has already mixed in context from the other tokens."
        )
    if contextual:
        return tr("Each x already carries context: MiniLM read the whole text to make it.")
    return tr("No token has looked at any other yet.")


def _alpha_note(config: ModelConfig) -> str:
    return (
        tr(
            "Mean pooling gives every token the same weight α = 1/N, so no "
            "token is singled out here. Nothing in this step is learned."
        )
        if config.pooling == "mean"
        else tr(
            "A second, learned attention gives one weight α per token for "
            "the whole input. It shows which tokens the pooled vector leans "
            "on."
        )
    )


def _notes(config: ModelConfig, inputs: words.Inputs) -> dict[str, str]:
    summed = tr("plain mean") if config.pooling == "mean" else tr("α-weighted sum")
    tau = config.temperature
    through = words.c_formula(config)
    reads = (
        tr("c alone (this model has no skip input h_o)")
        if config.skip == "none"
        else tr("c beside h_o, the plain mean of the hidden vectors,")
    )
    return {
        "input": tr(
            "The model never sees words or pixels, only vectors of D = "
            "{input_dim} numbers, one per token: {input_words}.",
            input_dim=config.input_dim,
            input_words=words.input_words(inputs),
        ),
        "h": tr("The same fully connected layer is applied to every token on its own. ")
        + _context_note(config, inputs),
        "scores": tr(
            "Each pair (i, j) gets a {similarity} similarity score: row i is "
            "token i asking how much every token j matches it. Dividing by τ "
            "= {tau:g} {temperature_words}.",
            similarity=config.similarity,
            tau=tau,
            temperature_words=words.temperature_words(tau),
        ),
        "attention": tr(
            "A softmax turns each row of scores into weights that sum to "
            "one. This matrix is the attention: read a row to see where that "
            "token looks."
        ),
        "values": tr(
            "Each token is replaced by the weighted average of all hidden "
            "vectors, using its row of attention weights. Now every token "
            "carries context from the others."
        ),
        "alpha": _alpha_note(config),
        "c": tr(
            "The {summed} of the attention values gives a single vector, "
            "{through}, whatever the number of tokens. This is the input's "
            "summary.",
            summed=summed,
            through=through,
        ),
        "output": tr(
            "A last dense layer reads {reads} and gives one score for each "
            "of the {num_classes} classes; the softmax turns them into "
            "probabilities.",
            reads=reads,
            num_classes=config.num_classes,
        ),
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
        return tr("One token: {token!r} can only look at itself.", token=tokens[0])
    a, keep = float(trace.attn[0, i, j]), float(trace.attn[0, i, i])
    pair = tr(
        "{query!r} (token {i}) to {key!r} (token {j})",
        query=tokens[i], i=i + 1, key=tokens[j], j=j + 1,
    )  # fmt: skip
    weighted = float(trace.alpha[0, i]) * a
    why = (
        tr("the largest weight between two different tokens")
        if mean_pooling
        else tr("the strongest link between two different tokens, α·a = {w:.2f}", w=weighted)
    )
    itself = "" if trace.exclude_self else tr(" (to itself: {keep:.2f})", keep=keep)
    if slide == "scores":
        s, s_self = float(trace.scores[0, i, j]), float(trace.scores[0, i, i])
        itself = "" if trace.exclude_self else tr(" (with itself: {s:.2f})", s=s_self)
        return tr(
            "Point at the link from {pair}, {why}: its score is s = {s:.2f}{itself}.",
            pair=pair, why=why, s=s, itself=itself,
        )  # fmt: skip
    if slide == "values":
        return tr(
            "v of {query!r} takes a = {a:.2f} of h of {key!r}{itself}: {why}.",
            query=tokens[i], a=a, key=tokens[j], itself=itself, why=why,
        )  # fmt: skip
    return tr(
        "Point at the link from {pair}, {why}: a = {a:.2f}{itself}, uniform would be {u:.2f}.",
        pair=pair, why=why, a=a, itself=itself, u=1 / len(tokens),
    )  # fmt: skip


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
    prediction = tr(
        "The model predicts {classes!r} at {float:.1%}.",
        classes=explanation.classes[top],
        float=float(probs[top]),
    )
    mean_pooling = config is not None and config.pooling == "mean"
    if slide.key in ("scores", "attention", "values"):
        return _link_note(explanation, slide.key, mean_pooling)
    if slide.key in ("alpha", "c"):
        _, token, alpha = _focus(explanation)
        n = len(explanation.tokens)
        if mean_pooling:
            return tr(
                "Every α is 1/N = {value:.2f} here ({n} tokens, mean pooling).", value=1 / n, n=n
            )
        return tr(
            "The largest α is {alpha:.2f}, on {token!r} (uniform would be {value:.2f}).",
            alpha=alpha,
            token=token,
            value=1 / n,
        )
    if slide.key == "output":
        return prediction
    return tr("{len} tokens here. {prediction}", len=len(explanation.tokens), prediction=prediction)
