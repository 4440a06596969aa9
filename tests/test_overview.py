"""figures.overview: the one-screen overview's numbers are the trace's, each token's share of c
sums to the pooled vector, and the follow sentences say the trace's numbers."""

import base64

import numpy as np
import pytest
import torch
from tiny import dense_model

from dense_attention.core.config import ModelConfig
from dense_attention.explain import words
from dense_attention.figures import overview


def decode(text: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(shape)


@pytest.fixture(scope="module")
def traced():
    model = dense_model(seed=3, similarity="dot", dims=(6, 8, 3))
    x = torch.randn(2, 5, 6, generator=torch.Generator().manual_seed(1))
    mask = torch.tensor([[True] * 5, [True, True, True, True, False]])
    return model, model.trace(x, mask).example(1)  # 4 real tokens, cropped


def test_every_panel_holds_the_traces_numbers(traced):
    model, trace = traced
    payload = overview.overview_payload(trace, list("abcd"), ["p", "q", "r"], model.config)
    panels = {p["key"]: p for p in payload["panels"]}
    assert [key for key, _ in overview.PANELS] == list(panels)
    one = trace.numpy()
    for key in ("x", "h", "scores", "attn", "values"):
        panel = panels[key]
        got = decode(panel["z"], (panel["rows"], panel["cols"]))
        np.testing.assert_allclose(got, one[key][0], rtol=1e-6, atol=1e-6)
    for key in ("alpha", "c", "probs"):
        np.testing.assert_allclose(decode(panels[key]["z"], (-1,)), one[key][0], atol=1e-6)
    assert panels["attn"]["rows"] == panels["attn"]["cols"] == 4
    assert panels["x"]["cols"] == 6 and panels["h"]["cols"] == 8
    assert payload["tokens"] == list("abcd") and payload["classes"] == ["p", "q", "r"]
    titles = words.overview_titles(model.config)
    assert all(panels[key]["title"] == titles[key] for key in panels)
    # colour ranges: weights on 0..1 (α to its largest), signed values centred on 0
    assert panels["attn"]["range"] == 1.0 and not panels["attn"]["diverging"]
    assert panels["alpha"]["range"] == pytest.approx(float(one["alpha"][0].max()))
    assert panels["h"]["diverging"] and panels["h"]["range"] > 0


def test_the_token_shares_sum_to_the_pooled_vector(traced):
    _, trace = traced
    one = trace.numpy()
    alpha, values = one["alpha"][0].astype(float), one["values"][0].astype(float)
    terms, share = overview.token_shares(alpha, values)
    np.testing.assert_allclose(terms.sum(axis=0), one["pooled"][0], atol=1e-5)
    assert share.sum() == pytest.approx(1.0)
    k = 2  # the share is the token's part of Σ_i Σ_d |α_i v_id|, by a plain loop
    total = sum(abs(alpha[i] * values[i, d]) for i in range(4) for d in range(values.shape[1]))
    mine = sum(abs(alpha[k] * values[k, d]) for d in range(values.shape[1]))
    assert share[k] == pytest.approx(mine / total)


def test_the_follow_sentences_say_the_traces_numbers(traced):
    _, trace = traced
    lines = overview.follow_sentences(trace, ["the", "cat", "sat", "down"])
    attn, alpha = trace.attn[0].detach().numpy(), trace.alpha[0].detach().numpy()
    for i, line in enumerate(lines):
        others = [j for j in range(4) if j != i]
        j = max(others, key=lambda j: attn[i, j])
        assert line.startswith(f"{i + 1} “{['the', 'cat', 'sat', 'down'][i]}”")
        assert f"keeps a = {attn[i, i]:.2f}" in line
        assert f"looks most at {j + 1} " in line and f"(a = {attn[i, j]:.2f})" in line
        assert f"α = {alpha[i]:.3f}" in line


def test_one_token_does_not_look_elsewhere_and_bad_labels_are_refused():
    model = dense_model(seed=0, dims=(6, 8, 3))
    trace = model.trace(torch.randn(1, 1, 6), torch.ones(1, 1, dtype=torch.bool))
    (line,) = overview.follow_sentences(trace, ["solo"])
    assert "looks most" not in line and "keeps a = 1.00" in line and "100% of c" in line
    with pytest.raises(ValueError):
        overview.overview_payload(trace, ["a", "b"], ["p", "q", "r"], model.config)


def test_the_titles_follow_the_config():
    base = dict(input_dim=4, hidden_dim=8, num_classes=2)
    mean = words.overview_titles(ModelConfig(**base, pooling="mean", skip="none"))
    learned = words.overview_titles(
        ModelConfig(**base, activation="gelu", similarity="cosine", temperature=0.07)
    )
    assert mean["alpha"] == "α<sub>i</sub> = 1/N" and "e<sub>i</sub>" in learned["alpha"]
    assert "h<sub>o</sub>" not in mean["probs"] and "h<sub>o</sub>" in learned["probs"]
    assert learned["h"].startswith("h<sub>i</sub> = GELU(") and "cosine" in learned["scores"]
    assert "τ = 0.07" in learned["scores"]
