"""heatmaps: a matrix is drawn as its caller's mode says, with its labels, escaped."""

import json

import numpy as np
import plotly.graph_objects as go
import pytest
from pagetest import decode

from dense_attention.figures import heatmaps


def data(fig: go.Figure) -> list[dict]:
    """The figure as the browser gets it (plain JSON)."""
    return json.loads(fig.to_json())["data"]


def test_large_matrices_drop_cell_text_and_thin_the_ticks():
    big = heatmaps.matrix_heatmap(
        np.zeros((13, 13)), list("abcdefghijklm"), list("abcdefghijklm"), "t"
    )
    assert big.data[0].texttemplate is None
    long = [f"t{k}" for k in range(200)]
    fig = heatmaps.matrix_heatmap(np.zeros((200, 3)), ["a", "b", "c"], long, "t")
    assert len(fig.layout.yaxis.ticktext) <= heatmaps.TICKS_MAX
    assert fig.layout.yaxis.ticktext[1] == long[fig.layout.yaxis.tickvals[1]]


@pytest.mark.parametrize(
    "call",
    [
        lambda: heatmaps.matrix_heatmap(np.zeros((3, 3)), ["a", "b"], ["a", "b", "c"], "t"),
        lambda: heatmaps.matrix_heatmap(np.zeros((3, 2)), ["a", "b"], ["a", "b"], "t"),
        lambda: heatmaps.matrix_heatmap(np.zeros((2, 2, 2)), ["a", "b"], ["a", "b"], "t"),
    ],
)
def test_bad_shapes_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_labels_and_html_are_escaped():
    fig = heatmaps.matrix_heatmap(np.eye(2), ["<b>", "x"], ["<b>", "x"], "t")
    assert fig.layout.xaxis.ticktext[0] == "&lt;b&gt;"
    assert "&lt;b&gt;" in fig.data[0].text[0][0]
    assert heatmaps.escape_label("<a href='x'>t</a>") == "&lt;a href='x'&gt;t&lt;/a&gt;"


def test_the_mode_not_the_hover_label_chooses_how_a_matrix_is_drawn():
    """FEATURES: float32 binary z at 1-based coordinates with one hover template; LABELLED: a
    hover text per cell, whatever the columns are called in the hover."""
    z = np.arange(6, dtype=float).reshape(2, 3) / 7
    rows, cols = ["a", "b"], ["1", "2", "3"]
    compact = heatmaps.matrix_heatmap(z, cols, rows, "t", mode=heatmaps.HeatmapMode.FEATURES)
    (heatmap,) = data(compact)
    assert heatmap["z"]["dtype"] == "f4" and "text" not in heatmap
    np.testing.assert_allclose(decode(heatmap["z"]), z, rtol=1e-6)
    assert (heatmap["x0"], heatmap["y0"]) == (1, 1) and "i = %{y}" in heatmap["hovertemplate"]
    assert list(compact.layout.xaxis.tickvals) == [1, 2, 3]
    kw = dict(col_name="component")
    labelled = heatmaps.matrix_heatmap(z, cols, rows, "t", **kw)  # LABELLED by default
    (heatmap,) = data(labelled)
    np.testing.assert_allclose(heatmap["z"], z)
    assert heatmap["text"][1][2] == "i = 2: b<br>component = 3: 3"
    assert list(labelled.layout.xaxis.tickvals) == [0, 1, 2]


def test_a_clickable_matrix_must_be_labelled():
    features = heatmaps.HeatmapMode.FEATURES
    with pytest.raises(ValueError, match="clickable"):
        heatmaps.matrix_heatmap(
            np.eye(2), ["1", "2"], ["a", "b"], "t", clickable=True, mode=features
        )
    with pytest.raises(ValueError, match="clickable"):
        heatmaps.matrix_heatmap(np.zeros((65, 65)), ["x"] * 65, ["y"] * 65, "t", clickable=True)
