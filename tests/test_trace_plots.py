"""trace_plots: figures carry exactly the trace's numbers, labels and clickable cells."""

import base64
import json

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from dense_attention import DenseAttention, ModelConfig
from dense_attention.core.toy import toy_example
from dense_attention.figures import heatmaps, trace_plots


@pytest.fixture(scope="module")
def toy():
    return toy_example()


@pytest.fixture(scope="module")
def trace(toy):
    return toy.trace()


def data(fig: go.Figure) -> list[dict]:
    """The figure as the browser gets it (plain JSON)."""
    return json.loads(fig.to_json())["data"]


def z_of(trace: dict) -> np.ndarray:
    """A heatmap's z as the browser decodes it: a list, or float32 binary (token x feature)."""
    z = trace["z"]
    if isinstance(z, dict):
        flat = np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"]))
        return flat.reshape([int(n) for n in str(z["shape"]).split(",")]).astype(float)
    return np.asarray(z, dtype=float)


def test_heatmap_holds_the_matrix_and_duplicate_token_labels(toy, trace):
    fig = trace_plots.attention_heatmap(trace.attn[0], toy.tokens)
    heatmap = data(fig)[0]
    assert heatmap["type"] == "heatmap"
    np.testing.assert_allclose(heatmap["z"], trace.attn[0].numpy(), atol=1e-7)
    assert fig.layout.xaxis.ticktext == toy.tokens == fig.layout.yaxis.ticktext
    assert toy.tokens.count("the") == 2  # two cells per row, both labelled "the"
    assert list(fig.layout.xaxis.tickvals) == list(range(len(toy.tokens)))
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]  # row 1 on top
    assert ":.4f" in heatmap["hovertemplate"]
    assert heatmap["text"][4][1] == "i = 5: the<br>j = 2: cat"
    assert heatmap["texttemplate"]  # values written in the cells of a small matrix


def test_clickable_overlay_has_one_invisible_point_per_cell(toy, trace):
    n = len(toy.tokens)
    fig = trace_plots.attention_heatmap(trace.attn[0], toy.tokens, cell=(1, 2), clickable=True)
    heatmap, overlay = data(fig)
    assert heatmap["hoverinfo"] == "skip" and overlay["type"] == "scatter"
    assert overlay["mode"] == "markers" and overlay["marker"]["opacity"] == 0
    assert len(overlay["customdata"]) == n * n
    for x, y, (i, j) in zip(overlay["x"], overlay["y"], overlay["customdata"], strict=True):
        assert (x, y) == (j, i)
    assert sorted(map(tuple, overlay["customdata"])) == [(i, j) for i in range(n) for j in range(n)]
    (outline,) = fig.layout.shapes
    assert (outline.x0, outline.x1, outline.y0, outline.y1) == (1.5, 2.5, 0.5, 1.5)
    assert fig.layout.clickmode == "event+select"


@pytest.mark.parametrize(
    "call",
    [
        lambda: trace_plots.alpha_bar([0.5, 0.5], ["a"]),
        lambda: trace_plots.alpha_bar([0.5, 0.5], ["a", "b"], pool_scores=[1.0]),
        lambda: trace_plots.probs_bar([0.2, 0.8], ["x", "y", "z"]),
        lambda: trace_plots.vector_strip(np.zeros((2, 4)), "t"),
        lambda: trace_plots.token_shading_html(["a", "b"], [1.0]),
        lambda: trace_plots.token_shading_html(["a"], [-1.0]),
    ],
)
def test_bad_shapes_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_token_shading_escapes_its_tokens():
    html = trace_plots.token_shading_html(["<b>", "a&b", "##ing"], [0.2, 0.8, 0.0])
    assert "&lt;b&gt;" in html and "a&amp;b" in html and "##ing" in html
    assert "<b>" not in html and html.count("<span") == 3


def test_bars_highlight_the_winner_and_the_top_token(toy, trace):
    probs = trace_plots.probs_bar(trace.probs[0], toy.class_names, trace.logits[0])
    bar = data(probs)[0]
    np.testing.assert_allclose(bar["y"], trace.probs[0].numpy(), atol=1e-7)
    winner = int(trace.probs[0].argmax())
    assert bar["marker"]["color"][winner] == heatmaps.HIGHLIGHT
    assert bar["marker"]["color"].count(heatmaps.HIGHLIGHT) == 1
    alpha = data(trace_plots.alpha_bar(trace.alpha[0], toy.tokens, trace.pool_scores[0]))[0]
    np.testing.assert_allclose(alpha["y"], trace.alpha[0].numpy(), atol=1e-7)
    assert "e = " in alpha["hovertext"][0]
    top = [k for k, color in enumerate(alpha["marker"]["color"]) if color == heatmaps.HIGHLIGHT]
    assert top == [0, 4]  # the two "the" tie for the largest weight


