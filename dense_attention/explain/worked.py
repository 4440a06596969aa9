"""Every step's formula worked through with one input's numbers, for one attention cell (i, j).

The handout shows, under each step's general formula (formulas.step_latex), the same step with
the trace's numbers substituted: x_i and h_i, the similarity s(h_i, h_j) beside s(h_i, h_i), and,
from the score on, formulas.cell_steps (the formula panel's LaTeX). Indices shown are 1-based;
the Python arguments i, j are 0-based. All LaTeX here is KaTeX-valid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.config import ModelConfig
from ..core.trace import Trace
from .formulas import STEP_KEYS, cell_steps, fmt_number, latex_text

__all__ = ["VECTOR_SHOWN", "vector", "worked_steps"]

VECTOR_SHOWN = 4  # components of a vector written out before "…"


def vector(values: Sequence[float] | np.ndarray, shown: int = VECTOR_SHOWN) -> str:
    """(v_1, v_2, …, v_shown, \\ldots) as LaTeX, 4 significant digits each."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    parts = [fmt_number(v) for v in values[:shown]]
    if values.shape[0] > shown:
        parts.append(r"\ldots")
    return "(" + ", ".join(parts) + ")"


def _aligned(*lines: str) -> str:
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def _x(trace: Trace, i: int, j: int, tokens: Sequence[str]) -> str:
    x = trace.x[0].detach().double().numpy()
    n, width = x.shape
    return _aligned(
        *(
            rf"x_{{{k + 1}}} &= {vector(x[k])} \quad ({latex_text(tokens[k])})"
            for k in dict.fromkeys((i, j))
        ),
        rf"&\quad N = {n} \text{{ tokens}}, \ D = {width} \text{{ numbers each}}",
    )


_ACT = {
    "identity": r"W x_{{{k}}} + b",
    "relu": r"\operatorname{{ReLU}}(W x_{{{k}}} + b)",
    "tanh": r"\tanh(W x_{{{k}}} + b)",
    "gelu": r"\operatorname{{GELU}}(W x_{{{k}}} + b)",
}


def _h(trace: Trace, i: int, j: int, tokens: Sequence[str], config: ModelConfig) -> str:
    h = trace.h[0].detach().double().numpy()
    if config.sequence_encoder == "none":
        rule = _ACT[config.activation]
    else:  # the dense layer reads the sequence encoder's x'
        rule = _ACT[config.activation].replace("x_", "x'_")
    return _aligned(
        *(
            rf"h_{{{k + 1}}} &= {rule.format(k=k + 1)} = {vector(h[k])}"
            for k in dict.fromkeys((i, j))
        ),
        rf"&\quad d = {h.shape[1]} \text{{ hidden units}}",
    )


def _similarity(trace: Trace, i: int, j: int) -> str:
    tau = float(trace.temperature)
    scores = trace.scores[0].detach().double().numpy()
    i1, j1 = i + 1, j + 1
    own = rf"s(h_{{{i1}}}, h_{{{i1}}}) &= {fmt_number(scores[i, i] * tau)}"
    pair = rf"s(h_{{{i1}}}, h_{{{j1}}}) &= {fmt_number(scores[i, j] * tau)}"
    if i == j:
        return _aligned(pair)
    return _aligned(pair, rf"{own} \quad \text{{(token {i1} with itself)}}")


def _h_o(trace: Trace, config: ModelConfig) -> str:
    if config.skip == "none":
        return r"h_o \text{ is not used (skip = none)}"
    n = trace.h.shape[1]
    return rf"h_o = \frac{{1}}{{{n}}} \sum_{{i=1}}^{{{n}}} h_i = {vector(trace.h_o[0])}"


def worked_steps(
    trace: Trace,
    cell: tuple[int, int],
    tokens: Sequence[str],
    class_names: Sequence[str],
    config: ModelConfig,
) -> dict[str, str]:
    """Every step key of formulas.STEPS (in order) -> its LaTeX with this input's numbers, for
    query i and key j (`cell`, 0-based) of one cropped example trace (B=1). `config` is the
    model's, with the live settings in."""
    i, j = cell
    from_score = cell_steps(trace, i, j, tokens, class_names, config)
    worked = {
        "x": _x(trace, i, j, tokens),
        "h": _h(trace, i, j, tokens, config),
        "similarity": _similarity(trace, i, j),
        "h_o": _h_o(trace, config),
        **{key: latex for key, (_, latex) in from_score.items()},
    }
    return {key: worked[key] for key in STEP_KEYS}
