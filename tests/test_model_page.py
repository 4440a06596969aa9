"""The Model page: every step of the toy model, live similarity and temperature, cell numbers."""

import numpy as np
from pagetest import attention_matrices, figures, latex_text, run

from dense_attention.explain.formulas import fmt_number
from dense_attention.ui import state


def test_model_page_shows_every_step(model_page, toy):
    at = model_page
    assert at.title[0].value == "The model, one formula at a time"
    assert len(at.get("plotly_chart")) == 12  # ten steps, the clickable matrix, its breakdown
    assert len(at.latex) >= 10 + 6
    assert "does not run" in at.info[0].value
    matrices = attention_matrices(at)
    assert len(matrices) == 2
    for matrix in matrices:
        np.testing.assert_allclose(matrix, toy.trace().attn[0].numpy(), atol=1e-7)


def test_model_page_similarity_and_temperature_retrace(model_page, toy):
    at = model_page
    before = attention_matrices(at)[0]
    run(at.selectbox(key=state.TOY_SIMILARITY).set_value("cosine"))
    after = attention_matrices(at)[0]
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, toy.trace("cosine", 1.0).attn[0].numpy(), atol=1e-7)
    run(at.select_slider(key=state.TOY_TEMPERATURE).set_value(0.1))
    np.testing.assert_allclose(
        attention_matrices(at)[0], toy.trace("cosine", 0.1).attn[0].numpy(), atol=1e-7
    )
    assert r"\tau = 0.1" in latex_text(at)
    # the words follow what ran: chart titles and the similarity step's sentence say cosine
    titles = [f["layout"].get("title", {}).get("text", "") for f in figures(at)]
    assert any("Similarity" in t and "cosine" in t for t in titles), titles
    assert not any("scaled_dot" in t for t in titles)


def test_model_page_selected_cell_shows_its_numbers(model_page, toy):
    at = model_page
    at.selectbox(key="cell_i").set_value(4)
    run(at.selectbox(key="cell_j").set_value(1))
    a_ij = float(toy.trace().attn[0, 4, 1])
    text = latex_text(at)
    assert r"a_{5,2}" in text and fmt_number(a_ij) in text
    outline = figures(at)[-2]["layout"]["shapes"][0]  # the panel's matrix, above the breakdown
    assert (outline["x0"], outline["y0"]) == (0.5, 3.5)  # cell (i=5, j=2), 1-based


def test_model_page_names_the_article_and_renders_its_labels(model_page):
    """Issue #16.9 and #16.6: the article was never named; "s(h_i, h_j)" showed raw markdown
    (Streamlit labels are markdown: "_i, h_" turned into italics)."""
    at = model_page
    note = at.info[0].value
    assert "the Chinese article on combining a dense layer with an attention mechanism" in note
    assert "does not run" in note and "`matmul(a, h)`" in note
    label = at.selectbox(key=state.TOY_SIMILARITY).label
    assert label == "Similarity $s(h_i, h_j)$"  # KaTeX in a label: no stray italics


def test_about_names_the_article_and_says_what_its_code_gets_wrong():
    from pagetest import open_page

    at = open_page("views/about.py")
    text = "\n".join(m.value for m in at.markdown)
    assert "The source is the Chinese article on combining a dense layer" in text
    assert "In one line: its sample code does not run" in text
