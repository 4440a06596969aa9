"""Lesson links: hide= removes controls, lock= disables them with a note, and the "Make a lesson
link" panel builds such a link from the current view (AppTest, then Chromium)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from pagetest import APP, run
from playwright.sync_api import Page, expect
from streamlit.testing.v1 import AppTest

from dense_attention.ui import cache, lesson, state

SENTENCE = "Voters head to the polls"


def linked(**params: str) -> AppTest:
    """The Text page opened from a link with these query parameters."""
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    return run(at)


def _text_model() -> str:
    return next(n for n, c in cache.checkpoints().items() if c.kind == "text")


def _flat(at: AppTest) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else v for k, v in dict(at.query_params).items()}


def test_parse_keeps_known_controls_only_and_hidden_wins_over_locked():
    assert lesson.parse("Similarity, temperature,,nonsense") == {"similarity", "temperature"}
    assert lesson.parse(None) == frozenset()
    both = lesson.Lesson(frozenset({"model"}), frozenset({"text"}))
    assert both.params() == {"hide": "model", "lock": "text", "questions": None}
    assert lesson.Lesson(questions=True).params() == {"hide": None, "lock": None, "questions": "on"}
    assert lesson.Lesson(frozenset({"text"}), frozenset({"text"})).locks("text") is False


def test_hidden_controls_are_absent_and_locked_ones_disabled_with_a_note():
    at = linked(text=SENTENCE, model=_text_model(), similarity="dot",
                hide="similarity,temperature", lock="model,text")  # fmt: skip
    assert not [s for s in at.selectbox if s.key == state.SIMILARITY_WIDGET]
    assert not at.select_slider  # temperature is the only select slider
    assert at.radio(key=state.POOLING_WIDGET).disabled is False  # free: the exercise's one knob
    assert at.selectbox(key=state.MODEL_WIDGET).disabled is True
    box = at.text_area(key=state.SENTENCE_WIDGET)
    assert box.disabled is True and box.value == SENTENCE
    notes = [c.value for c in at.caption if lesson.LOCK_NOTE in c.value]
    assert len(notes) == 2  # under the model and under the sentence
    # The hidden similarity still holds the link's value, and the link keeps the lesson.
    assert _flat(at)["similarity"] == "dot"
    assert _flat(at)["hide"] == "similarity,temperature" and _flat(at)["lock"] == "model,text"


def test_a_locked_setting_survives_reset():
    at = linked(model=_text_model(), similarity="dot", pooling="mean", lock="similarity")
    assert at.selectbox(key=state.SIMILARITY_WIDGET).disabled is True
    reset = next(b for b in at.button if b.label == "Reset to trained settings")
    at = run(reset.click())
    assert at.selectbox(key=state.SIMILARITY_WIDGET).value == "dot"  # locked: kept
    assert at.radio(key=state.POOLING_WIDGET).value == "learned"  # free: back to trained


def test_the_panel_builds_a_link_from_the_current_view(text_page):
    at = run(text_page.text_area(key=state.SENTENCE_WIDGET).set_value(SENTENCE))
    at = run(at.selectbox(key=state.SIMILARITY_WIDGET).set_value("dot"))
    at = run(at.multiselect(key=state.LESSON_HIDE).set_value(["similarity", "temperature"]))
    at = run(at.multiselect(key=state.LESSON_LOCK).set_value(["model", "text"]))
    link = at.code[-1].value
    query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert query["text"] == SENTENCE and query["similarity"] == "dot"
    assert query["hide"] == "similarity,temperature" and query["lock"] == "model,text"
    assert "hide" not in _flat(at)  # the teacher's own page is not constrained


def test_the_panel_adds_questions_on_and_a_link_reads_it_back(text_page):
    at = run(text_page.checkbox(key=state.LESSON_QUESTIONS).check())
    query = {k: v[0] for k, v in parse_qs(urlsplit(at.code[-1].value).query).items()}
    assert query["questions"] == "on"
    assert linked(questions="on").session_state[state.LESSON].questions is True
    assert linked(questions="off").session_state[state.LESSON].questions is False


def test_the_panel_is_not_shown_to_whoever_opened_a_lesson():
    at = linked(lock="text")
    assert not [m for m in at.multiselect if m.key == state.LESSON_HIDE]


@pytest.mark.browser
def test_a_lesson_link_in_a_fresh_browser_hides_and_locks(
    page: Page, app_url: str, wait_for_app, screenshot_dir
) -> None:
    # The teacher makes the link in the panel ... (every chart drawn at once: no rerun of the
    # lazy charts' viewport report lands while the panel's lists are open, ui.lazy)
    page.goto(f"{app_url}/?charts=all")
    wait_for_app(page)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Make a lesson link").click()
    for label, options in (("Hide", ["similarity", "temperature"]), ("Lock", ["model", "text"])):
        for option in options:
            box = sidebar.get_by_role("combobox", name=re.compile(f"^{label}"))
            box.scroll_into_view_if_needed()
            # In CI the box was reported "not stable" for 30 s (the sidebar scrolled under
            # Playwright's own scrolling); the click needs the box, not its stillness.
            box.click(force=True)
            box.press_sequentially(option)
            page.keyboard.press("Enter")
            wait_for_app(page)
        page.keyboard.press("Escape")  # close the open option list
    link = sidebar.get_by_test_id("stCode").inner_text().strip()
    assert "hide=similarity,temperature" in link and "lock=model,text" in link
    # ... and a student opens it in a fresh browser context (no cookie, no session).
    student = page.context.browser.new_context(viewport={"width": 1280, "height": 900})
    other = student.new_page()
    other.goto(link)
    wait_for_app(other)
    bar = other.get_by_test_id("stSidebar")
    expect(bar.get_by_role("combobox", name="Similarity")).to_have_count(0)
    expect(bar.get_by_text("Temperature τ")).to_have_count(0)
    expect(bar.get_by_text("Pooling α")).to_be_visible()
    expect(bar.get_by_role("combobox", name="Model")).to_be_disabled()
    expect(other.get_by_role("textbox", name="Your sentence")).to_be_disabled()
    expect(other.get_by_text(lesson.LOCK_NOTE)).to_have_count(2)
    expect(bar.get_by_text("Make a lesson link")).to_have_count(0)
    other.screenshot(path=screenshot_dir / "lesson_link.png")
    student.close()
