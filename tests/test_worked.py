"""worked: every step's formula with one input's numbers, each number against an independent
computation from the model's weights (not from the trace it is written from)."""

import copy
import math
from dataclasses import replace

import pytest
import torch

from dense_attention import SIMILARITIES, DenseAttention
from dense_attention.core.toy import toy_example
from dense_attention.explain import formulas, worked
from dense_attention.explain.formulas import fmt_number


@pytest.fixture(scope="module")
def toy():
    return toy_example()


@torch.no_grad()
def reference(model: DenseAttention, x: torch.Tensor, similarity: str, tau: float) -> dict:
    """The model's forward pass redone in float64 from its weights and the toy's x."""
    model = copy.deepcopy(model).double()
    x = x.double()
    act = {"identity": lambda t: t, "relu": torch.relu, "tanh": torch.tanh,
           "gelu": torch.nn.functional.gelu}[model.config.activation]  # fmt: skip
    h = act(model.dense(x))[0]  # (N, d)
    raw = SIMILARITIES[similarity].fn(h[None], model.similarity_params)[0]
    attn = torch.softmax(raw / tau, dim=-1)
    values = attn @ h
    return {"x": x[0], "h": h, "raw": raw, "attn": attn, "values": values}


def step_of(steps: dict[str, str], number: float) -> list[str]:
    """The steps whose worked LaTeX writes `number` (4 significant digits)."""
    return [key for key, latex in steps.items() if fmt_number(number) in latex]


@pytest.mark.parametrize("similarity", ["scaled_dot", "cosine", "additive"])
def test_every_step_writes_numbers_equal_to_an_independent_computation(toy, similarity):
    trace = toy.trace(similarity, 0.5)
    tokens, classes = list(toy.tokens), list(toy.class_names)
    i, j = 1, 4
    steps = worked.worked_steps(trace, (i, j), tokens, classes, toy.model.config)
    assert tuple(steps) == formulas.STEP_KEYS
    ref = reference(toy.model, toy.x, similarity, 0.5)
    assert fmt_number(ref["x"][i, 0]) in steps["x"] and fmt_number(ref["x"][j, 0]) in steps["x"]
    assert fmt_number(ref["h"][i, 0]) in steps["h"] and fmt_number(ref["h"][j, 0]) in steps["h"]
    assert fmt_number(ref["raw"][i, j]) in steps["similarity"]
    assert fmt_number(ref["raw"][i, i]) in steps["similarity"]  # its own score beside it
    assert fmt_number(ref["raw"][i, j] / 0.5) in steps["scores"]
    assert fmt_number(ref["attn"][i, j]) in steps["attn"]
    assert fmt_number(ref["values"][i, 0]) in steps["values"]
    n = len(tokens)
    assert rf"\frac{{1}}{{{n}}}" in steps["h_o"]
    assert fmt_number(ref["h"][:, 0].mean()) in steps["h_o"]
    probs = torch.softmax(trace.logits[0].double(), 0)
    assert fmt_number(probs.max()) in steps["probs"]
    assert formulas.latex_text(classes[int(probs.argmax())]) in steps["probs"]


def test_pooling_and_c_follow_alpha_and_the_pool_activation(toy):
    trace = toy.trace("scaled_dot", 1.0)
    config = toy.model.config
    steps = worked.worked_steps(trace, (0, 2), list(toy.tokens), list(toy.class_names), config)
    e = trace.pool_scores[0].double()
    assert fmt_number(torch.softmax(e, 0)[0]) in steps["alpha"]
    pooled = (trace.alpha[0].double()[:, None] * trace.values[0].double()).sum(0)
    c0 = {"tanh": math.tanh, "identity": float}[config.pool_activation](float(pooled[0]))
    assert fmt_number(pooled[0]) in steps["c"] and fmt_number(c0) in steps["c"]


def test_mean_pooling_and_no_skip_are_said(toy):
    config = replace(toy.model.config, pooling="mean", skip="none")
    trace = toy.trace("dot", 1.0)
    n = len(toy.tokens)
    steps = worked.worked_steps(trace, (2, 3), list(toy.tokens), list(toy.class_names), config)
    assert rf"\frac{{1}}{{{n}}}" in steps["alpha"]
    assert "not used" in steps["h_o"]


def test_a_single_query_cell_writes_each_vector_once(toy):
    trace = toy.trace("dot", 1.0)
    steps = worked.worked_steps(trace, (3, 3), list(toy.tokens), list(toy.class_names),
                                toy.model.config)  # fmt: skip
    assert steps["x"].count("x_{4}") == 1 and steps["h"].count("h_{4} &=") == 1
    assert "itself" not in steps["similarity"]


def test_vector_writes_four_components_then_dots():
    assert worked.vector([1.0, -2.0]) == "(1.000, -2.000)"
    assert worked.vector(range(6)) == r"(0.000, 1.000, 2.000, 3.000, \ldots)"
