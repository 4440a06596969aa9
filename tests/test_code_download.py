"""The "Download the model as PyTorch code" button: on every page with a model, its help words
made from the loaded model's trained config."""

from __future__ import annotations

import pytest
from pagetest import open_page, run
from streamlit.testing.v1 import AppTest

from dense_attention.ui import state

LABEL = "Download the model as PyTorch code"


def _buttons(at: AppTest) -> list:
    return [b for b in at.get("download_button") if b.proto.label == LABEL]


def test_the_text_page_offers_its_model_as_code_with_true_words(text_page, text_model):
    found = _buttons(text_page)
    assert len(found) == 1
    trained = text_model.core.config
    help_text = found[0].proto.help
    assert f"similarity {trained.similarity}, τ = {trained.temperature:g}" in help_text
    assert f"skip {trained.skip}" in help_text
    assert found[0].proto.label == LABEL


@pytest.mark.parametrize("page", ["views/image.py", "views/compare.py", "views/present.py"])
def test_other_pages_with_a_model_offer_it_too(page):
    at = open_page(page)
    assert len(_buttons(at)) == 1, page


def test_the_words_follow_a_switched_similarity_variant(text_page):
    """bbc-topics loads the variant trained with the picked similarity: the download follows."""
    at = run(text_page.selectbox(key=state.SIMILARITY_WIDGET).set_value("dot"))
    assert "similarity dot, τ = 0.07" in _buttons(at)[0].proto.help
