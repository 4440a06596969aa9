"""figures.head_plots: the head view draws one line per weight >= LINE_MIN of every head."""

import numpy as np
import pytest

from dense_attention.figures import head_plots


def _attention(heads=3, n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(n, 0.3), size=(heads, n))  # (H, N, N), peaked rows


def test_one_line_per_weight_over_the_floor_in_its_head_colour():
    a = _attention()
    fig = head_plots.head_view(a, ["a", "b", "c", "d", "<b>e</b>"])
    lines = [t for t in fig.data if t.mode == "lines"]
    for k in range(3):
        mine = [t for t in lines if t.legendgroup == f"head{k}"]
        assert {t.line.color for t in mine} == {head_plots.head_colour(k)}
        assert sum(t.showlegend for t in mine) == 1  # one legend entry per head
        drawn = sorted(
            (-t.y[s], -t.y[s + 1], float(t.hovertext[s].split("= ")[1]))
            for t in mine for s in range(0, len(t.x), 3)
        )  # fmt: skip
        want = sorted((i, j, round(a[k, i, j], 3)) for i, j in np.argwhere(a[k] >= 0.05))
        assert [(i, j) for i, j, _ in drawn] == [(i, j) for i, j, _ in want]
        assert np.allclose([w for *_, w in drawn], [w for *_, w in want], atol=1e-3)
    # stronger bands are more opaque and wider; the legend swatch is the strongest
    head0 = [t for t in lines if t.legendgroup == "head0"]
    assert [t.opacity for t in head0] == sorted(t.opacity for t in head0)
    labels = [t for t in fig.data if t.mode == "markers+text"]
    assert list(labels[0].text) == ["a", "b", "c", "d", "&lt;b&gt;e&lt;/b&gt;"]  # escaped


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(H, N, N\)"):
        head_plots.head_view(np.ones((3, 4)), list("abc"))
    with pytest.raises(ValueError, match="labels"):
        head_plots.head_view(_attention(), list("abc"))
