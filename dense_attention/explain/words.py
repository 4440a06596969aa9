"""The words beside every step, chart and slide, made from the model's config and live settings.

A fixed sentence that describes one model is wrong for the next: each caption here is a function
of a `ModelConfig` (the trained one with the live similarity, τ and pooling in) and, for what
the input x is, of the encoder's `TextConfig` / `ImageConfig`. `caption("h_o", config)` says
"h_o is not used" under skip="none"; the pooling step speaks of a learned attention only under
learned pooling; c's activation is always named as it is (tanh, sigmoid, ReLU or none), never σ.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.config import ModelConfig
from ..core.similarity import SIMILARITIES
from ..inputs.image_encoder import ImageConfig
from ..inputs.text_encoder import TextConfig
from .formulas import STEP_KEYS, STEPS

__all__ = [
    "Inputs",
    "activation_words",
    "c_formula",
    "caption",
    "chart_titles",
    "heads_mean",
    "heads_words",
    "input_words",
    "matrix_titles",
    "overview_titles",
    "step_title",
    "temperature_words",
]

Inputs = TextConfig | ImageConfig | None  # how x is made; None: say only what every x is

# The activation as a word ("" for identity: nothing is applied).
_ACTIVATION_NAMES = {"identity": "", "relu": "ReLU", "tanh": "tanh", "gelu": "GELU"}
_POOL_NAMES = {"identity": "", "relu": "ReLU", "tanh": "tanh", "sigmoid": "sigmoid"}
_ENCODERS = {"lstm": "a bidirectional LSTM", "transformer": "one transformer encoder layer"}
_TEXT_TOKENS = {
    "learned": "its word piece's learned embedding ({width} numbers)",
    "minilm_static": "MiniLM's embedding of its word piece ({width} numbers, the same in any "
    "sentence)",
    "minilm_contextual": "MiniLM's contextual vector of its word piece ({width} numbers: "
    "MiniLM has read the whole text)",
}


def activation_words(name: str) -> str:
    """How the dense layer's activation is applied, as words: "then GELU", or "with no
    activation" for identity."""
    word = _ACTIVATION_NAMES[name]
    return f"then {word}" if word else "with no activation (h is linear in x)"


def c_formula(config: ModelConfig, html: bool = False) -> str:
    """c's formula in plain text with the model's own activation: "c = tanh(Σ α_i v_i)",
    "c = Σ α_i v_i" for identity; with `html`, subscripts as <sub> (plotly titles)."""
    a_i, v_i = ("α<sub>i</sub>", "v<sub>i</sub>") if html else ("α_i", "v_i")
    total = f"Σ {a_i} {v_i}"
    name = _POOL_NAMES[config.pool_activation]
    return f"c = {name}({total})" if name else f"c = {total}"


def input_words(inputs: Inputs) -> str:
    """What one token's x is made of, for the model's encoder (generic words for None)."""
    if isinstance(inputs, TextConfig):
        token = _TEXT_TOKENS[inputs.mode].format(width=inputs.token_dim)
    elif isinstance(inputs, ImageConfig):
        p, channels = inputs.patch, inputs.channels
        colour = "grey level" if channels == 1 else "RGB value"
        token = f"the {colour}s of its {p}×{p}-pixel patch ({p * p * channels} numbers)"
    else:
        return "the features of one word piece or image patch"
    if inputs.pos_dim:
        return f"{token}, then a learned embedding of its position ({inputs.pos_dim} numbers)"
    return f"{token}; no position of its own is added"


def temperature_words(tau: float) -> str:
    """What dividing by τ does at this τ: "sharpens the attention (τ < 1): ..."."""
    if tau < 1:
        return f"sharpens the attention (τ < 1): gaps between scores grow {1 / tau:.3g} times"
    if tau > 1:
        return f"flattens the attention (τ > 1): gaps between scores shrink {tau:.3g} times"
    return "leaves the scores as they are"


def _x(config: ModelConfig, inputs: Inputs) -> str:
    return (
        f"Each of the N tokens enters as a vector of D = {config.input_dim} numbers: "
        f"{input_words(inputs)}."
    )


def _h(config: ModelConfig, inputs: Inputs) -> str:
    each = "it" if config.sequence_encoder == "none" else "each x'_i"
    layer = (
        f"one fully connected layer, shared by every token, projects {each} to "
        f"d = {config.hidden_dim} hidden units, {activation_words(config.activation)}."
    )
    if config.sequence_encoder == "none":
        return layer[0].upper() + layer[1:]
    return (
        f"First {_ENCODERS[config.sequence_encoder]} reads the tokens in order (x'); then {layer}"
    )


