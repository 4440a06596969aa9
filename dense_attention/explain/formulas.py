"""The LaTeX of every step of the model, and of one attention cell with the trace's real numbers.

All LaTeX here is KaTeX-valid (what Streamlit's st.latex renders): no align environments, token
names inside \\text{...} with TeX's special characters escaped. Indices shown are 1-based, like
the formulas; the Python arguments i, j are 0-based positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.config import ModelConfig
from ..core.i18n import N_, tr
from ..core.similarity import SIMILARITIES
from ..core.trace import Trace


@dataclass(frozen=True)
class Step:
    """One step of the model: `key` is also the key of its figure in trace_plots.trace_figures. Its
    words for one model (title, caption) come from explain.words."""

    key: str
    title: str  # English, marked for core.i18n (words.step_title translates it)
    latex: str  # the general formula; step_latex gives it for a model's actual settings


STEPS: tuple[Step, ...] = (
    Step("x", N_("Input"), r"x_i \in \mathbb{R}^{D}, \quad i = 1, \dots, N"),
    Step("h", N_("Dense layer"), r"h_i = \operatorname{act}(W x_i + b) \in \mathbb{R}^{d}"),
    Step("similarity", N_("Similarity"), r"s(h_i, h_j)"),
    Step("scores", N_("Temperature"), r"s_{ij} = \frac{s(h_i, h_j)}{\tau}"),
    Step("attn", N_("Attention weights"),
         r"a_{ij} = \frac{\exp(s_{ij})}{\sum_{k=1}^{N} \exp(s_{ik})}"),
    Step("values", N_("Attention values"), r"v_i = \sum_{j=1}^{N} a_{ij}\, h_j"),
    Step("alpha", N_("Pooling weights"),
         r"\begin{aligned} e_i &= u^\top \tanh(W_\alpha v_i + b_\alpha) \\ "
         r"\alpha_i &= \frac{\exp(e_i)}{\sum_{k=1}^{N} \exp(e_k)} \end{aligned}"),
    Step("c", N_("Attention pooling"), r"c = \sigma\Big(\sum_{i=1}^{N} \alpha_i v_i\Big)"),
    Step("h_o", N_("Skip input"), r"h_o = \frac{1}{N} \sum_{i=1}^{N} h_i"),
    # two lines: on one, the formula was wider than the step's column on a laptop screen
    Step("probs", N_("Output"), r"\begin{gathered} z = W_2 \begin{bmatrix} c \\ h_o \end{bmatrix}"
         r" + b_2 \\ y = \operatorname{softmax}(z) \end{gathered}"),
)  # fmt: skip

STEP_KEYS = tuple(step.key for step in STEPS)

# The source the formulas come from, named wherever the app mentions it, and in one line what its
# sample code gets wrong (About lists the two faults in full).
SOURCE_ARTICLE = N_(
    "the Chinese article on combining a dense layer with an attention mechanism whose formulas "
    "this app implements"
)
ARTICLE_CODE_FAULT = N_(
    "its sample code does not run: its `Attention` layer is built for `input_dim` but applied "
    "to the 128-wide hidden vectors, and `matmul(a, h)` mixes the batch with the sequence"
)
# The About page's account of where this project departs from the article (markdown + KaTeX), a
# msgid with the fields {source} (SOURCE_ARTICLE) and {fault} (ARTICLE_CODE_FAULT), translated.
ARTICLE_DEPARTURES = N_(r"""
The source is {source}. Its sample code scores pairs with a Bahdanau-style additive
layer $w^\top \tanh(W_q h_i + W_k h_j)$. The formulas above are the article's, corrected and
generalised. In one line: {fault}. In full:

1. **Its `Attention` layer is built for the wrong width.** It is created for `input_dim`
   features but applied to the outputs of the dense layer, which are 128 wide: the weight
   shapes do not match.
2. **`matmul(a, h)` mixes the batch with the sequence.** The attention weights of one example
   end up multiplying the hidden vectors of other examples, instead of
   $v_i = \sum_j a_{{ij}} h_j$ within each example.