def test_trace_figures_match_every_field(toy, trace):
    figs = trace_plots.trace_figures(trace, toy.tokens, toy.class_names, cell=(0, 4))
    assert {"h", "scores", "attn", "values", "alpha", "c", "probs"} <= set(figs)
    expected = {
        "x": trace.x[0],
        "h": trace.h[0],
        "similarity": trace.scores[0] * trace.temperature,
        "scores": trace.scores[0],
        "attn": trace.attn[0],
        "values": trace.values[0],
        "c": trace.c[0][None],
        "h_o": trace.h_o[0][None],
    }
    for key, value in expected.items():
        np.testing.assert_allclose(z_of(data(figs[key])[0]), value.numpy(), atol=1e-6, err_msg=key)
    np.testing.assert_allclose(data(figs["probs"])[0]["y"], trace.probs[0].numpy(), atol=1e-7)
    assert len(figs["attn"].layout.shapes) == 1


def test_unk_tokens_are_labelled_unk_with_their_text_in_every_hover(toy, trace):
    """Axis labels say [UNK]; the hover names the text the model read as [UNK]."""
    tokens = ["[UNK]" if k == 1 else t for k, t in enumerate(toy.tokens)]
    hover = [f"[UNK] ({t})" if k == 1 else t for k, t in enumerate(toy.tokens)]
    figs = trace_plots.trace_figures(trace, tokens, toy.class_names, hover=hover)
    for key in ("x", "h", "similarity", "scores", "attn", "values"):
        fig = figs[key].to_plotly_json()
        assert fig["layout"]["yaxis"]["ticktext"][1] == "[UNK]", key
        if key in ("x", "h", "values"):  # compact: one hover template, the token's index
            assert "i = %{y}" in fig["data"][0]["hovertemplate"], key
            continue
        text = fig["data"][0]["text"]
        assert text[1][0].startswith(f"i = 2: [UNK] ({toy.tokens[1]})"), key
        if key in ("similarity", "scores", "attn"):
            assert fig["layout"]["xaxis"]["ticktext"][1] == "[UNK]", key
            assert f"j = 2: [UNK] ({toy.tokens[1]})" in text[0][1], key
    alpha = figs["alpha"].to_plotly_json()
    assert alpha["layout"]["xaxis"]["ticktext"][1] == "[UNK]"
    assert alpha["data"][0]["hovertext"][1].startswith(f"i = 2: [UNK] ({toy.tokens[1]})")
    plain = trace_plots.trace_figures(trace, toy.tokens, toy.class_names)["attn"].to_plotly_json()
    assert "[UNK]" not in str(plain["data"][0]["text"])  # no hover names: the labels
    with pytest.raises(ValueError, match="hover"):
        trace_plots.attention_heatmap(trace.attn[0], tokens, hover=hover[:-1])


def test_input_x_is_coloured_over_a_robust_range_that_its_colour_bar_states():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.1, size=(6, 400))
    x[0, :3] = [40.0, -55.0, 70.0]  # three outliers among 2,400 values
    fig = trace_plots.input_heatmap(x, [f"t{i}" for i in range(6)], "Input x")
    heatmap = data(fig)[0]
    m = max(abs(np.percentile(x, 2)), abs(np.percentile(x, 98)))
    assert 0.1 < m < 0.3  # the outliers would have stretched the range to ±70
    assert heatmap["zmin"] == pytest.approx(-m) and heatmap["zmax"] == pytest.approx(m)
    title = heatmap["colorbar"]["title"]["text"]
    assert "2nd–98th" in title and "percentile" in title and f"{m:.3g}" in title
    np.testing.assert_allclose(z_of(heatmap), x, rtol=1e-6, atol=1e-6)
    zero = data(trace_plots.input_heatmap(np.zeros((2, 3)), ["a", "b"], "Input x"))[0]
    assert zero["zmid"] == 0 and "colorbar" not in zero  # nothing to scale: the usual colours


def test_trace_figures_x_uses_the_robust_range(toy, trace):
    fig = trace_plots.trace_figures(trace, toy.tokens, toy.class_names)["x"]
    assert data(fig)[0]["zmax"] == pytest.approx(trace_plots.robust_range(trace.x[0]))


def test_trace_figures_crop_padding_and_check_tokens():
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=4, hidden_dim=3, num_classes=2))
    mask = torch.tensor([[True, True, True], [True, True, False]])
    with torch.no_grad():
        trace = model.trace(torch.randn(2, 3, 4), mask)
    figs = trace_plots.trace_figures(trace, ["a", "b"], ["n", "p"], b=1)
    np.testing.assert_allclose(data(figs["attn"])[0]["z"], trace.attn[1, :2, :2].numpy(), atol=1e-7)
    with pytest.raises(ValueError, match="tokens"):
        trace_plots.trace_figures(trace, ["a", "b", "c"], ["n", "p"], b=1)


