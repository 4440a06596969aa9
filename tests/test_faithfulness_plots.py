"""faithfulness_plots: the figures show the analysis' own numbers."""

import numpy as np
import pytest
import torch

from dense_attention import DenseAttention, ModelConfig
from dense_attention.explain import adversarial
from dense_attention.explain import faithfulness as fa
from dense_attention.figures.faithfulness_plots import (
    adversarial_bars,
    deletion_chart,
    eraser_chart,
    importance_bars,
    tau_heatmap,
)


@pytest.fixture(scope="module")
def result():
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=4, hidden_dim=6, num_classes=3)).eval()
    x = torch.randn(1, 5, 4)
    return fa.analyze_features(model, x, tokens=["a", "<b>", "c", "d", "e"], ig_steps=8)


def test_importance_bars_scale_each_method_and_keep_raw_scores(result):
    fig = importance_bars(result)
    assert len(fig.data) == len(fa.METHODS)
    for bar, method in zip(fig.data, fa.METHODS, strict=True):
        raw = result.importance[method]
        np.testing.assert_allclose(bar.customdata, raw)
        top = np.abs(raw).max()
        np.testing.assert_allclose(bar.x, raw / top if top > 0 else raw)
        assert np.abs(bar.x).max() <= 1.0 + 1e-9
    assert "2 &lt;b&gt;" in fig.layout.yaxis.ticktext  # tokens are shown as text, not HTML


def test_tau_heatmap_is_the_symmetric_tau_matrix(result):
    z = np.array(tau_heatmap(result).data[0].z, dtype=float)
    assert z.shape == (5, 5)
    np.testing.assert_allclose(np.diag(z), 1.0)
    np.testing.assert_allclose(z, z.T, equal_nan=True)
    tau = result.kendall[("alpha", "occlusion")]
    i, j = fa.METHODS.index("alpha"), fa.METHODS.index("occlusion")
    assert (tau is None and np.isnan(z[i, j])) or z[i, j] == pytest.approx(tau)


def test_deletion_chart_has_one_curve_per_order_with_its_aopc(result):
    fig = deletion_chart(result)
    assert len(fig.data) == len(result.deletion)
    for line, curve in zip(fig.data, result.deletion.values(), strict=True):
        np.testing.assert_allclose(line.y, curve.probs)
        assert f"AOPC {curve.aopc:.2f}" in line.name
        assert line.y[0] == pytest.approx(result.probs[result.predicted], abs=1e-6)


def test_eraser_chart_draws_each_methods_comprehensiveness_and_sufficiency(result):
    fig = eraser_chart(result.eraser)
    methods = list(result.eraser.comprehensiveness)
    assert len(fig.data) == 2 * len(methods) == 12
    for k, method in enumerate(methods):
        comp, suff = fig.data[2 * k], fig.data[2 * k + 1]
        np.testing.assert_allclose(comp.y, result.eraser.comprehensiveness[method])
        np.testing.assert_allclose(suff.y, result.eraser.sufficiency[method])
        aopc = result.eraser.aopc_comprehensiveness[method]
        assert f"AOPC {aopc:.2f}" in comp.name and comp.showlegend and not suff.showlegend
    assert list(fig.data[0].x) == ["1%", "5%", "10%", "20%", "50%"]


def test_adversarial_bars_show_both_alphas_and_the_jsd():
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=4, hidden_dim=6, num_classes=3)).eval()
    found = adversarial.search(model, torch.randn(1, 3, 4), steps=10)
    fig = adversarial_bars(("a", "<b>", "c"), found)
    np.testing.assert_allclose(fig.data[0].y, found.alpha)
    np.testing.assert_allclose(fig.data[1].y, found.adversarial)
    assert f"JSD {found.jsd:.3f}" in fig.layout.title.text
    assert "2 &lt;b&gt;" in fig.layout.xaxis.ticktext