This project implements the formulas instead of that code, and goes further in a few places:
six similarity functions instead of one (selectable at inference), a temperature $\tau$, masks
so padding never receives attention, positional embeddings (attention pooling ignores order
otherwise), and the mean $h_o$ of the hidden vectors as a skip input beside $c$.
""")

_ACTIVATION_LATEX = {
    "identity": "{}",
    "relu": r"\operatorname{ReLU}\left({}\right)",
    "tanh": r"\tanh\left({}\right)",
    "gelu": r"\operatorname{GELU}\left({}\right)",
    "sigmoid": r"\operatorname{sigmoid}\left({}\right)",
}


_SIGMA_LATEX = {
    "identity": r"\operatorname{id}",
    "relu": r"\operatorname{ReLU}",
    "tanh": r"\tanh",
    "sigmoid": r"\operatorname{sigmoid}",
}


# With a sequence encoder, the dense layer reads its output x' instead of x.
_SEQUENCE_LATEX = {
    "lstm": r"\operatorname{BiLSTM}",
    "transformer": r"\operatorname{TransformerLayer}",
}


def _apply(activation: str, body: str) -> str:
    return _ACTIVATION_LATEX[activation].replace("{}", body, 1)


# Beside the attention step of a model trained with ModelConfig.exclude_self.
EXCLUDE_SELF_NOTE = N_("Here a_ii is masked before the softmax: each token attends to the others.")


def step_latex(
    key: str, similarity: str, config: ModelConfig, temperature: float | None = None
) -> str:
    """The formula of step `key` for a model's actual settings (similarity, τ, activations...)."""
    tau = config.temperature if temperature is None else temperature
    if similarity not in SIMILARITIES:
        raise ValueError(f"unknown similarity {similarity!r}; choose from {list(SIMILARITIES)}")
    if key == "h":
        if config.sequence_encoder == "none":
            body = _apply(config.activation, "W x_i + b")
            return rf"h_i = {body} \in \mathbb{{R}}^{{{config.hidden_dim}}}"
        body = _apply(config.activation, "W x'_i + b")
        encoder = _SEQUENCE_LATEX[config.sequence_encoder]
        return rf"x' = {encoder}(x), \quad h_i = {body} \in \mathbb{{R}}^{{{config.hidden_dim}}}"
    if key == "similarity" and config.heads > 1:
        return (rf"s^k(h_i, h_j) = {SIMILARITIES[similarity].latex} \text{{ on head }} k"
                rf"\text{{'s {config.head_dim} units}}, \quad k = 1..{config.heads}")  # fmt: skip
    if key == "values" and config.heads > 1:
        return (r"v_i = \big[v^1_i; \dots; v^H_i\big], \quad "
                r"v^k_i = \sum_{j=1}^{N} a^k_{ij}\, h^k_j, "
                rf"\quad H = {config.heads}")  # fmt: skip
    if key == "similarity":
        return rf"s(h_i, h_j) = {SIMILARITIES[similarity].latex}"
    if key == "scores":
        return rf"s_{{ij}} = \frac{{s(h_i, h_j)}}{{\tau}}, \quad \tau = {tau:g}"
    if key == "attn" and config.exclude_self:
        return r"a_{ij} = \frac{\exp(s_{ij})}{\sum_{k \ne i} \exp(s_{ik})}, \quad a_{ii} = 0"
    if key == "alpha" and config.pooling == "mean":
        return r"\alpha_i = \frac{1}{N} \quad \text{" + tr("(mean pooling)") + "}"
    if key == "c":
        return "c = " + _apply(config.pool_activation, r"\sum_{i=1}^{N} \alpha_i v_i")
    if key == "h_o" and config.skip == "none":
        return r"h_o \text{ " + tr("is not used (skip = none)") + "}"
    if key == "probs" and config.skip == "none":
        return r"\begin{gathered} z = W_2\, c + b_2 \\ y = \operatorname{softmax}(z) \end{gathered}"
    for step in STEPS:
        if step.key == key:
            return step.latex
    raise ValueError(f"unknown step {key!r}; choose from {list(STEP_KEYS)}")