def heads_words(config: ModelConfig) -> str:
    """Who attends, in words: "" for one head; "each of the 4 heads on its own 64 of the 256
    hidden units" (additive, bilinear: its own slice of their projection) for several."""
    if config.heads == 1:
        return ""
    width, d = config.head_dim, config.hidden_dim
    if config.similarity in ("additive", "bilinear"):
        return f"each of the {config.heads} heads with its own {width} of the {d} projected units"
    return f"each of the {config.heads} heads on its own {width} of the {d} hidden units"


def heads_mean(heads: int) -> str:
    """What a matrix of several heads shows, for its title: "" with one head, "mean of the 4
    heads" with four (the trace's scores and attn are the mean of head_scores, head_attn)."""
    return "" if heads == 1 else f"mean of the {heads} heads"


def _similarity(config: ModelConfig, inputs: Inputs) -> str:
    sim = SIMILARITIES[config.similarity]
    by = f", by {heads_words(config)}" if config.heads > 1 else ""
    mean = f" The matrix shows the {heads_mean(config.heads)}." if config.heads > 1 else ""
    return (
        f"How much token i (the query) matches token j (the key), for every pair, scored with "
        f"{config.similarity}{by}. {sim.description}{mean}"
    )


def _attn(config: ModelConfig, inputs: Inputs) -> str:
    itself = "itself left out" if config.exclude_self else "itself included"
    if config.heads == 1:
        return (
            "A softmax over each row: token i spreads one unit of attention over all N tokens j, "
            f"{itself}."
        )
    return (
        f"A softmax over each row of each of the {config.heads} heads: in every head, token i "
        f"spreads one unit of attention over the N tokens j, {itself}. The single matrix is "
        "the heads' mean; the small multiples show each head."
    )


def _values(config: ModelConfig, inputs: Inputs) -> str:
    if config.heads == 1:
        return "Each token becomes the attention-weighted average of every token's hidden vector."
    return (
        f"Each of the {config.heads} heads averages its {config.head_dim} units of every token's "
        f"hidden vector with its own weights; v_i is the {config.heads} parts side by side."
    )


def _scores(config: ModelConfig, inputs: Inputs) -> str:
    tau = config.temperature
    said = f"Dividing every similarity by the temperature τ = {tau:g} {temperature_words(tau)}."
    if config.heads == 1:
        return said
    return f"{said} Each head's scores are divided alike; the matrix shows their mean."


def _alpha(config: ModelConfig, inputs: Inputs) -> str:
    if config.pooling == "mean":
        return "Mean pooling: every token counts the same, α_i = 1/N; nothing is learned here."
    return (
        "A second, learned attention scores each token's attention value (e_i) and a softmax "
        "over the tokens turns the scores into weights α_i: how much each token counts for the "
        "whole input."
    )


def _through(config: ModelConfig) -> str:
    name = _POOL_NAMES[config.pool_activation]
    return f", through {name}," if name else " (no activation after it)"


def _c(config: ModelConfig, inputs: Inputs) -> str:
    summed = "plain mean" if config.pooling == "mean" else "α-weighted sum"
    return (
        f"The {summed} of the attention values{_through(config)} gives one vector c for the "
        f"whole input: {c_formula(config)}."
    )


def _h_o(config: ModelConfig, inputs: Inputs) -> str:
    if config.skip == "none":
        return (
            "h_o is not used (skip = none): the output layer reads c alone, so every path to "
            "the prediction goes through the attention values and the pooling."
        )
    return (
        "The plain mean of the hidden vectors h_i goes to the output layer beside c: a path to "
        "the prediction that goes around attention."
    )


def _probs(config: ModelConfig, inputs: Inputs) -> str:
    reads = "c alone" if config.skip == "none" else "c and h_o side by side"
    return (
        f"A last dense layer reads {reads} and gives one logit for each of the "
        f"{config.num_classes} classes; the softmax makes them probabilities."
    )


_CAPTIONS: dict[str, Callable[[ModelConfig, Inputs], str]] = {
    "x": _x,
    "h": _h,
    "similarity": _similarity,
    "scores": _scores,
    "attn": _attn,
    "values": _values,
    "alpha": _alpha,
    "c": _c,
    "h_o": _h_o,
    "probs": _probs,
}


def _check_key(key: str) -> None:
    if key not in STEP_KEYS:
        raise ValueError(f"unknown step {key!r}; choose from {list(STEP_KEYS)}")


def caption(key: str, config: ModelConfig, inputs: Inputs = None) -> str:
    """The sentence beside step `key` (a formulas.STEP_KEYS key) for this model: `config` is
    its config with the live settings in; `inputs`, its encoder's config, says what x is."""
    _check_key(key)
    return _CAPTIONS[key](config, inputs)


