"""Shareable views: a link restores the sentence, model, settings, slide and picture."""

import numpy as np
from pagetest import APP, ATOL, attention_matrices, run, slide_counter
from streamlit.testing.v1 import AppTest

from dense_attention import ui
from dense_attention.formulas import SIMILARITIES


def shared(**params: str) -> AppTest:
    """The app opened from a link with these query parameters."""
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    return run(at)


def test_a_shared_link_restores_sentence_model_and_settings(text_model):
    name = next(n for n, c in ui.checkpoints().items() if c.kind == "text")
    at = shared(text="Voters head to the polls", model=name, similarity="dot",
                temperature="0.5", pooling="mean")  # fmt: skip
    assert at.text_area(key=ui.SENTENCE_WIDGET).value == "Voters head to the polls"
    assert at.selectbox(key=ui.MODEL_WIDGET).value == name
    assert at.selectbox(key=ui.SIMILARITY_WIDGET).value == "dot"
    assert at.select_slider(key=ui.TEMPERATURE_WIDGET).value == 0.5
    assert at.radio(key=ui.POOLING_WIDGET).value == "mean"
    expected = text_model.explain("Voters head to the polls", similarity="dot", temperature=0.5,
                                  pooling="mean").trace.attn[0]  # fmt: skip
    np.testing.assert_allclose(attention_matrices(at)[0], expected.cpu().numpy(), atol=ATOL)


def test_the_view_is_written_into_the_url(text_page):
    at = run(text_page.text_area(key=ui.SENTENCE_WIDGET).set_value("Shares fell"))
    at = run(at.selectbox(key=ui.SIMILARITY_WIDGET).set_value("cosine"))
    params = dict(at.query_params)
    flat = {k: v[0] if isinstance(v, list) else v for k, v in params.items()}
    assert flat["text"] == "Shares fell" and flat["similarity"] == "cosine"
    assert flat["model"] == at.selectbox(key=ui.MODEL_WIDGET).value and "temperature" in flat


def test_a_shared_link_opens_the_same_slide_and_picture():
    photo = "coffee"
    at = shared(slide="3", input="image", image=photo)
    at = run(at.switch_page("views/present.py"))
    assert "Slide 3 of 8" in slide_counter(at) and at.title[0].value.startswith("3 ·")
    assert at.radio(key=ui.PRESENT_SOURCE).value == "Image"
    assert at.selectbox(key=ui.PRESENT_PHOTO).value == photo


def test_a_link_with_bad_values_opens_the_defaults(text_model):
    at = shared(model="no-such-model", similarity="manhattan", temperature="nan", slide="x",
                image="../../etc/passwd", input="video")  # fmt: skip
    assert not at.error and at.selectbox(key=ui.SIMILARITY_WIDGET).value in SIMILARITIES
    name = next(n for n, c in ui.checkpoints().items() if c.kind == "text")
    at = shared(model=name, temperature="1e-40")  # NaN-prone: outside the slider's range
    assert not at.error and not at.exception
    assert at.select_slider(key=ui.TEMPERATURE_WIDGET).value == text_model.config.model.temperature
    at = run(at.switch_page("views/present.py"))
    assert "Slide 1 of 8" in slide_counter(at)
