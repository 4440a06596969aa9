"""The presenter view in Chromium: "Open presenter view" opens a second window with the slide,
its notes, the next slide and a timer; the audience window and it stay on the same slide both
ways with nothing sent to the server; the audience sees no notes and every slide fits 1280×720."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dense_attention.figures.slides import SLIDES

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parent.parent / "docs"
SCREEN = {"width": 1280, "height": 720}  # a projector


def heights(page: Page) -> tuple[int, int]:
    """The document's height and that of Streamlit's scrolling main area (px)."""
    return page.evaluate(
        """() => [document.documentElement.scrollHeight,
                  document.querySelector('[data-testid="stMain"]').scrollHeight]"""
    )


def on_slide(page: Page, k: int) -> None:
    """Wait until `page` shows slide k (1-based): the deck's count and that slide's title."""
    expect(page.get_by_text(f"Slide {k} of {len(SLIDES)}")).to_be_visible()
    title = SLIDES[k - 1].title
    expect(page.get_by_role("heading", name=title, exact=True).filter(visible=True)).to_have_count(
        1
    )


@pytest.mark.parametrize("questions", [False, True], ids=["plain", "questions"])
def test_every_audience_slide_fits_the_screen_and_shows_no_notes(
    page: Page, app_url: str, wait_for_app, questions: bool
) -> None:
    page.set_viewport_size(SCREEN)
    page.goto(f"{app_url}/present" + ("?questions=on" if questions else ""))
    wait_for_app(page)
    measured = {}
    for k in range(1, len(SLIDES) + 1):
        on_slide(page, k)
        page.wait_for_timeout(300)  # plotly lays out a newly shown chart
        measured[k] = heights(page)
        asked = page.locator(".dal-question").filter(visible=True)
        if questions and asked.count():  # answered: the revealed numbers fit too
            asked.get_by_role("button").first.click()
            expect(asked.locator(".dal-question-reveal")).to_be_visible()
            measured[k] = heights(page)
        if k < len(SLIDES):
            page.get_by_role("button", name="Next").click()
    print("document / main heights per slide:", measured)
    assert all(
        doc <= SCREEN["height"] and main <= SCREEN["height"] for doc, main in measured.values()
    ), measured
    expect(page.get_by_text("Speaker notes")).to_have_count(0)
    expect(page.get_by_text("On screen:")).to_have_count(0)
    if questions:  # every slide but the first carries one, answered above
        expect(page.locator(".dal-question[data-answered]")).to_have_count(len(SLIDES) - 1)


def test_presenter_view_and_audience_stay_in_step_both_ways(
    page: Page, app_url: str, wait_for_app
) -> None:
    sent: dict[str, list] = {"audience": [], "presenter": []}
    page.set_viewport_size(SCREEN)
    page.on(
        "websocket", lambda ws: ws.on("framesent", lambda frame: sent["audience"].append(frame))
    )
    page.goto(f"{app_url}/present?slide=2")
    wait_for_app(page)
    on_slide(page, 2)
    link = page.get_by_role("link", name="Open presenter view")
    expect(link).to_have_attribute("target", "_blank")
    with page.context.expect_page() as opened:
        link.click()
    presenter = opened.value
    presenter.on(
        "websocket", lambda ws: ws.on("framesent", lambda frame: sent["presenter"].append(frame))
    )
    presenter.set_viewport_size({"width": 1280, "height": 800})
    wait_for_app(presenter)
    expect(presenter).to_have_url(re.compile(r"[?&]presenter=1(&|$)"))
    on_slide(presenter, 2)  # opens on the audience's slide
    notes = presenter.locator(".st-key-presenter_notes_h")
    expect(notes).to_be_visible()
    expect(notes).to_contain_text("Speaker notes")
    expect(notes).to_contain_text("On screen:")
    expect(presenter.get_by_text(f"Next: {SLIDES[2].title}")).to_be_visible()
    timer = presenter.locator(".dal-deck-timer")
    expect(timer).to_have_text(re.compile(r"^\d\d:\d\d$"))
    expect(presenter.get_by_role("link", name="Open presenter view")).to_have_count(0)
    expect(page.get_by_text("Speaker notes")).to_have_count(0)  # still none for the audience
    page.wait_for_timeout(1500)  # let any server traffic of the first runs pass
    before = {name: len(frames) for name, frames in sent.items()}

    page.get_by_role("button", name="Next").click()  # the audience moves on ...
    on_slide(page, 3)
    on_slide(presenter, 3)  # ... and the presenter view follows
    presenter.get_by_role("button", name="Next").click()  # the presenter moves on ...
    on_slide(presenter, 4)
    on_slide(page, 4)  # ... and the audience follows
    presenter.locator("body").press("ArrowLeft")  # a clicker's key in the presenter window
    on_slide(presenter, 3)
    on_slide(page, 3)
    expect(page).to_have_url(re.compile(r"[?&]slide=3(&|$)"))
    assert {name: len(frames) for name, frames in sent.items()} == before  # browser-side only
    expect(presenter.locator(".st-key-presenter_notes_scores")).to_contain_text("(token ")
    expect(timer).not_to_have_text("00:00", timeout=5000)  # the timer runs
    presenter.wait_for_timeout(500)
    DOCS.mkdir(exist_ok=True)
    presenter.screenshot(path=DOCS / "presenter-view.png")
    presenter.close()
