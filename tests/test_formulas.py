"""formulas: the numbers behind a cell equal an independent computation, and the LaTeX is KaTeX."""

import copy
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import streamlit
import torch

from dense_attention import SIMILARITIES, DenseAttention, ModelConfig
from dense_attention.core.toy import toy_example
from dense_attention.explain import formulas
from dense_attention.explain.formulas import cell_latex, cell_numbers, fmt_number, latex_text


@pytest.fixture(scope="module")
def toy():
    return toy_example()


def reference_numbers(toy, trace, i: int, j: int) -> dict[str, float]:
    """The cell's numbers straight from h and the model's weights, in float64."""
    h = trace.h.double()
    params = copy.deepcopy(toy.model.similarity_params).double()  # .double() is in place
    raw = SIMILARITIES[trace.similarity].fn(h, params)[0]  # (N, N) before the temperature
    scores = raw / trace.temperature
    attn = torch.softmax(scores, dim=-1)
    v_i = attn[i] @ h[0]
    winner = int(trace.logits[0].argmax())
    return {
        "similarity": float(raw[i, j]), "score": float(scores[i, j]), "attn": float(attn[i, j]),
        "numerator": math.exp(float(scores[i, j] - scores[i].max())),
        "denominator": float(torch.exp(scores[i] - scores[i].max()).sum()),
        "v_i[0]": float(v_i[0]), "v_i_norm": float(v_i.norm()),
        "alpha_i": float(torch.softmax(trace.pool_scores[0].double(), 0)[i]),
        "winner": winner, "winner_logit": float(trace.logits[0, winner]),
        "winner_prob": float(torch.softmax(trace.logits[0].double(), 0)[winner]),
    }  # fmt: skip


@pytest.mark.parametrize("similarity", list(SIMILARITIES))
@pytest.mark.parametrize("temperature", [0.1, 1.0, 10.0])
def test_cell_numbers_equal_an_independent_computation(toy, similarity, temperature):
    trace = toy.trace(similarity, temperature)
    for i, j in [(0, 0), (1, 4), (5, 2)]:
        got, want = cell_numbers(trace, i, j), reference_numbers(toy, trace, i, j)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-5), (similarity, key)
        assert got["temperature"] == temperature
        assert got["numerator"] / got["denominator"] == pytest.approx(got["attn"], rel=1e-5)


def test_cell_latex_shows_the_numbers(toy):
    trace = toy.trace("cosine", 0.3)
    num = cell_numbers(trace, 4, 1)
    pairs = cell_latex(trace, 4, 1, toy.tokens, toy.class_names, toy.model.config)
    assert len(pairs) == 6 and all(caption and latex for caption, latex in pairs)
    text = "\n".join(latex for _, latex in pairs)
    for key in ("similarity", "score", "row_max", "numerator", "denominator", "attn", "v_i[0]",
                "v_i_norm", "e_i", "alpha_i", "winner_logit", "winner_prob"):  # fmt: skip
        assert fmt_number(num[key]) in text, key
    assert r"s_{5,2}" in text and r"a_{5,2}" in text and r"\text{the}" in text
    assert latex_text(toy.class_names[int(num["winner"])]) in text
    assert r"\tanh" in text  # the toy's pool activation


def test_long_rows_show_three_terms_and_the_selected_one():
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=3, hidden_dim=4, num_classes=2))
    with torch.no_grad():
        trace = model.trace(torch.randn(1, 10, 3))
    tokens = [f"t{k}" for k in range(10)]
    attention = cell_latex(trace, 0, 7, tokens, ["a", "b"])[1][1]
    row = np.exp(trace.scores[0, 0].double().numpy() - trace.scores[0, 0].max().item())
    assert attention.count(r"\cdots") == 2  # 1 + 2 + 3 + ... + 8 + ...
    for k in (0, 1, 2, 7):
        assert fmt_number(row[k]) in attention
    assert r"\textcolor" in attention


def test_a_sharp_rows_tiny_terms_wrap_two_a_line_and_keep_their_numbers():
    """Issue #27's home model puts a ≈ 1 on one key: the other terms are like 10^-200, each
    ~17 characters; in one fraction they ran past a laptop's column (tests/test_browser.py)."""
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=3, hidden_dim=4, num_classes=2))
    torch.manual_seed(1)
    with torch.no_grad():
        trace = model.trace(torch.randn(1, 10, 3) * 3, temperature=0.05)
    tokens = [f"t{k}" for k in range(10)]
    attention = cell_latex(trace, 0, 7, tokens, ["a", "b"])[1][1]
    row = np.exp(trace.scores[0, 0].double().numpy() - trace.scores[0, 0].max().item())
    assert any(r"\times" in fmt_number(row[k]) for k in (0, 1, 2, 7))  # the premise
    for k in (0, 1, 2, 7):
        assert fmt_number(row[k]) in attention
    lines = attention.removesuffix(r"\end{aligned}").split(r" \\ ")
    assert all(line.count(r"\times") <= 2 for line in lines)  # at most two terms a line
    assert r"\big/" in attention and attention.count(r"\cdots") == 2


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.28, "0.2800"), (-1.23456, "-1.235"), (1234.4, "1234"), (0.0, "0.000"),
        (12345.0, r"1.234 \times 10^{4}"), (-2.5e-7, r"-2.500 \times 10^{-7}"),
    ],
)  # fmt: skip
def test_fmt_number_keeps_four_significant_digits(value, text):
    assert fmt_number(value) == text


