"""The Present page: one step per slide, Next / Previous, text and image inputs."""

import html
import json

import numpy as np
import pytest
from pagetest import (
    APP,
    ATOL,
    EXAMPLE,
    attention_matrices,
    figures,
    open_page,
    retrained,
    run,
    titled,
    z,
)
from streamlit.testing.v1 import AppTest

from dense_attention import ui
from dense_attention.explain import attention_work, faithfulness, verdict
from dense_attention.explain.questions import questions
from dense_attention.figures.slides import SLIDES, on_screen, slide_question, speaker_note
from dense_attention.storage import catalog
from dense_attention.ui import present, state
from dense_attention.ui.styles import md


@pytest.fixture
def present_page() -> AppTest:
    return open_page("views/present.py")


def presenter_page(**params: str) -> AppTest:
    """The Present page as the presenter view (?presenter=1) opens it, with more parameters."""
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in {"presenter": "1", **params}.items():
        at.query_params[name] = value
    return run(run(at).switch_page("views/present.py"))


def opened_slide(at: AppTest) -> int:
    """The slide the browser opens with: the slides' tabs' default (0 when unset)."""
    (tabs,) = at.get("tab_container")
    return tabs.proto.tab_container.default_tab_index


def test_present_page_holds_every_slide_and_opens_on_the_first(present_page, text_model):
    """Every slide is on the page, each in its tab (the browser switches them, no rerun); the
    first is opened; the deck's controls are there."""
    at = present_page
    assert at.session_state[state.SLIDE] == 0 and opened_slide(at) == 0
    assert [tab.label for tab in at.tabs] == [s.title for s in SLIDES]
    assert [title.value for title in at.title] == [s.title for s in SLIDES]
    assert [e.key for e in at.get("bidi_component")] == ["slide_deck"]  # Previous / Next
    first = at.tabs[0]
    tokens = text_model.explain(EXAMPLE).tokens
    chips = " ".join(el.proto.body for el in first.get("html"))
    assert all(f"{html.escape(t)}</span>" in chips for t in tokens)
    assert r"x_i \in" in first.latex[0].value
    (x_fig,) = titled(at, "Input x")
    assert x_fig["layout"]["yaxis"]["ticktext"] == tokens
    assert not at.expander  # the audience sees no speaker notes: the presenter view has them
    assert not [m for m in at.markdown if "On screen" in m.value or "Speaker notes" in m.value]
    (deck,) = at.get("bidi_component")
    data = json.loads(deck.proto.json)
    assert {k: data[k] for k in ("n", "presenter")} == {"n": len(SLIDES), "presenter": False}
    assert data["words"]["presenter"] == "Open presenter view"  # the deck's words, in English


def test_every_slide_shows_its_own_step(present_page, text_model):
    at = present_page
    second = at.tabs[1]
    assert second.title[0].value == "2 · A dense layer" and "h_i = " in second.latex[0].value
    (h_fig,) = titled(at, "Dense layer")
    expected = text_model.explain(EXAMPLE).trace.h[0].cpu().numpy()
    np.testing.assert_allclose(z(h_fig), expected, atol=ATOL)
    assert all(fig["layout"]["height"] <= present.SLIDE_CHART_PX for fig in figures(at))  # 1280x720
    last = at.tabs[-1]
    assert "softmax" in " ".join(latex.value for latex in last.latex)
    explanation = text_model.explain(EXAMPLE)
    winner = explanation.classes[int(explanation.trace.probs[0].argmax())]
    assert any(f"Prediction: **{winner}**" in m.value for m in last.markdown)


def test_present_page_opens_a_linked_slide_and_clamps_one_out_of_range(present_page):
    at = present_page
    at.session_state[state.SLIDE] = 3  # e.g. from a shared URL (slide=4)
    assert opened_slide(run(at)) == 3
    at.session_state[state.SLIDE] = 99  # clamped to the last slide
    at = run(at)
    assert at.session_state[state.SLIDE] == 7 and opened_slide(at) == 7


def test_present_page_follows_the_sentence_and_the_settings(present_page, text_model):
    at = run(present_page.text_input(key="present_sentence").set_value("Worst service ever"))
    at.session_state[state.SLIDE] = 3
    assert text_model.config.model.similarity != "cosine"  # else picking it changes nothing
    at = run(at.selectbox(key=state.SIMILARITY_WIDGET).set_value("cosine"))
    (attn,) = attention_matrices(at)
    expected = retrained("cosine").explain("Worst service ever").trace.attn[0]  # its checkpoint
    np.testing.assert_allclose(attn, expected.cpu().numpy(), atol=ATOL)
    assert at.session_state[state.SENTENCE] == "Worst service ever"  # the text page shows it too


