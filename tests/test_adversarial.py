"""adversarial: JSD and TV against closed forms, and toys whose answer is known."""

import math

import numpy as np
import pytest
import torch

from dense_attention import DenseAttention, ModelConfig
from dense_attention.explain import adversarial as ad

D, d, C = 6, 8, 3


def make(seed=0, **kw) -> DenseAttention:
    torch.manual_seed(seed)
    cfg = dict(input_dim=D, hidden_dim=d, num_classes=C, similarity="scaled_dot",
               activation="gelu", pool_activation="tanh") | kw  # fmt: skip
    model = DenseAttention(ModelConfig(**cfg)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return model


def inputs(n, seed=1):
    return torch.randn(1, n, D, generator=torch.Generator().manual_seed(seed))


def plain_jsd(p, q):
    m = (p + q) / 2
    kl = lambda a: sum(ai * math.log(ai / mi) for ai, mi in zip(a, m, strict=True) if ai > 0)  # noqa: E731
    return (kl(p) + kl(q)) / 2


def test_jsd_and_tv_match_their_definitions_and_bounds():
    p, q = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.1, 0.1, 0.1, 0.7])
    tp, tq = torch.tensor(p), torch.tensor(q)
    assert float(ad.jsd(tp, tq)) == pytest.approx(plain_jsd(p, q), abs=1e-12)
    assert float(ad.total_variation(tp, tq)) == pytest.approx(0.7, abs=1e-12)
    disjoint = torch.tensor([1.0, 0.0]).double(), torch.tensor([0.0, 1.0]).double()
    assert float(ad.jsd(*disjoint)) == pytest.approx(math.log(2), abs=1e-9)
    assert float(ad.jsd(tp, tp)) == 0.0


def test_a_model_that_ignores_alpha_reaches_the_largest_jsd_there_is():
    """The output reads h_o alone (c's weights zeroed): every α' keeps p, so the best JSD is the
    largest over all α', which (JSD is convex in α') is at a one-hot α': max_j JSD(α, e_j)."""
    model, x = make(), inputs(64)
    with torch.no_grad():
        model.out.weight[:, :d] = 0
    r = ad.search(model, x)
    ceiling = max(float(ad.jsd(torch.as_tensor(r.alpha), torch.eye(64)[j])) for j in range(64))
    assert ceiling > 0.9 * math.log(2)
    assert r.tv < 1e-5 and r.same_prediction
    assert 0.97 * ceiling <= r.jsd <= ceiling + 1e-6


def test_where_alpha_decides_the_jsd_stays_small_and_matches_a_grid_search():
    """Two tokens, the output reads c = Σ α_i v_i alone, sharpened and centred (z = 0 at the
    model's α, where p moves fastest): α' = (a, 1 − a) has one free number, so the best
    feasible JSD is found by a grid over a, independently."""
    model = make(skip="none", pool_activation="identity")
    x = inputs(2, seed=3)
    with torch.no_grad():
        model.out.weight.mul_(8)
        model.out.bias.sub_(model.trace(x).logits[0])
    r = ad.search(model, x)
    with torch.no_grad():
        t = model.trace(x)
        a = torch.linspace(0, 1, 20001)
        grid = torch.stack([a, 1 - a], dim=-1)  # (G, 2)
        probs = model.trace(x.expand(len(a), -1, -1), alpha_override=grid).probs
        tv = ad.total_variation(probs, t.probs)
        best = float(ad.jsd(t.alpha.expand_as(grid), grid)[tv <= ad.EPSILON].max())
    assert best < 0.02  # attention decides: within ε of p, α' cannot move far
    assert r.tv <= ad.EPSILON + 1e-6
    assert 0.9 * best <= r.jsd <= best + 1e-4


def test_the_found_attention_is_a_distribution_whose_p_is_recomputed_truly():
    model, x = make(seed=2), inputs(12)
    r = ad.search(model, x, epsilon=0.05, steps=40)
    assert r.adversarial.sum() == pytest.approx(1, abs=1e-5) and (r.adversarial >= 0).all()
    with torch.no_grad():
        probs = model.trace(x, alpha_override=torch.as_tensor(r.adversarial)[None]).probs[0]
    assert np.allclose(probs.numpy(), r.adversarial_probs, atol=1e-5)
    assert r.tv == pytest.approx(0.5 * np.abs(probs.numpy() - r.probs).sum(), abs=1e-6)
    assert r.tv <= 0.05 + 1e-6 and 0 <= r.jsd <= math.log(2)
    assert not any(p.grad is not None for p in model.parameters())  # shared weights untouched


def test_bad_inputs_give_clear_messages():
    with pytest.raises(ad.AdversarialError, match="one token"):
        ad.search(make(), inputs(1))
    with pytest.raises(ad.AdversarialError, match="epsilon"):
        ad.search(make(), inputs(3), epsilon=0)


def test_summary_gives_the_distribution_of_the_best_jsd():
    s = ad.AdversarialSummary(jsd=np.array([0.1, 0.2, 0.5, 0.6]), epsilon=0.01, skipped=1)
    block = s.to_dict()
    assert block["quantiles"]["0.5"] == pytest.approx(0.35)
    assert block["share_over_half_ln2"] == 0.5 and block["skipped_one_token"] == 1
    assert "median 0.350" in s.text()