def test_negative_terms_get_parentheses():
    assert formulas.term(-0.5) == "(-0.5000)" and formulas.term(0.5) == "0.5000"


def test_token_names_are_escaped_for_tex():
    assert latex_text("##ing") == r"\text{\#\#ing}"
    assert latex_text("a_b$c%d&e") == r"\text{a\_b\$c\%d\&e}"
    assert latex_text("{~^\\}") == r"\text{\{\textasciitilde{}\textasciicircum{}\textbackslash{}\}}"
    toy = toy_example()
    tokens = ["##ing", "$5", "snake_case", "the", "50%", "a&b"]
    text = "".join(latex for _, latex in cell_latex(toy.trace(), 0, 2, tokens, toy.class_names))
    assert r"\#\#ing" in text and r"snake\_case" in text
    assert "##" not in text and "snake_case" not in text


def test_steps_follow_the_design_table_and_are_katex_safe(toy):
    assert formulas.STEP_KEYS == (
        "x", "h", "similarity", "scores", "attn", "values", "alpha", "c", "h_o", "probs",
    )  # fmt: skip
    cfg = toy.model.config
    for step in formulas.STEPS:
        assert step.title and step.latex
        for similarity in SIMILARITIES:
            latex = formulas.step_latex(step.key, similarity, cfg, 0.3)
            assert latex and r"\begin{align}" not in latex and "$" not in latex
            assert latex.count("{") == latex.count("}")
    for name, sim in SIMILARITIES.items():
        assert sim.latex in formulas.step_latex("similarity", name, cfg)
    assert r"\tau = 0.3" in formulas.step_latex("scores", "dot", cfg, 0.3)
    with pytest.raises(ValueError):
        formulas.step_latex("nope", "dot", cfg)


def test_step_latex_follows_the_settings():
    cfg = ModelConfig(8, 6, 2, activation="relu", pooling="mean", pool_activation="sigmoid",
                      skip="none")  # fmt: skip
    assert r"\operatorname{ReLU}" in formulas.step_latex("h", "dot", cfg)
    assert r"\frac{1}{N}" in formulas.step_latex("alpha", "dot", cfg)
    assert r"\operatorname{sigmoid}" in formulas.step_latex("c", "dot", cfg)
    assert "h_o" not in formulas.step_latex("probs", "dot", cfg)


def test_cell_numbers_refuse_batches_padding_and_bad_indices(toy):
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=3, hidden_dim=4, num_classes=2))
    with torch.no_grad():
        batch = model.trace(torch.randn(2, 3, 3), torch.tensor([[1, 1, 1], [1, 1, 0]]).bool())
    with pytest.raises(ValueError, match="B=1"):
        cell_numbers(batch, 0, 0)
    with pytest.raises(ValueError, match="padding"):
        cell_numbers(batch.example(1, crop=False), 0, 0)
    assert cell_numbers(batch.example(1), 1, 1)["attn"] == pytest.approx(float(batch.attn[1, 1, 1]))
    with pytest.raises(ValueError):
        cell_numbers(toy.trace(), 0, 6)
    with pytest.raises(ValueError, match="tokens"):
        cell_latex(toy.trace(), 0, 0, ["a"], toy.class_names)


KATEX_CHECK = """
import katex from './katex.mjs';
import fs from 'fs';
const errors = [];
for (const tex of JSON.parse(fs.readFileSync(0, 'utf8'))) {
  try { katex.renderToString(tex, {displayMode: true, throwOnError: true, strict: 'error'}); }
  catch (err) { errors.push(err.message + '  in  ' + tex); }
}
console.log(JSON.stringify(errors));
"""