def fmt_number(x: float) -> str:
    """x with 4 significant digits as LaTeX: 0.2800, -1.234, 1235, 1.234 \\times 10^{-5}."""
    x = float(x)
    if math.isnan(x):
        return r"\text{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    text = f"{x:#.4g}"  # '#' keeps trailing zeros: 4 significant digits always
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa.rstrip('.')} \times 10^{{{int(exponent)}}}"
    return text.rstrip(".")


def term(x: float) -> str:
    """fmt_number, in parentheses when negative (for a number after an operator)."""
    return f"({fmt_number(x)})" if float(x) < 0 else fmt_number(x)


_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}",
    "#": r"\#",
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_text(s: str) -> str:
    """`s` as \\text{...}, with TeX's special characters escaped ("##ing" renders as is)."""
    return r"\text{" + "".join(_TEXT_ESCAPES.get(ch, ch) for ch in str(s)) + "}"


MARK_COLOR = "#3b5bdb"  # the app's primary colour, for the term of the selected key j


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy()


def _check_one(trace: Trace, i: int, j: int) -> int:
    if trace.batch_size != 1:
        raise ValueError(
            f"expected one example (B=1), got B={trace.batch_size}: use trace.example(b)"
        )
    n = trace.attn.shape[1]
    if not bool(trace.mask.all()):
        raise ValueError("the trace holds padding: crop it with trace.example(b)")
    for name, k in (("i", i), ("j", j)):
        if not 0 <= k < n:
            raise ValueError(f"{name}={k} is outside 0..{n - 1}")
    return n


def _check(name: str, computed: float, stored: float) -> None:
    if not math.isclose(computed, stored, rel_tol=1e-4, abs_tol=1e-6):
        raise ValueError(f"{name}: recomputed {computed:.6g} but the trace holds {stored:.6g}")


def _softmax_row(trace: Trace, scores: np.ndarray, i: int) -> np.ndarray:
    """Row i of the softmax's logits: s_ii = -inf when the trace excluded a_ii (N > 1)."""
    row = scores[i].astype(np.float64)
    if trace.exclude_self and row.shape[0] > 1:
        row[i] = -np.inf
    return row