def test_a_small_attention_heatmap_keeps_its_labels_apart():
    """The sweep grid's 16 patch labels r0c0..r3c3, a third of a page wide, stay apart."""
    tokens = [f"r{r}c{c}" for r in range(4) for c in range(4)]
    fig = trace_plots.small_attention_heatmap(np.full((16, 16), 1 / 16), tokens, "dot → <b>7</b>")
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert len(axis.tickvals) <= trace_plots.SMALL_TICKS_MAX
    assert fig.layout.xaxis.tickangle == 0 and fig.data[0].showscale is False


def test_feature_matrices_go_compact_with_one_hover_template(toy, trace):
    """x, h, v: float32 binary, no string per cell; the hover names i and the component 1-based
    at the cell's own coordinates, and the tick labels sit on those coordinates."""
    figs = trace_plots.trace_figures(trace, toy.tokens, toy.class_names)
    for key in ("x", "h", "values"):
        heatmap = data(figs[key])[0]
        assert isinstance(heatmap["z"], dict) and heatmap["z"]["dtype"] == "f4", key
        assert "text" not in heatmap and "i = %{y}" in heatmap["hovertemplate"], key
        assert (heatmap["x0"], heatmap["y0"], heatmap["dx"], heatmap["dy"]) == (1, 1, 1, 1)
        rows, cols = z_of(heatmap).shape
        layout = figs[key].layout
        assert list(layout.yaxis.tickvals) == list(range(1, rows + 1))
        assert layout.yaxis.ticktext == tuple(toy.tokens)
        assert tuple(layout.xaxis.range) == (0.5, cols + 0.5)
        assert tuple(layout.yaxis.range) == (rows + 0.5, 0.5)  # row 1 on top
    big = trace_plots.input_heatmap(np.ones((15, 384)), [f"t{k}" for k in range(15)], "Input x")
    assert len(big.to_json()) < 50_000  # 4 bytes a cell (base64); ~250 KB with hover strings


def test_token_axes_are_marked_where_token_k_sits(toy, trace):
    """linked.js highlights token k at axis position start + k: the mark must say where each
    figure puts its tokens (rows of x, h, v at y = 1..N; matrices and α bars at 0..N-1)."""
    figs = trace_plots.trace_figures(trace, toy.tokens, toy.class_names)
    n = len(toy.tokens)
    marks = {
        key: fig.layout.meta["dal_link"] for key, fig in figs.items() if fig.layout.meta
    }  # fmt: skip
    assert set(marks) == {"x", "h", "similarity", "scores", "attn", "values", "alpha"}
    for key in ("x", "h", "values"):  # token x feature: rows only, token i at y = i + 1
        assert marks[key] == {"rows": True, "cols": False, "start": 1}
        heat = data(figs[key])[0]
        assert [heat["y0"] + heat["dy"] * k for k in (0, n - 1)] == [1, n]
    for key in ("similarity", "scores", "attn"):
        assert marks[key] == {"rows": True, "cols": True, "start": 0}
        heat = data(figs[key])[0]
        assert heat["x"] == heat["y"] == list(range(n))
    assert marks["alpha"] == {"rows": False, "cols": True, "start": 0}
    assert data(figs["alpha"])[0]["x"] == list(range(n))


def test_the_shaded_tokens_carry_their_index():
    shading = trace_plots.token_shading_html(["a", "<b>"], [0.2, 0.8])
    assert 'data-dal-token="0"' in shading and 'data-dal-token="1"' in shading
    assert "&lt;b&gt;" in shading


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_the_matrix_titles_say_when_they_are_the_mean_of_the_heads(heads):
    torch.manual_seed(0)
    cfg = ModelConfig(input_dim=3, hidden_dim=8, num_classes=2, heads=heads, temperature=0.5)
    model = DenseAttention(cfg).eval()
    trace = model.trace(torch.randn(1, 4, 3), torch.ones(1, 4, dtype=torch.bool))
    figs = trace_plots.trace_figures(trace, list("abcd"), ["n", "p"])
    titles = {k: figs[k].layout.title.text for k in ("similarity", "scores", "attn")}
    for key, title in titles.items():
        assert (f"mean of the {heads} heads" in title) == (heads > 1), (key, title)
    assert "τ = 0.5" in titles["scores"] and "scaled_dot" in titles["similarity"]
    # what they call the mean is the mean: the attention drawn is the heads' mean
    z = np.array(figs["attn"].data[0].z, dtype=float)
    assert np.allclose(z, trace.head_attn[0].mean(0).detach().numpy(), atol=1e-6)
