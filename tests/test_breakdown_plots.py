"""figures.breakdown_plots: the parts' bars sum to the score; the query–key map's traces."""

import numpy as np
import pytest
import torch

from dense_attention.explain.breakdown import ScoreBreakdown
from dense_attention.explain.query_key_map import QueryKeyMap
from dense_attention.figures import breakdown_plots as bp


def test_the_bars_are_the_parts_sorted_and_sum_to_the_score():
    parts = torch.tensor([0.5, -2.0, 1.25, 0.0], dtype=torch.float64)
    found = ScoreBreakdown(1, 0, "dot", 0.5, parts, ("", "position", "", ""))
    fig = bp.breakdown_figure(found, ["<b>x</b>", "y"])
    bar = fig.data[0]
    assert list(bar.x) == ["3", "1", "4", "2"] and list(bar.y) == [1.25, 0.5, 0.0, -2.0]
    assert sum(bar.y) == pytest.approx(float(parts.sum())) == fig.layout.meta["score"]
    assert "s<sub>2,1</sub> = Σ parts = -0.250" in fig.layout.title.text
    assert "&lt;b&gt;" in fig.layout.title.text  # a token is text, not markup
    assert "dimension 2 (position)" in bar.hovertext[-1]
    assert list(bar.marker.color) == [bp.POSITIVE, bp.POSITIVE, bp.POSITIVE, bp.NEGATIVE]


def _map(m=7, n=3) -> QueryKeyMap:
    rng = np.random.default_rng(0)
    return QueryKeyMap(
        "bilinear", rng.normal(size=(m, 2)), rng.normal(size=(m, 2)), tuple("abcdefg"[:m]),
        tuple(f"text {k}" for k in range(m)), rng.normal(size=(n, 2)), rng.normal(size=(n, 2)),
        np.array([0.3, 0.2]), "7 test texts",
    )  # fmt: skip


def test_the_map_draws_sample_and_current_queries_and_keys():
    found = _map()
    fig = bp.query_key_figure(found, ["[CLS]", "hi", "[SEP]"])
    names = [t.name for t in fig.data]
    assert names == ["query (sample)", "key (sample)", "query (this input)", "key (this input)"]
    np.testing.assert_allclose(fig.data[0].x, found.queries[:, 0])
    np.testing.assert_allclose(fig.data[3].y, found.current_keys[:, 1])
    assert list(fig.data[2].text) == ["[CLS]", "hi", "[SEP]"]
    assert "text 4" in fig.data[1].hovertext[4] and "key of 'e'" in fig.data[1].hovertext[4]
    assert "30% of the spread" in fig.layout.xaxis.title.text
    with pytest.raises(ValueError):
        bp.query_key_figure(found, ["only one"])


def test_the_map_links_this_inputs_points_to_the_attention_matrix():
    found = _map()
    attn = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.0, 0.3, 0.7]])
    fig = bp.query_key_figure(found, ["[CLS]", "hi", "[SEP]"], attn)
    link = fig.layout.meta["dal_link"]
    assert fig.data[link["points"]["query"]].name == "query (this input)"
    assert fig.data[link["points"]["key"]].name == "key (this input)"
    assert list(fig.data[2].customdata) == list(fig.data[3].customdata) == [0, 1, 2]
    np.testing.assert_allclose(link["attn"], attn)
    assert bp.query_key_figure(found, ["[CLS]", "hi", "[SEP]"]).layout.meta is None
    with pytest.raises(ValueError):
        bp.query_key_figure(found, ["[CLS]", "hi", "[SEP]"], attn[:2])


def test_a_heads_bars_are_named_by_their_index_in_h_and_the_title_names_the_head():
    parts = torch.tensor([0.25, -1.0, 2.0], dtype=torch.float64)
    found = ScoreBreakdown(0, 2, "scaled_dot", 1.0, parts, head=2, heads=4)  # h has 12 dims
    fig = bp.breakdown_figure(found, ["a", "b", "c"])
    assert list(fig.data[0].x) == ["9", "7", "8"]  # head 3's dimensions 7..9 of h
    assert sum(fig.data[0].y) == pytest.approx(1.25) == fig.layout.meta["score"]
    title = fig.layout.title.text
    assert title.startswith("s<sup>3</sup><sub>1,3</sub> = Σ parts = 1.250")
    assert "head 3 of 4" in title and fig.layout.meta["head"] == 2
    assert "dimension 8" in fig.data[0].hovertext[-1]
    assert fig.layout.xaxis.title.text == "dimension (head 3's 3, sorted)"