def test_present_page_switches_to_an_image(present_page):
    at = run(present_page.radio(key="present_source").set_value("Image"))
    assert at.title[0].value == "1 · The input"
    assert titled(at, "The 8×8 input, cut into")  # the picture with its patch grid
    options = at.selectbox(key=ui.PRESENT_PHOTO).options
    assert options[0].startswith("test 1 · ") and "coffee" in options  # its dataset's pictures
    assert at.selectbox(key=ui.PRESENT_PHOTO).value == options[0]
    at = run(at.selectbox(key=ui.PRESENT_PHOTO).set_value("coffee"))
    assert at.tabs[1].title[0].value == "2 · A dense layer" and titled(at, "Dense layer")


def test_the_last_slide_says_the_inputs_verdict_in_the_librarys_words(present_page, text_model):
    """Present speaks of attention with the same verdict as the badge and the attention page."""
    info = next(c for c in catalog.discover_checkpoints(catalog.checkpoint_root()).values()
                if c.kind == "text")  # fmt: skip
    features = faithfulness.features_of(text_model, EXAMPLE)
    found = verdict.judge_input(text_model, features, faithfulness.stored_means(info.path))
    last = present_page.tabs[-1]
    shown = [m.value for m in last.markdown]
    assert f"**{md(found.headline)}.**" in shown
    notes = presenter_page().tabs[-1]
    assert f"**Does attention decide?** {md(found.text)}" in [m.value for m in notes.markdown]
    earlier = [m.value for tab in present_page.tabs for m in tab.markdown]
    assert not any("Does attention decide?" in m for m in earlier)  # not on the audience's


def test_slide_8_and_its_notes_are_true_to_the_home_model(present_page, text_model):
    """The home model (skip none): slide 8 and its speaker notes say the output reads c alone."""
    assert text_model.config.model.skip == "none"
    slide = " ".join(m.value for m in present_page.tabs[-1].markdown)
    notes = " ".join(m.value for m in presenter_page().tabs[-1].markdown)
    assert "h_o is not used" in slide and "c alone" in slide and "c alone" in notes
    for shown in (slide, notes):
        assert "beside" not in shown and "plain mean of the hidden vectors" not in shown
        assert "5 classes" in shown


def test_the_presenter_view_holds_each_slide_its_notes_and_the_next_one(text_model):
    """?presenter=1: per slide, its title and formulas, the notes with the slide's numbers (the
    instructive link, never a token looking at itself), and the next slide's title; the deck
    shows its timer instead of the link."""
    at = presenter_page()
    (deck,) = at.get("bidi_component")
    data = json.loads(deck.proto.json)
    assert {k: data[k] for k in ("n", "presenter")} == {"n": len(SLIDES), "presenter": True}
    assert [tab.label for tab in at.tabs] == [s.title for s in SLIDES]
    explanation = text_model.explain(EXAMPLE)
    trace, tokens = explanation.trace, explanation.tokens
    i, j = attention_work.lesson_cell(trace.attn[0], trace.alpha[0])
    assert i != j
    for k, (slide, tab) in enumerate(zip(SLIDES, at.tabs, strict=True)):
        text = [m.value for m in tab.markdown]
        assert "**Speaker notes**" in text
        assert speaker_note(slide, text_model.config.model, text_model.config.text) in text
        assert (
            f"**On screen:** {md(on_screen(slide, explanation, text_model.config.model))}" in text
        )
        following = SLIDES[k + 1].title if k + 1 < len(SLIDES) else None
        assert (f"**Next: {md(following)}**" if following else "**Next:** nothing, this is the "
                "last slide.") in text  # fmt: skip
        assert tab.subheader[0].value == slide.title
    said = on_screen(SLIDES[3], explanation, text_model.config.model)  # in the notes (above)
    assert f"{tokens[i]!r} (token {i + 1}) to {tokens[j]!r} (token {j + 1})" in said
    assert f"a = {float(trace.attn[0, i, j]):.2f}" in said


def test_questions_on_put_each_answer_in_the_presenter_notes(text_model):
    at = presenter_page(questions="on")
    asked = questions(text_model.core, text_model.explain(EXAMPLE), text_model.config.model)
    for slide, tab in zip(SLIDES, at.tabs, strict=True):
        question = slide_question(slide, asked)
        notes = [m.value for m in tab.markdown if m.value.startswith("**Question:**")]
        if question is None:
            assert notes == []
            continue
        assert notes == [
            f"**Question:** {md(question.prompt)} **Answer:** {md(question.right)}. "
            f"{md(question.reveal)}"
        ]
    assert not [e for e in at.get("bidi_component") if "question" in (e.key or "")]
