"""Real-browser tests: the app served by Streamlit, opened in Debian's Chromium."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def screenshot_whole_app(page: Page, path: Path) -> None:
    """Streamlit scrolls inside stMain, so `full_page` alone stops at the viewport: grow it."""
    viewport = page.viewport_size
    height = page.get_by_test_id("stMain").evaluate("el => el.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": height})
    page.wait_for_timeout(500)  # plotly redraws on resize
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size(viewport)


def click_attention_cell(page: Page, i: int, j: int, n: int) -> None:
    """Click cell (i, j) of the clickable attention matrix (the last chart on the model page)."""
    chart = page.locator(".js-plotly-plot").last
    chart.scroll_into_view_if_needed()
    # The overlay's invisible markers sit at the cell centres, in row-major order.
    box = chart.locator(".scatterlayer .point").nth(i * n + j).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_home_page_renders(page: Page, app_url: str, wait_for_app, screenshot_dir) -> None:
    page.goto(app_url)
    wait_for_app(page)

    expect(page.get_by_role("heading", name="Dense Attention Lab").first).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "home.png", full_page=True)


def test_model_page(page: Page, app_url: str, wait_for_app, screenshot_dir) -> None:
    page.goto(app_url)
    wait_for_app(page)

    expect(page.get_by_role("heading", name="The model, one formula at a time")).to_be_visible()
    expect(page.locator(".js-plotly-plot .heatmaplayer").first).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(11)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.locator(".katex-display").first).to_be_visible()
    expect(page.locator(".katex-error")).to_have_count(0)  # LaTeX that KaTeX could not parse
    screenshot_whole_app(page, screenshot_dir / "model.png")

    # The similarity selectbox re-traces: the similarity chart's title names the new one.
    page.get_by_role("combobox", name="Similarity").click()
    page.get_by_role("option", name="cosine", exact=True).click()
    wait_for_app(page)
    expect(page.locator(".gtitle").filter(has_text="cosine")).to_have_count(1)
    expect(page.get_by_test_id("stException")).to_have_count(0)

    # Clicking a cell of the attention matrix selects it: the selectboxes and the formulas follow.
    click_attention_cell(page, 4, 1, n=6)
    wait_for_app(page)
    expect(page.get_by_role("combobox", name="Query token i")).to_have_value("5 · the")
    expect(page.get_by_role("combobox", name="Key token j")).to_have_value("2 · cat")
    tex = page.locator(".katex-display annotation").all_text_contents()
    assert any(r"a_{5,2}" in t for t in tex)
    expect(page.locator(".katex-error")).to_have_count(0)
