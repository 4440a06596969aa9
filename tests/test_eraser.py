"""eraser: comprehensiveness and sufficiency against a plain loop of one forward pass per mask."""

import math

import numpy as np
import pytest
import torch
from tiny import dense_model

from dense_attention import DenseAttention
from dense_attention.explain import eraser as er
from dense_attention.explain import faithfulness as fa

D, d, C = 6, 8, 3


def make(seed=0, **kw) -> DenseAttention:
    return dense_model(seed, "cosine", (D, d, C), temperature=0.5, **kw)


def inputs(n=23, seed=1):
    return torch.randn(1, n, D, generator=torch.Generator().manual_seed(seed))


def p_of(model, x, keep, cls):
    """p(cls) of x with only the tokens in `keep` real: one plain forward pass."""
    mask = torch.zeros(1, x.shape[1], dtype=torch.bool)
    mask[0, list(keep)] = True
    with torch.no_grad():
        return float(torch.softmax(model(x, mask), dim=-1)[0, cls])


def test_scores_equal_a_plain_loop_over_methods_and_k():
    model, x = make(), inputs()
    n = x.shape[1]
    rng = np.random.default_rng(5)
    scores = {"a": rng.normal(size=n), "b": rng.normal(size=n)}
    result = er.erase(model, x, scores, random_orders=3, seed=7)
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=-1)[0]
    y = int(probs.argmax())
    p0 = float(probs[y])
    assert result.p0 == pytest.approx(p0, abs=1e-6)
    for name, s in scores.items():
        ranked = sorted(range(n), key=lambda j: -s[j])  # no ties among normal draws
        for i, k in enumerate(er.PERCENTS):
            top = ranked[: max(1, math.ceil(k * n / 100))]
            rest = [j for j in range(n) if j not in top]
            comp = p0 - p_of(model, x, rest, y)
            suff = p0 - p_of(model, x, top, y)
            assert result.comprehensiveness[name][i] == pytest.approx(comp, abs=1e-5)
            assert result.sufficiency[name][i] == pytest.approx(suff, abs=1e-5)
        assert result.aopc_comprehensiveness[name] == pytest.approx(
            np.mean(result.comprehensiveness[name]), abs=1e-9
        )
    # the random baseline: the mean of the same seeded permutations, one loop each
    perm_rng = np.random.default_rng(7)
    orders = [perm_rng.permutation(n) for _ in range(3)]
    for i, k in enumerate(er.PERCENTS):
        c = max(1, math.ceil(k * n / 100))
        comp = np.mean([p0 - p_of(model, x, o[c:], y) for o in orders])
        assert result.comprehensiveness[er.RANDOM][i] == pytest.approx(comp, abs=1e-5)


def test_counts_round_up_to_at_least_one_token_and_the_note_says_so():
    assert er.top_counts(23).tolist() == [1, 2, 3, 5, 12]
    assert er.top_counts(200).tolist() == [2, 10, 20, 40, 100]
    assert er.top_counts(2).tolist() == [1, 1, 1, 1, 1]
    result = er.erase(make(), inputs(n=12), {"a": np.arange(12.0)})
    assert result.rounded_up() == (1, 5)
    assert "1%, 5% of 12 tokens is under one token" in result.note()
    assert "masking" in result.note()


def test_a_one_token_input_gives_a_clear_message_not_nan():
    with pytest.raises(er.EraserError, match="at least two tokens"):
        er.erase(make(), inputs(n=1), {"a": np.zeros(1)})
    with pytest.raises(er.EraserError, match="between 0 and 100"):
        er.top_counts(10, (0, 5))
    r = fa.analyze_features(make(), inputs(n=1), ig_steps=4)
    assert r.eraser is None
    with pytest.raises(er.EraserError, match="two tokens"):
        er.summarize([None])


def test_leave_one_out_is_the_most_comprehensive_single_token():
    """At k% = one token, comprehensiveness is p0 − p(that token masked): leave-one-out's top
    token is by definition the largest such drop, so no method (random included) beats it."""
    model, x = make(), inputs(n=40)
    r = fa.analyze_features(model, x, ig_steps=8)
    one = [i for i, c in enumerate(r.eraser.counts) if c == 1]
    assert one == [0]
    best = r.eraser.comprehensiveness["occlusion"][0]
    assert best == pytest.approx(float(-r.knockout.delta.min()), abs=1e-5)
    for method, comp in r.eraser.comprehensiveness.items():
        assert comp[0] <= best + 1e-6, method


def test_analyze_features_carries_eraser_for_every_method_and_random():
    r = fa.analyze_features(make(), inputs(n=9), ig_steps=8)
    assert set(r.eraser.comprehensiveness) == {*fa.METHODS, fa.RANDOM}
    table = r.eraser.table()
    assert len(table) == 6 * len(er.PERCENTS)
    assert np.isfinite(table[["comprehensiveness", "sufficiency"]].to_numpy()).all()
    summary = er.summarize([r.eraser, None, r.eraser])
    assert summary.examples == 2 and summary.skipped == 1
    assert summary.comprehensiveness["alpha"] == pytest.approx(r.eraser.comprehensiveness["alpha"])
    block = summary.to_dict()
    assert block["removal"] == "masking"
    assert block["comprehensiveness_aopc"]["occlusion"] == pytest.approx(
        r.eraser.aopc_comprehensiveness["occlusion"], abs=1e-4
    )
