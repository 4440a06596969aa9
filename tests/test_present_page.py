"""The Present page: one step per slide, Next / Previous, text and image inputs."""

import html

import numpy as np
import pytest
from pagetest import (
    ATOL,
    EXAMPLE,
    attention_matrices,
    latex_text,
    open_page,
    run,
    slide_counter,
    titled,
    z,
)
from streamlit.testing.v1 import AppTest

from dense_attention import ui


@pytest.fixture
def present_page() -> AppTest:
    return open_page("views/present.py")


def test_present_page_opens_on_the_input_slide(present_page, text_model):
    at = present_page
    assert at.session_state[ui.SLIDE] == 0
    assert at.title[0].value == "1 · The input"
    assert "Slide 1 of 8" in slide_counter(at)
    assert at.button(key="slide_previous").disabled and not at.button(key="slide_next").disabled
    tokens = text_model.explain(EXAMPLE).tokens
    chips = " ".join(el.proto.body for el in at.get("html"))
    assert all(f"{html.escape(t)}</span>" in chips for t in tokens)
    assert r"x_i \in" in latex_text(at)
    (x_fig,) = titled(at, "Input x")
    assert x_fig["layout"]["yaxis"]["ticktext"] == tokens
    assert at.expander[0].label == "Speaker notes"


def test_present_page_next_and_previous_move_one_slide(present_page, text_model):
    at = run(present_page.button(key="slide_next").click())
    assert at.session_state[ui.SLIDE] == 1 and "Slide 2 of 8" in slide_counter(at)
    assert at.title[0].value == "2 · A dense layer"
    assert "h_i = " in latex_text(at) and not at.button(key="slide_previous").disabled
    (h_fig,) = titled(at, "Dense layer")
    expected = text_model.explain(EXAMPLE).trace.h[0].cpu().numpy()
    np.testing.assert_allclose(z(h_fig), expected, atol=ATOL)
    at = run(at.button(key="slide_previous").click())
    assert at.session_state[ui.SLIDE] == 0 and at.title[0].value == "1 · The input"


def test_present_page_last_slide_and_out_of_range_index(present_page, text_model):
    at = present_page
    at.session_state[ui.SLIDE] = 99  # e.g. from a shared URL: clamped to the last slide
    at = run(at)
    assert at.session_state[ui.SLIDE] == 7 and "Slide 8 of 8" in slide_counter(at)
    assert at.button(key="slide_next").disabled and not at.button(key="slide_previous").disabled
    assert "softmax" in latex_text(at)
    explanation = text_model.explain(EXAMPLE)
    winner = explanation.classes[int(explanation.trace.probs[0].argmax())]
    assert any(f"Prediction: **{winner}**" in m.value for m in at.markdown)


def test_present_page_follows_the_sentence_and_the_settings(present_page, text_model):
    at = run(present_page.text_input(key="present_sentence").set_value("Worst service ever"))
    at.session_state[ui.SLIDE] = 3
    at = run(at.selectbox(key=ui.SIMILARITY_WIDGET).set_value("cosine"))
    (attn,) = attention_matrices(at)
    expected = text_model.explain("Worst service ever", similarity="cosine").trace.attn[0]
    np.testing.assert_allclose(attn, expected.cpu().numpy(), atol=ATOL)
    assert at.session_state[ui.SENTENCE] == "Worst service ever"  # the text page shows it too


def test_present_page_switches_to_an_image(present_page):
    at = run(present_page.radio(key="present_source").set_value("Image"))
    assert at.title[0].value == "1 · The input"
    assert titled(at, "The 8×8 input, cut into")  # the picture with its patch grid
    options = at.selectbox(key=ui.PRESENT_PHOTO).options
    assert options[0].startswith("test 1 · ") and "coffee" in options  # its dataset's pictures
    assert at.selectbox(key=ui.PRESENT_PHOTO).value == options[0]
    at = run(at.selectbox(key=ui.PRESENT_PHOTO).set_value("coffee"))
    at = run(at.button(key="slide_next").click())
    assert "Slide 2 of 8" in slide_counter(at) and titled(at, "Dense layer")