def _head_of(trace: Trace, i: int, head: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Head `head`'s view of row i: (head, its scores (N, N), h^k (N, d/H), v^k_i (d/H,)); the
    one head's own with one head (head 0)."""
    heads = trace.heads
    if not 0 <= head < heads:
        raise ValueError(f"head {head} of {heads}: choose 0 to {heads - 1}")
    width = trace.h.shape[-1] // heads
    cut = slice(head * width, (head + 1) * width)
    scores = _np(trace.head_scores[0, head])  # (N, N): the heads' mean is no head's logits
    return head, scores, _np(trace.h[0])[:, cut], _np(trace.values[0, i])[cut]


def heaviest_head(trace: Trace, i: int, j: int) -> int:
    """The head (0-based) with the largest a^k_ij in example 0 (0 with one head)."""
    return int(trace.head_attn[0, :, i, j].argmax())


def cell_numbers(trace: Trace, i: int, j: int, head: int | None = None) -> dict[str, float]:
    """The numbers behind attention cell (i, j) of one cropped example trace (B=1), 0-based;
    with several heads, head `head`'s (None: `heaviest_head`) scores, a^k_ij and v^k_i.

    Keys: similarity (= s_ij τ), temperature, score (s_ij), row_max (max_k s_ik), numerator
    (exp(s_ij - max)), denominator (Σ_k exp(s_ik - max)), attn (a_ij), "v_i[k]" for every
    component k (0-based) of v_i (v^k_i with heads), v_i_norm, e_i, alpha_i, winner (class
    index), winner_logit, winner_prob, head. Values come from the trace's tensors; recomputed
    ones are checked against them.
    """
    _check_one(trace, i, j)
    head = heaviest_head(trace, i, j) if head is None else head
    k, scores, h, v_i = _head_of(trace, i, head)
    row = _softmax_row(trace, scores, i)
    top = float(row.max())
    exps = np.exp(row - top)
    a_row = _np(trace.head_attn[0, k, i])
    attn = float(a_row[j])
    _check("a_ij", float(exps[j] / exps.sum()), attn)
    for unit in range(v_i.shape[0]):
        _check(f"v_i[{unit}]", float(a_row @ h[:, unit]), float(v_i[unit]))
    logits = _np(trace.logits[0])
    winner = int(np.argmax(logits))
    numbers = {
        "similarity": float(scores[i, j]) * trace.temperature,
        "temperature": float(trace.temperature),
        "score": float(scores[i, j]),
        "row_max": top,
        "numerator": float(exps[j]),
        "denominator": float(exps.sum()),
        "attn": attn,
    }
    numbers.update({f"v_i[{unit}]": float(v) for unit, v in enumerate(v_i)})
    numbers.update(
        v_i_norm=float(np.linalg.norm(v_i)),
        e_i=float(trace.pool_scores[0, i]),
        alpha_i=float(trace.alpha[0, i]),
        winner=winner,
        winner_logit=float(logits[winner]),
        winner_prob=float(trace.probs[0, winner]),
        head=k,
    )
    return numbers


def _sum_terms(
    terms: list[str], shown: Sequence[int], mark: int | None = None, per_line: int = 0
) -> str:
    """terms[k] for k in `shown` joined by +, "cdots" for skipped ones; terms[mark] coloured.

    With `per_line`, the sum wraps onto a new aligned line after that many parts.
    """
    parts, last = [], -1
    for k in sorted(set(shown)):
        if k > last + 1:
            parts.append(r"\cdots")
        parts.append(rf"\textcolor{{{MARK_COLOR}}}{{{terms[k]}}}" if k == mark else terms[k])
        last = k
    if last < len(terms) - 1:
        parts.append(r"\cdots")
    size = per_line or len(parts)
    lines = [" + ".join(parts[k : k + size]) for k in range(0, len(parts), size)]
    return r" \\ &\qquad + ".join(lines)


def _vector(values: np.ndarray, shown: int = 3) -> str:
    parts = [fmt_number(v) for v in values[:shown]]
    if values.shape[0] > shown:
        parts.append(r"\ldots")
    return "(" + ", ".join(parts) + ")"


def _lines(*lines: str) -> str:
    """Equations stacked and aligned on their first '&=' (KaTeX's aligned, not align)."""
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def _score_latex(
    num: dict[str, float], i1: int, j1: int, tok_i: str, tok_j: str, sup: str = ""
) -> str:
    return _lines(
        rf"s{sup}_{{{i1},{j1}}} &= \frac{{s(h{sup}_{{{i1}}}, h{sup}_{{{j1}}})}}{{\tau}}"
        rf"\qquad i = {i1}\ ({latex_text(tok_i)}),\ j = {j1}\ ({latex_text(tok_j)})",
        rf"&= \frac{{{fmt_number(num['similarity'])}}}{{{num['temperature']:g}}}"
        rf" = {fmt_number(num['score'])}",
    )


def _attn_latex(
    num: dict[str, float], scores_i: np.ndarray, i1: int, j1: int, sup: str = ""
) -> str:
    n, j = scores_i.shape[0], j1 - 1
    k = r"k \ne " + str(i1) if np.isneginf(scores_i[i1 - 1]) else "k"  # a_ii excluded
    exps = [fmt_number(v) for v in np.exp(scores_i - num["row_max"])]
    shown = range(n) if n <= 4 else [0, 1, 2, j]
    shift = rf"\exp({fmt_number(num['score'])} - {term(num['row_max'])})"
    if any(r"\times" in exps[m] for m in shown):  # tiny terms (a sharp row) are wide: wrap them
        quotient = rf"&= {shift} \,\big/\, \big({_sum_terms(exps, shown, j, per_line=2)}\big)"
    else:
        quotient = rf"&= \frac{{{shift}}}{{{_sum_terms(exps, shown, mark=j)}}}"
    return _lines(
        rf"a{sup}_{{{i1},{j1}}} &= \frac{{\exp(s{sup}_{{{i1},{j1}}} - m_{{{i1}}})}}"
        rf"{{\sum_{{{k}}} \exp(s{sup}_{{{i1},k}} - m_{{{i1}}})}}"
        rf"\qquad m_{{{i1}}} = \max_{{{k}}} s{sup}_{{{i1},k}} = {fmt_number(num['row_max'])}",
        quotient,
        rf"&= \frac{{{fmt_number(num['numerator'])}}}{{{fmt_number(num['denominator'])}}}"
        rf" = {fmt_number(num['attn'])}",
    )


def _values_latex(
    num: dict[str, float], a_i: np.ndarray, h: np.ndarray, i1: int, j1: int, sup: str = ""
) -> str:
    n, j = a_i.shape[0], j1 - 1
    symbols = [rf"a{sup}_{{{i1},{k + 1}}}\, h{sup}_{{{k + 1}}}" for k in range(n)]
    terms = [rf"{fmt_number(a_i[k])} \cdot {term(h[k, 0])}" for k in range(n)]
    return _lines(
        rf"v{sup}_{{{i1}}} &= \sum_{{j}} a{sup}_{{{i1},j}}\, h{sup}_j"
        rf" = {_sum_terms(symbols, [0, 1, 2, j], j)}",
        rf"v{sup}_{{{i1},1}} &= {_sum_terms(terms, [0, 1, 2, j], mark=j, per_line=2)}",
        rf"&= {fmt_number(num['v_i[0]'])}, \qquad \lVert v{sup}_{{{i1}}} \rVert"
        rf" = {fmt_number(num['v_i_norm'])}",
    )


def _pooling_latex(num: dict[str, float], i1: int, n: int, config: ModelConfig | None) -> str:
    if config is not None and config.pooling == "mean":
        return (
            rf"\alpha_{{{i1}}} = \frac{{1}}{{N}} = \frac{{1}}{{{n}}} = {fmt_number(num['alpha_i'])}"
        )
    return _lines(
        rf"e_{{{i1}}} &= {fmt_number(num['e_i'])}",
        rf"\alpha_{{{i1}}} &= \frac{{\exp(e_{{{i1}}})}}{{\sum_k \exp(e_k)}}"
        rf" = {fmt_number(num['alpha_i'])}",
    )


def cell_latex(
    trace: Trace,
    i: int,
    j: int,
    tokens: Sequence[str],
    class_names: Sequence[str],
    config: ModelConfig | None = None,
    head: int | None = None,
) -> list[tuple[str, str]]:
    """(caption, LaTeX) pairs walking attention cell (i, j) (0-based) to the output, numbers in.

    `trace` is one cropped example (B=1). `config`, when given (the model's, with the live
    settings in), names σ in c = σ(...) and writes α as 1/N under mean pooling.
    The term of key j is coloured in the sums it takes part in. With several heads the score,
    weight and value are head `head`'s (None: `heaviest_head`).
    """
    return list(cell_steps(trace, i, j, tokens, class_names, config, head).values())


def cell_steps(
    trace: Trace,
    i: int,
    j: int,
    tokens: Sequence[str],
    class_names: Sequence[str],
    config: ModelConfig | None = None,
    head: int | None = None,
) -> dict[str, tuple[str, str]]:
    """cell_latex's (caption, LaTeX) pairs keyed by the step each one works through: scores,
    attn, values, alpha, c, probs (keys of STEPS); head `head`'s with several heads."""
    n = _check_one(trace, i, j)
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} tokens for a trace of {n} tokens")
    if len(class_names) != trace.logits.shape[1]:
        raise ValueError(f"{len(class_names)} class names for {trace.logits.shape[1]} classes")
    num = cell_numbers(trace, i, j, head)
    i1, j1 = i + 1, j + 1  # 1-based, as in the formulas
    k, scores, h, _ = _head_of(trace, i, int(num["head"]))
    sup, of = (
        ("", "")
        if trace.heads == 1
        else (f"^{{{k + 1}}}", tr(" (head {k} of {heads})", k=k + 1, heads=trace.heads))
    )
    sigma = r"\sigma" if config is None else _SIGMA_LATEX[config.pool_activation]
    pooled, c, logits = _np(trace.pooled[0]), _np(trace.c[0]), _np(trace.logits[0])
    w = int(num["winner"])
    pooling = _pooling_latex(num, i1, n, config)
    pooled_latex = _lines(
        rf"c &= {sigma}\Big(\sum_i \alpha_i v_i\Big)",
        rf"&= {sigma}\big({_vector(pooled)}\big)",
        rf"&= {_vector(c)}",
    )
    output = _lines(
        rf"z &= {_vector(logits, shown=4)}",
        rf"\hat{{k}} &= \arg\max_k z_k = {latex_text(class_names[w])},"
        rf" \qquad z_{{\hat{{k}}}} = {fmt_number(num['winner_logit'])}",
        rf"y_{{\hat{{k}}}} &= \operatorname{{softmax}}(z)_{{\hat{{k}}}}"
        rf" = {fmt_number(num['winner_prob'])}",
    )
    score = _score_latex(num, i1, j1, tokens[i], tokens[j], sup)
    attn = _attn_latex(num, _softmax_row(trace, scores, i), i1, j1, sup)
    values = _values_latex(num, _np(trace.head_attn[0, k, i]), h, i1, j1, sup)
    return {
        "scores": (tr("**Score**{of}: the similarity of query $i$ and key $j$, divided by the "
                      "temperature τ", of=of), score),
        "attn": (tr("**Attention weight**{of}: the softmax of row $i$, shifted by its maximum "
                    "$m_i$ (same result)", of=of), attn),
        "values": (tr("**Attention value** of token $i${of}: row $i$ of $a$ times $h$ (its "
                      "first component)", of=of), values),
        "alpha": (tr("**Pooling weight** of token $i$"), pooling),
        "c": (tr("**Pooled vector** (first components)"), pooled_latex),
        "probs": (tr("**Output**: the winning class, its logit and its probability"), output),
    }  # fmt: skip