def test_all_latex_renders_with_streamlits_own_katex(toy, tmp_path):
    """Every formula the app can show goes through the KaTeX that Streamlit ships, under node."""
    node = shutil.which("node")
    bundles = sorted(Path(streamlit.__file__).parent.glob("static/static/js/katex.*.js"))
    if node is None or not bundles:
        pytest.skip("needs node and Streamlit's KaTeX bundle")
    shutil.copy(bundles[0], tmp_path / "katex.mjs")  # a self-contained ES module
    (tmp_path / "check.mjs").write_text(KATEX_CHECK)
    tokens = ["##ing", "$x", "a_b", "{}", "~^\\", "%&#"]
    latex = [step.latex for step in formulas.STEPS]
    for similarity in SIMILARITIES:
        trace = toy.trace(similarity, 0.01)
        latex += [formulas.step_latex(k, similarity, toy.model.config) for k in formulas.STEP_KEYS]
        latex += [tex for _, tex in cell_latex(trace, 3, 5, tokens, ["c_1", "#2"])]
    cfg = ModelConfig(8, 6, 2, activation="gelu", pooling="mean", skip="none")
    latex += [formulas.step_latex(k, "dot", cfg) for k in formulas.STEP_KEYS]
    with torch.no_grad():
        mean = toy.model.trace(toy.x, pooling="mean")
    latex += [tex for _, tex in cell_latex(mean, 3, 5, tokens, ["a", "b"], cfg)]
    latex += [fmt_number(x) for x in (1e-9, -3e12, float("nan"), float("-inf"))]
    result = subprocess.run(
        [node, "check.mjs"], input=json.dumps(latex), cwd=tmp_path, capture_output=True,
        text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout) == []
    assert all(not re.search(r"\\begin\{align\*?\}", tex) for tex in latex)


@pytest.mark.parametrize(
    ("encoder", "name"), [("lstm", "BiLSTM"), ("transformer", "TransformerLayer")]
)
def test_h_formula_names_the_sequence_encoder(encoder, name):
    config = ModelConfig(input_dim=4, hidden_dim=8, num_classes=2, sequence_encoder=encoder)
    latex = formulas.step_latex("h", "dot", config)
    assert f"x' = \\operatorname{{{name}}}(x)" in latex and "W x'_i + b" in latex
    plain = formulas.step_latex("h", "dot", ModelConfig(input_dim=4, hidden_dim=8, num_classes=2))
    assert "x'" not in plain and "W x_i + b" in plain


def test_the_similarity_and_values_formulas_name_the_heads():
    from dense_attention.core.config import ModelConfig

    config = ModelConfig(input_dim=4, hidden_dim=16, num_classes=2, heads=4)
    assert "4 units" in formulas.step_latex("similarity", "dot", config)
    assert r"a^k_{ij}\, h^k_j" in formulas.step_latex("values", "dot", config)
    one = ModelConfig(input_dim=4, hidden_dim=16, num_classes=2)
    assert "^k" not in formulas.step_latex("values", "dot", one)


@pytest.mark.parametrize("exclude_self", [False, True])
def test_the_cell_numbers_of_several_heads_are_one_heads(exclude_self):
    """With heads the matrix is the heads' mean, which no softmax gives: the cell's formulas
    walk one head's score, softmax and value, whose numbers are that head's own."""
    torch.manual_seed(0)
    cfg = ModelConfig(input_dim=3, hidden_dim=8, num_classes=2, heads=4, temperature=0.5,
                      exclude_self=exclude_self)  # fmt: skip
    with torch.no_grad():
        trace = (
            DenseAttention(cfg)
            .eval()
            .trace(torch.randn(1, 5, 3), torch.ones(1, 5, dtype=torch.bool))
        )
    i, j = 1, 3
    heaviest = int(trace.head_attn[0, :, i, j].argmax())
    assert cell_numbers(trace, i, j)["head"] == formulas.heaviest_head(trace, i, j) == heaviest
    for k in range(4):
        num = cell_numbers(trace, i, j, head=k)
        assert num["attn"] == pytest.approx(float(trace.head_attn[0, k, i, j]), abs=1e-7)
        assert num["score"] == pytest.approx(float(trace.head_scores[0, k, i, j]), abs=1e-6)
        v_k = trace.head_attn[0, k, i] @ trace.h[0, :, 2 * k : 2 * k + 2]  # head k's 2 units
        assert num["v_i[0]"] == pytest.approx(float(v_k[0]), abs=1e-6)
        assert num["v_i[0]"] == pytest.approx(float(trace.values[0, i, 2 * k]), abs=1e-6)
        tex = " ".join(t for _, t in cell_latex(trace, i, j, list("abcde"), ["n", "p"], cfg, k))
        assert f"a^{{{k + 1}}}_{{2,4}}" in tex and f"= {fmt_number(num['attn'])}" in tex
    with pytest.raises(ValueError, match="head 4 of 4"):
        cell_numbers(trace, i, j, head=4)
    assert cell_numbers(trace, i, j)["attn"] != pytest.approx(float(trace.attn[0, i, j]))
