"""Charts of the live fragments drawn only near the screen (ui.lazy): AppTest runs with a
reported viewport, and the Text page in Chromium (placeholders off screen, a scroll draws them,
a setting change resends none of them)."""

import time

import pytest
from pagetest import figures, open_page, run
from playwright.sync_api import Page, expect

from dense_attention.ui import lazy, state

PLACEHOLDER = "Drawn when scrolled into view."
ALL_CHARTS = 12  # the Text page's plotly charts on the home model: 10 steps, the panel's two


def _titles(at) -> list[str]:
    return [f["layout"]["title"]["text"] for f in figures(at)]


def _placeholders(at) -> int:
    return sum(c.value == PLACEHOLDER for c in at.caption)


def test_every_chart_is_drawn_until_the_browser_reports() -> None:
    at = open_page()
    assert len(figures(at)) == ALL_CHARTS
    assert _placeholders(at) == 0


def test_a_report_draws_only_the_charts_near_the_screen() -> None:
    at = open_page()
    drawn = len(figures(at))
    at.session_state[state.TEXT_VIEWPORT] = {"visible": [f"{lazy.PREFIX}chart_steps_attn"]}
    at = run(at)
    titles = _titles(at)
    assert len(titles) == 1
    assert titles[0].startswith("Attention a")
    assert _placeholders(at) == drawn - 1  # every other chart keeps its box, x and h too


def test_nothing_near_the_screen_draws_no_step_chart_after_a_setting_change() -> None:
    at = open_page()
    at.session_state[state.TEXT_VIEWPORT] = {"visible": []}
    at = run(at)
    at = run(at.select_slider(key=state.TEMPERATURE_WIDGET).set_value(1.0))
    assert len(figures(at)) == 0
    assert _placeholders(at) == ALL_CHARTS


@pytest.mark.parametrize("report", [None, {"visible": "all"}, {"visible": [1, 2]}, 7])
def test_a_report_the_page_cannot_read_draws_everything(report) -> None:
    at = open_page()
    at.session_state[state.TEXT_VIEWPORT] = report
    at = run(at)
    assert len(figures(at)) == ALL_CHARTS


def test_the_switch_off_draws_every_chart(monkeypatch) -> None:
    monkeypatch.setenv(lazy.ENV, "0")
    at = open_page()
    at.session_state[state.TEXT_VIEWPORT] = {"visible": []}
    at = run(at)
    assert len(figures(at)) == ALL_CHARTS
    assert _placeholders(at) == 0


def test_the_image_page_draws_its_step_charts_lazily() -> None:
    at = open_page("views/image.py")
    drawn = len(figures(at))
    at.session_state[state.IMAGE_VIEWPORT] = {"visible": []}
    at = run(at)
    assert _placeholders(at) > 0
    assert len(figures(at)) == drawn - _placeholders(at)


def test_a_page_switch_after_a_report_opens_the_new_page_with_its_charts_waiting() -> None:
    """The browser has reported on the Text page: the Image page opens at its top, its step
    charts in their boxes until its own element reports (no first run drawing them all)."""
    at = open_page()
    at.session_state[state.TEXT_VIEWPORT] = {"visible": []}
    at = run(at)
    at = run(at.switch_page("views/image.py"))
    steps = [t for t in _titles(at) if t.startswith(("Attention a", "Scores s", "Input x"))]
    assert steps == []
    assert _placeholders(at) > 0


@pytest.mark.browser
def test_the_text_page_draws_a_step_chart_when_scrolled_to(
    page: Page, app_url: str, wait_for_app, screenshot_dir
) -> None:
    sent: list[float] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda _: sent.append(time.monotonic())))
    page.goto(app_url)
    wait_for_app(page)
    attention = page.locator(f'[class*="st-key-{lazy.PREFIX}chart_steps_attn"]')
    # At the top of the page the step charts are boxes waiting to be scrolled to.
    expect(attention.get_by_text(PLACEHOLDER)).to_be_visible(timeout=30_000)
    expect(attention.locator(".js-plotly-plot")).to_have_count(0)
    wait_for_app(page)
    quiet = len(sent)
    page.wait_for_timeout(1500)
    assert len(sent) == quiet, "the page kept rerunning with nothing changed"
    attention.scroll_into_view_if_needed()
    expect(attention.locator(".js-plotly-plot .heatmaplayer")).to_have_count(1, timeout=30_000)
    expect(attention.get_by_text(PLACEHOLDER)).to_have_count(0)
    wait_for_app(page)
    page.screenshot(path=str(screenshot_dir / "lazy_attention_drawn.png"))
    # x is drawn by the page's full run: scrolled to, the fragment reruns the whole page.
    x_box = page.locator(f'[class*="st-key-{lazy.PREFIX}chart_steps_x"]')
    x_box.scroll_into_view_if_needed()
    expect(x_box.locator(".js-plotly-plot .heatmaplayer")).to_have_count(1, timeout=30_000)
    wait_for_app(page)
    # Back at the top, the chart far below goes back to its box (the browser drops its plot).
    page.get_by_role(
        "heading", name="Your sentence, one formula at a time"
    ).scroll_into_view_if_needed()
    expect(attention.locator(".js-plotly-plot")).to_have_count(0, timeout=30_000)