# The model in one table (the About page): step, formula (markdown LaTeX), Trace field, shape.
MODEL_TABLE = (
    (
        N_("input"),
        N_(r"$x_i$: token embedding or flattened patch, plus its position"),
        "x",
        "(B, N, D)",
    ),
    (N_("dense layer"), r"$h_i = \mathrm{act}(W x_i + b)$", "h", "(B, N, d)"),
    (N_("similarity"), r"$s_{ij} = s(h_i, h_j)\,/\,\tau$", "scores", "(B, N, N)"),
    (
        N_("attention weights"),
        r"$a_{ij} = \exp(s_{ij}) \,/\, \sum_{k} \exp(s_{ik})$",
        "attn",
        "(B, N, N)",
    ),
    (N_("attention values"), r"$v_i = \sum_j a_{ij} h_j$", "values", "(B, N, d)"),
    (
        N_("pooling weights"),
        N_(
            r"$e_i = u^\top \tanh(W_\alpha v_i + b_\alpha)$, "
            r"$\alpha_i = \mathrm{softmax}_i(e_i)$ (or $1/N$)"
        ),
        "pool_scores, alpha",
        "(B, N)",
    ),
    (
        N_("attention pooling"),
        r"$c = \sigma\left(\sum_i \alpha_i v_i\right)$",
        "pooled, c",
        "(B, d)",
    ),
    (N_("skip input"), r"$h_o = \frac{1}{N} \sum_i h_i$", "h_o", "(B, d)"),
    (
        N_("output"),
        r"$z = W_2 [c; h_o] + b_2$, $y = \mathrm{softmax}(z)$",
        "logits, probs",
        "(B, C)",
    ),
)
