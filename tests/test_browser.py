"""Real-browser tests: the app served by Streamlit, opened in Debian's Chromium."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_home_page_renders(page: Page, app_url: str, wait_for_app, screenshot_dir) -> None:
    page.goto(app_url)
    wait_for_app(page)

    expect(page.get_by_role("heading", name="Dense Attention Lab").first).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "home.png", full_page=True)