def step_title(key: str, config: ModelConfig) -> str:
    """Step `key`'s heading for this model ("Skip input (not used)" under skip="none")."""
    _check_key(key)
    if key == "alpha" and config.pooling == "mean":
        return "Pooling weights (all equal: mean pooling)"
    if key == "c" and config.pooling == "mean":
        return "Mean pooling"
    if key == "h_o" and config.skip == "none":
        return "Skip input (not used)"
    return next(step.title for step in STEPS if step.key == key)


def chart_titles(config: ModelConfig) -> dict[str, str]:
    """The titles of the step figures whose words depend on the model (trace_plots.trace_figures
    keys similarity, scores, attn, alpha, c, h_o), as plotly HTML: c's activation is the one in
    its formula; a matrix of several heads is said to be their mean."""
    alpha = "Pooling weights α<sub>i</sub>"
    skip = "Skip input h<sub>o</sub> = mean of h<sub>i</sub>"
    return {
        **matrix_titles(config.similarity, config.temperature, config.heads),
        "alpha": f"{alpha} = 1/N (mean pooling)" if config.pooling == "mean" else alpha,
        "c": f"Pooled vector {c_formula(config, html=True)}",
        "h_o": f"{skip}: not used (skip = none)" if config.skip == "none" else skip,
    }


def matrix_titles(similarity: str, temperature: float, heads: int = 1) -> dict[str, str]:
    """The titles of the step matrices (trace_plots.trace_figures keys similarity, scores,
    attn) as plotly HTML; with several heads each says it is their mean."""
    mean = heads_mean(heads)
    return {
        "similarity": f"Similarity s(h<sub>i</sub>, h<sub>j</sub>), {similarity}"
        + (f", {mean}" if mean else ""),
        "scores": f"Scores s<sub>ij</sub> = s / τ, τ = {temperature:g}"
        + (f", {mean}" if mean else ""),
        "attn": f"Attention a<sub>ij</sub> ({mean}; row i: query, column j: key)"
        if mean
        else "Attention a<sub>ij</sub> (row i: query, column j: key)",
    }


def _overview_heads(config: ModelConfig) -> dict[str, str]:
    """The overview's scores, attn and values titles: one head's formulas, or with several the
    mean of the heads' (a softmax per head, then the mean) and v_i made of the heads' parts."""
    scores = f"s<sub>ij</sub> = {config.similarity} / τ, τ = {config.temperature:g}"
    unless = ", j ≠ i" if config.exclude_self else ""
    if config.heads == 1:
        return {
            "scores": scores,
            "attn": f"a<sub>ij</sub> = softmax<sub>j</sub>(s<sub>ij</sub>){unless}",
            "values": "v<sub>i</sub> = Σ<sub>j</sub> a<sub>ij</sub> h<sub>j</sub>",
        }
    k = "<sup>k</sup>"
    return {
        "scores": f"{scores}, {heads_mean(config.heads)}",
        "attn": f"a<sub>ij</sub> = mean<sub>k</sub> softmax<sub>j</sub>(s{k}<sub>ij</sub>)"
        + unless,
        "values": f"v{k}<sub>i</sub> = Σ<sub>j</sub> a{k}<sub>ij</sub> h{k}<sub>j</sub>, "
        f"k = 1..{config.heads} side by side",
    }


def overview_titles(config: ModelConfig) -> dict[str, str]:
    """The one-screen overview's small chart titles for this model, as HTML (figures.overview):
    each step's formula in a few symbols, with the model's own activation, similarity, τ,
    pooling and output inputs (x'_i: x read in order by a sequence encoder first)."""
    act = _ACTIVATION_NAMES[config.activation]
    read = "x<sub>i</sub>" if config.sequence_encoder == "none" else "x'<sub>i</sub>"
    dense = f"W {read} + b"
    mean = config.pooling == "mean"
    features = "c" if config.skip == "none" else "[c; h<sub>o</sub>]"
    return {
        "x": "x<sub>i</sub>: the input",
        "h": f"h<sub>i</sub> = {act}({dense})" if act else f"h<sub>i</sub> = {dense}",
        **_overview_heads(config),
        "alpha": "α<sub>i</sub> = 1/N"
        if mean
        else "α<sub>i</sub> = softmax<sub>i</sub>(e<sub>i</sub>)",
        "share": "α<sub>i</sub> v<sub>i</sub>: each token's share",
        "c": c_formula(config, html=True),
        "probs": f"y = softmax(W<sub>2</sub> {features} + b<sub>2</sub>)",
    }
