"""export: PNG through kaleido and chromium, standalone HTML, CSV and JSON that round-trip."""

import dataclasses
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dense_attention.core.toy import toy_example
from dense_attention.explain.formulas import STEP_KEYS
from dense_attention.figures import export, trace_plots
from dense_attention.inputs.classifier import Explanation

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def explanation() -> Explanation:
    toy = toy_example()
    return Explanation(toy.trace("cosine", 0.5), list(toy.tokens), 0, toy.class_names)


@pytest.fixture(scope="module")
def attention_figure(explanation):
    return trace_plots.attention_heatmap(explanation.trace.attn[0], explanation.tokens)


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
    data = export.figure_png(trace_plots.probs_bar([0.2, 0.8], ["no", "yes"]))
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


# Tokens long enough to need a wide left margin; Streamlit's plotly template (the app's default,
# set when streamlit is imported) does not grow margins to fit tick labels, plotly's does.
LONG_TOKENS = ["[CLS]", "photosynthesis", "un", "##believ", "##ably", "quick", "[SEP]"]
ABOUT = export.Provenance("bbc-topics", "cosine", 0.5, "mean", "un ##believ <b>")
TICK = re.compile(
    r'<g class="(?P<axis>[xy])tick"><text text-anchor="(?P<anchor>\w+)" x="(?P<x>[\d.]+)" '
    r'y="(?P<y>[\d.]+)"[^>]*?translate\((?P<tx>[\d.]+),(?P<ty>[\d.]+)\)[^>]*>(?P<label>[^<]*)<'
)


@pytest.fixture
def app_template():
    """Figures made as the app makes them: under Streamlit's default plotly template."""
    import plotly.io as pio
    from streamlit.elements.lib.streamlit_plotly_theme import configure_streamlit_plotly_theme

    before = pio.templates.default
    configure_streamlit_plotly_theme()
    yield
    pio.templates.default = before


@pytest.fixture
def long_figure(app_template):
    n = len(LONG_TOKENS)
    return trace_plots.attention_heatmap(np.full((n, n), 1 / n), LONG_TOKENS)


def test_svg_keeps_every_token_label_inside_and_says_what_made_it(long_figure):
    svg = export.figure_svg(long_figure, about=ABOUT).decode()
    width, height = (
        float(re.search(rf'<svg[^>]* {d}="([\d.]+)"', svg)[1]) for d in ("width", "height")
    )
    ticks = [m.groupdict() for m in TICK.finditer(svg)]
    rows = [t for t in ticks if t["axis"] == "y"]
    cols = [t for t in ticks if t["axis"] == "x"]
    assert [t["label"] for t in rows] == [t["label"] for t in cols] == LONG_TOKENS
    for t in rows:  # right-aligned at x: the label's left end must be inside the image
        assert t["anchor"] == "end"
        assert float(t["x"]) + float(t["tx"]) - 0.45 * 12 * len(t["label"]) >= 0, t
    for t in cols:
        assert 0 < float(t["y"]) + float(t["ty"]) <= height - 2, t
        assert 0 < float(t["tx"]) < width
    assert "model bbc-topics · similarity cosine · τ = 0.5 · pooling mean" in svg  # subtitle
    assert "<dal:model>bbc-topics</dal:model>" in svg and "<dal:text>un ##believ &lt;b&gt;" in svg


def test_png_has_row_labels_in_its_left_margin_and_settings_in_its_metadata(long_figure):
    image = Image.open(io.BytesIO(export.figure_png(long_figure, about=ABOUT)))
    pixels = np.asarray(image.convert("L"), dtype=float)
    ink = pixels < 200
    assert not ink[:, :4].any()  # nothing cut at the left edge
    plot_left = int(np.argmax(ink[pixels.shape[0] // 2]))  # first ink on the middle row
    assert plot_left > 60  # "photosynthesis" sits left of the matrix, whole
    assert ink[-40:-4, plot_left:].any()  # the column labels are under the matrix
    assert image.text["model"] == "bbc-topics" and image.text["similarity"] == "cosine"
    assert image.text["temperature"] == "0.5" and image.text["pooling"] == "mean"


def test_trace_json_names_the_model_settings_and_input(explanation):
    document = json.loads(export.trace_json(explanation, about=ABOUT))
    assert document["model"] == "bbc-topics" and document["input"] == "un ##believ <b>"
    assert document["settings"] == {"similarity": "cosine", "temperature": 0.5, "pooling": "mean"}


def test_walkthrough_html_inlines_plotly_once(attention_figure):
    bar = trace_plots.probs_bar([0.2, 0.8], ["no", "yes"])
    page = export.figures_html([("Attention", attention_figure), ("Output", bar)], "Walk", ABOUT)
    assert page.count("Plotly.newPlot") == 2  # both charts
    single = len(export.figure_html(attention_figure))
    assert len(page) < 1.2 * single  # plotly.js (~4.8 MB) once, not twice
    assert '<meta name="dal:model" content="bbc-topics">' in page
    assert "un ##believ &lt;b&gt;" in page and '<script src="http' not in page


def test_exports_carry_the_inputs_verdict_escaped(explanation, attention_figure):
    about = dataclasses.replace(ABOUT, verdict="The pooling α decides: <b>−0.19</b>.")
    assert json.loads(export.trace_json(explanation, about=about))["verdict"] == about.verdict
    assert "verdict" not in json.loads(export.trace_json(explanation, about=ABOUT))
    page = export.figures_html([("Attention", attention_figure)], "Walk", about)
    assert "<p>The pooling α decides: &lt;b&gt;−0.19&lt;/b&gt;.</p>" in page
    assert about.fields()["verdict"] == about.verdict  # PNG text chunks, SVG and HTML meta


@pytest.mark.parametrize(
    ("name", "stem"),
    [("digits #1", "digits-1"), ("digits #2 (stopped in epoch 1)", "digits-2-stopped-in-epoch-1"),
     ("../../etc/passwd", "etc-passwd"), ("###", "model"), ("bbc-topics_v2.1", "bbc-topics_v2.1")],
)  # fmt: skip
def test_file_stem_is_safe_on_every_file_system(name, stem):
    assert export.file_stem(name) == stem
