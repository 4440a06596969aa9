"""export: PNG through kaleido and chromium, standalone HTML, CSV and JSON that round-trip."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dense_attention import export, plots
from dense_attention.classifier import Explanation
from dense_attention.formulas import STEP_KEYS
from dense_attention.toy import toy_example

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def explanation() -> Explanation:
    toy = toy_example()
    return Explanation(toy.trace("cosine", 0.5), list(toy.tokens), 0, toy.class_names)


@pytest.fixture(scope="module")
def attention_figure(explanation):
    return plots.attention_heatmap(explanation.trace.attn[0], explanation.tokens)


def test_png_is_a_valid_image_of_the_requested_size(attention_figure):
    data = export.figure_png(attention_figure, width=400, scale=2.0)
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.verify()
    height = attention_figure.layout.height  # the figure's own height when none is asked
    assert Image.open(io.BytesIO(data)).size == (800, 2 * height)


def test_png_export_is_fast_once_the_server_runs(attention_figure):
    import time

    export.figure_png(attention_figure)  # starts kaleido's server if no test did yet
    start = time.perf_counter()
    data = export.figure_png(plots.probs_bar([0.2, 0.8], ["no", "yes"]))
    assert time.perf_counter() - start < 3.0  # ~0.3 s; a fresh chromium each time takes ~4 s
    assert Image.open(io.BytesIO(data)).size == (export.PNG_WIDTH, 300)


def test_html_is_standalone_and_holds_the_data(attention_figure):
    page = export.figure_html(attention_figure)  # ~5 MB: assert on facts, not on the page
    is_document = page.lstrip().lower().startswith("<!doctype html>")
    loads_remote_script = '<script src="http' in page or "<script src='http" in page
    assert is_document and page.rstrip().endswith("</html>")
    assert not loads_remote_script and "Plotly.newPlot" in page  # plotly.js inlined: offline
    assert len(page) > 1_000_000
    z = json.loads(attention_figure.to_json())["data"][0]["z"]
    holds_numbers = all(json.dumps(value) in page for value in z[1])  # numbers, not base64
    assert '"type":"heatmap"' in page and holds_numbers


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), index_col=0)


def test_matrix_csv_round_trips_with_pandas():
    matrix = np.array([[0.125, -2.5, 3.0], [1e-9, 7.0, 0.3333333333]])
    frame = read_csv(export.matrix_csv(matrix, ["r1", "r2"], ["a", "b", "c"], "row"))
    assert list(frame.index) == ["r1", "r2"] and list(frame.columns) == ["a", "b", "c"]
    assert frame.index.name == "row"
    np.testing.assert_array_equal(frame.to_numpy(), matrix)  # full precision
    vector = read_csv(export.matrix_csv([1.0, 2.0], ["x", "y"], ["value"]))
    np.testing.assert_array_equal(vector["value"].to_numpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match="labels"):
        export.matrix_csv(matrix, ["r1"], ["a", "b", "c"])


@pytest.mark.parametrize("key", STEP_KEYS)
def test_step_csv_holds_each_figures_numbers(explanation, key):
    frame = read_csv(export.step_csv(explanation, key))
    t = explanation.trace.numpy()
    labels = export.token_labels(explanation.tokens)
    expected = {
        "x": t["x"][0],
        "h": t["h"][0],
        "similarity": t["scores"][0] * explanation.trace.temperature,
        "scores": t["scores"][0],
        "attn": t["attn"][0],
        "values": t["values"][0],
        "alpha": np.stack([t["pool_scores"][0], t["alpha"][0]], axis=1),
        "c": np.stack([t["pooled"][0], t["c"][0]], axis=1),
        "h_o": t["h_o"][0][:, None],
        "probs": np.stack([t["logits"][0], t["probs"][0]], axis=1),
    }[key]
    np.testing.assert_allclose(frame.to_numpy(), expected, rtol=1e-6, atol=1e-7)
    if key in ("similarity", "scores", "attn"):
        assert list(frame.index) == labels == list(frame.columns)  # unique: "the" twice
    if key == "probs":
        assert list(frame.index) == list(explanation.classes)


def test_token_labels_are_unique():
    assert export.token_labels(["the", "cat", "the"]) == ["1:the", "2:cat", "3:the"]


def test_trace_json_parses_to_the_trace(explanation):
    document = json.loads(export.trace_json(explanation))
    assert document["tokens"] == explanation.tokens
    assert document["classes"] == list(explanation.classes)
    assert document["truncated"] == 0
    trace = explanation.trace.numpy()
    for name, shape in explanation.trace.shapes().items():
        assert document["shapes"][name] == list(shape)
        np.testing.assert_allclose(np.array(document["trace"][name], dtype=float), trace[name])
    assert document["trace"]["similarity"] == "cosine"
    assert document["trace"]["temperature"] == 0.5


FORMULA = '=HYPERLINK("http://example.com","pwn")'


def test_matrix_csv_neutralises_formula_labels_but_keeps_numbers():
    text = export.matrix_csv(np.array([[-1.5], [2.0]]), [FORMULA, "@SUM(A1)"], ["-x"], "class")
    frame = pd.read_csv(io.StringIO(text), index_col=0)
    assert list(frame.index) == [f"'{FORMULA}", "'@SUM(A1)"]
    assert list(frame.columns) == ["'-x"]
    assert frame.iloc[:, 0].tolist() == [-1.5, 2.0]  # a negative number is not a formula


def test_safe_csv_neutralises_every_formula_start_in_string_cells_only():
    starts = ["=1+1", "+1", "-1", "@A1", "\tx", "ok", "a=b"]
    frame = pd.DataFrame({"name": starts, "score": [-1.0] * len(starts), "n": [-3] * len(starts)})
    back = pd.read_csv(io.StringIO(export.safe_csv(frame)), keep_default_na=False)
    assert back["name"].tolist() == [f"'{s}" for s in starts[:5]] + ["ok", "a=b"]
    assert back["score"].tolist() == [-1.0] * len(starts)
    assert back["n"].tolist() == [-3] * len(starts)
    assert export.neutralise_cell("\r=1") == "'\r=1"


def test_step_csv_of_probs_neutralises_a_formula_class_name(explanation):
    crafted = Explanation(
        explanation.trace, explanation.tokens, 0, (FORMULA, *explanation.classes[1:])
    )
    assert f"'{FORMULA}" in export.step_csv(crafted, "probs").replace('""', '"')
