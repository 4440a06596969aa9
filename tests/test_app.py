"""The app under streamlit.testing: it runs, and the model page shows the library's numbers."""

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dense_attention.formulas import fmt_number, toy_example

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module")
def toy():
    return toy_example()


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def attention_matrices(at: AppTest) -> list[np.ndarray]:
    """z of every attention heatmap on the page, as the browser would receive it."""
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return [
        np.array(spec["data"][0]["z"])
        for spec in specs
        if spec["layout"]["title"]["text"].startswith("Attention a")
    ]


def test_model_page_shows_every_step(at, toy):
    assert at.title[0].value == "The model, one formula at a time"
    assert len(at.get("plotly_chart")) == 11  # ten steps + the clickable attention matrix
    assert len(at.latex) >= 10 + 6
    assert "does not run" in at.info[0].value
    matrices = attention_matrices(at)
    assert len(matrices) == 2
    for z in matrices:
        np.testing.assert_allclose(z, toy.trace().attn[0].numpy(), atol=1e-7)


def test_similarity_and_temperature_retrace(at, toy):
    before = attention_matrices(at)[0]
    at.selectbox(key="similarity").set_value("cosine").run()
    after = attention_matrices(at)[0]
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, toy.trace("cosine", 1.0).attn[0].numpy(), atol=1e-7)
    at.select_slider(key="temperature").set_value(0.1).run()
    assert not at.exception
    np.testing.assert_allclose(
        attention_matrices(at)[0], toy.trace("cosine", 0.1).attn[0].numpy(), atol=1e-7
    )
    assert any(r"\tau = 0.1" in latex.value for latex in at.latex)


def test_selected_cell_shows_its_numbers(at, toy):
    at.selectbox(key="cell_i").set_value(4)
    at.selectbox(key="cell_j").set_value(1).run()
    assert not at.exception
    a_ij = float(toy.trace().attn[0, 4, 1])
    text = "\n".join(latex.value for latex in at.latex)
    assert r"a_{5,2}" in text and fmt_number(a_ij) in text
    outline = json.loads(at.get("plotly_chart")[-1].proto.spec)["layout"]["shapes"][0]
    assert (outline["x0"], outline["y0"]) == (0.5, 3.5)  # cell (i=5, j=2), 1-based
