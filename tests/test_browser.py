"""Real-browser tests: the app served by Streamlit, opened in Debian's Chromium."""

import base64
import html
import io
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import wait_for_streamlit
from pagetest import EXAMPLE, retrained
from PIL import Image
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from dense_attention.explain import attention_work
from dense_attention.storage import catalog, checkpoint
from dense_attention.ui import cache

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
    """Click cell (i, j) of the clickable attention matrix (the formula panel's, the last but
    one chart on the model page: the score's breakdown by dimension follows it)."""
    charts = page.locator(".js-plotly-plot")
    chart = charts.nth(charts.count() - 2)
    chart.scroll_into_view_if_needed()
    # The overlay's invisible markers sit at the cell centres, in row-major order.
    box = chart.locator(".scatterlayer .point").nth(i * n + j).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_home_page_renders(page: Page, app_url: str, wait_for_app, screenshot_dir) -> None:
    page.goto(app_url)
    wait_for_app(page)

    # The app's name tops the sidebar, above the page list (issue #16.6: a sidebar title came
    # out below it).
    logo = page.get_by_test_id("stSidebarLogo")
    expect(logo).to_be_visible()
    source = logo.get_attribute("src")  # the SVG, inlined as a data URL
    assert b"Dense Attention Lab" in base64.b64decode(source.split("base64,", 1)[1])
    first_page = page.get_by_test_id("stSidebarNav").get_by_role("link").first
    assert logo.bounding_box()["y"] < first_page.bounding_box()["y"]
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "home.png", full_page=True)


def test_model_page(page: Page, app_url: str, wait_for_app, screenshot_dir) -> None:
    page.goto(f"{app_url}/model")
    wait_for_app(page)

    expect(page.get_by_role("heading", name="The model, one formula at a time")).to_be_visible()
    expect(page.locator(".js-plotly-plot .heatmaplayer").first).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(12)  # + the breakdown
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


def test_image_page_upload_shows_the_overlays(
    page: Page, app_url: str, wait_for_app, screenshot_dir, tmp_path: Path, text_model
) -> None:
    from PIL import Image

    from dense_attention.data import images

    # A test-set digit blown up to a 256 x 256 photo-like PNG: something the digits model knows.
    digit = images.test_examples("digits", 4)[3].image
    picture = tmp_path / "digit.png"
    digit.resize((256, 256), Image.Resampling.NEAREST).convert("RGB").save(picture)

    page.goto(f"{app_url}/?charts=all")  # every chart drawn at once: the test reads them all
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Image").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Your picture, one formula at a time")).to_be_visible()
    page.get_by_test_id("stRadio").get_by_text("Upload", exact=True).click()
    wait_for_app(page)
    page.get_by_test_id("stFileUploader").locator('input[type="file"]').set_input_files(picture)
    wait_for_app(page)

    expect(page.get_by_text("The picture, 256×256")).to_be_visible(timeout=30_000)
    overlay = page.locator(".js-plotly-plot").filter(
        has=page.locator(".gtitle", has_text="Pooling weights α")
    )
    expect(overlay.locator(".imagelayer image")).to_have_count(1)  # the picture (go.Image)
    expect(overlay.locator(".heatmaplayer image")).to_have_count(1)  # the α heat on top
    expect(overlay.locator(".colorbar")).to_have_count(1)
    row = page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text="looks"))
    expect(row.locator(".heatmaplayer image")).to_have_count(1)
    expect(page.locator(".js-plotly-plot")).to_have_count(16)  # 4 image, 10 steps, panel, breakdown
    # The query patch and the formula panel's selectors agree, after the upload as before it:
    # on the cell the home page selected (its lesson link), each index kept where it names a
    # patch, else the panel's default (1, 2) (ui.walkthrough.selected_cell).
    home = text_model.explain(EXAMPLE).trace
    labels = checkpoint.load(catalog.checkpoint_root() / "digits").encoder.patch_labels()
    lesson = attention_work.lesson_cell(home.attn[0], home.alpha[0])
    i, j = (k if k < len(labels) else d for k, d in zip(lesson, (1, 2), strict=True))
    query, key = f"{i + 1} · {labels[i]}", f"{j + 1} · {labels[j]}"
    expect(page.get_by_role("combobox", name="Query patch i")).to_have_value(query)
    expect(page.get_by_role("combobox", name="Query token i")).to_have_value(query)
    expect(page.get_by_role("combobox", name="Key token j")).to_have_value(key)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.locator(".katex-error")).to_have_count(0)
    screenshot_whole_app(page, screenshot_dir / "image.png")


def test_the_selected_cell_survives_a_live_setting_change_and_a_page_switch(
    page: Page, app_url: str, wait_for_app, text_model
) -> None:
    """Streamlit drops a fragment's widget state when a page switch follows the fragment's own
    rerun (a τ step here; on the lazy page also a scroll's report): the formula panel's cell is
    kept outside its selectors (walkthrough.selected_cell), so the Image page opens on it."""
    page.goto(app_url)
    wait_for_app(page)
    home = text_model.explain(EXAMPLE).trace
    i, _ = attention_work.lesson_cell(home.attn[0], home.alpha[0])
    assert i < 4  # a patch of the digits model (4 patches) names it on the Image page
    page.get_by_test_id("stSidebar").get_by_role("slider").first.focus()
    page.keyboard.press("ArrowRight")  # τ: the live fragment reruns alone
    wait_for_app(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Image").click()
    wait_for_app(page)
    labels = checkpoint.load(catalog.checkpoint_root() / "digits").encoder.patch_labels()
    expect(page.get_by_role("combobox", name="Query patch i")).to_have_value(
        f"{i + 1} · {labels[i]}", timeout=30_000
    )


# --------------------------------------------------------------------------- text, compare, about

FIGURES_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => ({
    title: el.layout.title.text,
    xticks: el.layout.xaxis.ticktext || [],
    yticks: el.layout.yaxis.ticktext || [],
    z: el.data[0].z || null,
}))"""


def figures(page: Page) -> list[dict]:
    """Every plotly chart's title, tick labels and z, read from the charts in the page."""
    return page.evaluate(FIGURES_JS)


def attention_figure(page: Page) -> dict:
    return next(f for f in figures(page) if "Attention a" in f["title"])


def pick_option(page: Page, box: str, option: str, tries: int = 3) -> None:
    """Open a selectbox and click an option; a rerun that lands between the two closes the list
    (seen under load in CI), so open it again, after the app settles, up to `tries` times."""
    for attempt in range(tries):
        page.get_by_role("combobox", name=box, exact=True).click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
            wait_for_streamlit(page)


def test_text_page(page: Page, app_url: str, wait_for_app, screenshot_dir, text_model) -> None:
    page.goto(f"{app_url}/?charts=all")  # the home page, every chart drawn at once (ui.lazy)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Your sentence, one formula at a time")).to_be_visible()

    # Type a sentence, apply it with Ctrl+Enter: its tokens label the heatmaps' axes.
    sentence = "Shares fell after the bank warned about profits"
    box = page.get_by_role("textbox", name="Your sentence")
    box.fill(sentence)
    box.press("Control+Enter")
    wait_for_app(page)
    explanation = text_model.explain(sentence)
    attention = attention_figure(page)
    assert attention["xticks"] == explanation.tokens == attention["yticks"]
    np.testing.assert_allclose(attention["z"], explanation.trace.attn[0], atol=1e-6)
    drawn = page.locator(".js-plotly-plot").filter(has_text="Attention a").first
    labels = drawn.locator(".xtick text").all_text_contents()
    assert labels == explanation.tokens  # drawn in the SVG, not only in the data
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.locator(".katex-error")).to_have_count(0)

    # Switch the similarity in the sidebar: the home model (bbc-topics) has a checkpoint trained
    # with each similarity, so the matrix changes to that model's, and the control says so.
    assert text_model.config.model.similarity != "dot"  # else picking dot changes nothing
    pick_option(page, "Similarity", "dot")
    # The live fragment sees the variant, then the whole page reruns (the model changed): the
    # app may be idle for a moment between the two runs, so wait for the matrix itself.
    deadline = time.monotonic() + 60
    while np.allclose((changed := attention_figure(page))["z"], attention["z"]):
        assert time.monotonic() < deadline, "the attention matrix did not change"
        page.wait_for_timeout(100)
    wait_for_app(page)
    changed = attention_figure(page)
    expected = retrained("dot").explain(sentence).trace.attn[0]
    np.testing.assert_allclose(changed["z"], expected, atol=1e-5)
    expect(page.get_by_text("Trained with dot: its own checkpoint")).to_be_visible()
    home = catalog.discover_checkpoints(catalog.checkpoint_root())["bbc-topics"]
    own = checkpoint.read_metadata(catalog.similarity_variants(home)["dot"].path)["test_accuracy"]
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(f"test accuracy {own:.1%}", exact=False)).to_be_visible()

    # Export the attention matrix (the fifth figure) as PNG through its Export menu.
    page.get_by_role("button", name="Export").nth(4).click()
    with page.expect_download(timeout=60_000) as download:
        page.get_by_test_id("stPopoverBody").get_by_role("button", name="PNG image").click()
    assert download.value.suggested_filename == "attn.png"
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = Image.open(io.BytesIO(data)).size
    assert width >= 900 and height >= 300
    page.keyboard.press("Escape")
    screenshot_whole_app(page, screenshot_dir / "text.png")


def test_text_page_bad_input(page: Page, app_url: str, wait_for_app) -> None:
    page.goto(app_url)
    wait_for_app(page)
    box = page.get_by_role("textbox", name="Your sentence")
    box.fill("   ")
    box.press("Control+Enter")
    wait_for_app(page)
    expect(page.get_by_text("Type a sentence above")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    box.fill("word " * 10_000)
    box.press("Control+Enter")
    wait_for_app(page)
    expect(page.get_by_text("tokens kept")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_compare_page(page: Page, app_url: str, wait_for_app, screenshot_dir) -> None:
    page.goto(f"{app_url}/compare")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Compare attention")).to_be_visible()
    titles = [f["title"] for f in figures(page)]
    assert any("Difference B − A" in t for t in titles)
    assert any("MiniLM layer 1" in t for t in titles)
    minilm = next(f for f in figures(page) if "MiniLM" in f["title"])
    ours = next(f for f in figures(page) if "Dense attention" in f["title"])
    assert minilm["xticks"] == ours["xticks"] and minilm["xticks"][0] == "[CLS]"
    expect(page.get_by_test_id("stException")).to_have_count(0)
    screenshot_whole_app(page, screenshot_dir / "compare.png")


def test_attention_matters_page(page: Page, app_url: str, wait_for_app, screenshot_dir) -> None:
    page.goto(f"{app_url}/attention")
    wait_for_app(page)

    expect(page.get_by_role("heading", name="Does attention matter?")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    # this input's ablations, its ERASER scores, the test split's study
    expect(page.get_by_test_id("stDataFrame")).to_have_count(3)
    expect(page.locator(".js-plotly-plot")).to_have_count(5)  # + ERASER, the adversarial α
    expect(page.locator(".js-plotly-plot .barlayer").first).to_be_visible()
    screenshot_whole_app(page, screenshot_dir / "attention.png")

    token = page.get_by_role("combobox", name="Drag the α of")
    token.scroll_into_view_if_needed()  # far down the page: Streamlit scrolls inside stMain
    page.wait_for_timeout(500)
    token.click()
    page.get_by_role("option", name=re.compile(r"^2 ·")).click()
    wait_for_app(page)
    expect(page.get_by_text(re.compile(r"^The prediction (stays|flips to)"))).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_about_page(page: Page, app_url: str, wait_for_app, screenshot_dir) -> None:
    page.goto(f"{app_url}/about")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="The model in one table")).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(1)
    expect(page.locator(".katex").first).to_be_visible()
    expect(page.locator(".katex-error")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    screenshot_whole_app(page, screenshot_dir / "about.png")


def test_the_first_element_loads_the_chart_code_before_any_chart(
    page: Page, app_url: str, wait_for_app
) -> None:
    """app.py's hidden first element makes the browser load plotly.js (Streamlit's PlotlyChart
    chunk) on a page without a chart, so the home page's charts never wait for it; the element
    takes no room in the sidebar."""
    page.goto(f"{app_url}/about")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="The model in one table")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(0)  # no chart asked for it
    loaded = page.evaluate(
        "() => performance.getEntriesByType('resource').map((entry) => entry.name)"
    )
    assert any(re.search(r"/static/js/PlotlyChart\.[\w-]+\.js$", url) for url in loaded)
    assert any(re.search(r"/static/js/BidiComponent\.[\w-]+\.js$", url) for url in loaded)
    hidden = page.locator(".stElementContainer", has=page.locator(".dal-preload"))
    expect(hidden).to_have_count(1)
    expect(hidden).to_be_hidden()
    expect(page.get_by_test_id("stException")).to_have_count(0)


# --------------------------------------------------------------------------- present


def test_present_page(page: Page, app_url: str, wait_for_app, screenshot_dir) -> None:
    sent: list[str] = []  # what the browser sends the server: a slide change sends nothing
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    page.set_viewport_size({"width": 1280, "height": 720})  # a projector
    page.goto(f"{app_url}/present")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="1 · The input")).to_be_visible()
    expect(page.get_by_text("Slide 1 of 8")).to_be_visible()
    expect(page.get_by_role("button", name="Previous")).to_be_disabled()
    expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
    before = len(sent)
    assert before > 0  # the frames are seen: the check below can fail
    for _ in range(3):
        page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Slide 4 of 8")).to_be_visible()
    heading = page.get_by_role("heading", name="4 · Attention weights")
    expect(heading).to_be_visible()
    assert len(sent) == before  # switched in the browser: no rerun
    expect(page.locator(".katex").filter(visible=True).first).to_be_visible()
    expect(page.locator(".katex-error")).to_have_count(0)
    expect(page.locator(".js-plotly-plot .heatmaplayer").filter(visible=True)).to_have_count(1)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    assert heading.evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 48  # large type
    # The slide fits the 1280 x 720 screen (every slide: tests/test_presenter.py); no notes here.
    assert page.get_by_test_id("stMain").evaluate("el => el.scrollHeight") <= 720
    expect(page.get_by_test_id("stExpander")).to_have_count(0)
    page.screenshot(path=screenshot_dir / "present-slide.png")

    # A clicker's keys: → and PageDown move on, ← and PageUp back; the Deploy button is hidden.
    heading.click()
    for key, slide in (("ArrowRight", 5), ("PageDown", 6), ("ArrowLeft", 5), ("PageUp", 4)):
        page.keyboard.press(key)
        expect(page.get_by_text(f"Slide {slide} of 8")).to_be_visible()
    expect(page.get_by_role("heading", name="4 · Attention weights")).to_be_visible()
    expect(page.get_by_role("button", name="Deploy")).to_have_count(0)
    # A rerun (another sentence) keeps the slide, and so does a visit to another page.
    page.get_by_label("Sentence").fill("The striker scored twice in the final")
    page.get_by_label("Sentence").press("Enter")
    wait_for_app(page)
    expect(page.get_by_text("Slide 4 of 8")).to_be_visible()
    expect(page.get_by_role("heading", name="4 · Attention weights")).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")  # collapsed on this page: clicked from script
    nav.locator('a[href$="/about"]').evaluate("link => link.click()")
    wait_for_app(page)
    expect(page).not_to_have_url(re.compile(r"slide="))
    nav.locator('a[href$="/present"]').evaluate("link => link.click()")
    wait_for_app(page)
    expect(page.get_by_text("Slide 4 of 8")).to_be_visible()
    expect(page.get_by_role("heading", name="4 · Attention weights")).to_be_visible()


def test_a_shared_url_opens_the_same_view(page: Page, app_url: str, wait_for_app) -> None:
    name = next(n for n, c in cache.checkpoints().items() if c.kind == "text")
    query = f"text=Voters+head+to+the+polls&model={name}&similarity=cosine&temperature=0.5&slide=4"
    page.goto(f"{app_url}/present?{query}")
    wait_for_app(page)
    expect(page.get_by_text("Slide 4 of 8")).to_be_visible()
    expect(page.get_by_label("Sentence")).to_have_value("Voters head to the polls")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("combobox", name="Similarity")).to_have_value("cosine")
    # Moving on updates the link: a copied URL opens the new slide.
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"[?&]slide=5(&|$)"))
    copied = page.url
    other = page.context.browser.new_context().new_page()  # another visitor opens the link
    other.goto(copied)
    wait_for_app(other)
    expect(other.get_by_text("Slide 5 of 8")).to_be_visible()
    expect(other.get_by_label("Sentence")).to_have_value("Voters head to the polls")
    other.context.close()


def _download(page: Page, button: str, path: Path) -> bytes:
    with page.expect_download(timeout=60_000) as download:
        page.get_by_test_id("stPopoverBody").get_by_role("button", name=button).click()
    data = Path(download.value.path()).read_bytes()
    path.write_bytes(data)
    return data


def test_text_page_exports_keep_labels_and_name_the_settings(
    page: Page, app_url: str, wait_for_app, screenshot_dir, text_model
) -> None:
    """Issue #16.1: the app's PNG/SVG of the attention matrix kept only the last character of
    each row label and no column labels (Streamlit's plotly template has no automargin)."""
    page.goto(app_url)
    wait_for_app(page)
    # Scrolled to the attention step first, as a user would: its chart is drawn (ui.lazy), and
    # the rerun that draws it does not land while the Export menu is open.
    page.locator('[class*="st-key-dal-lazy-chart_steps_attn"]').scroll_into_view_if_needed()
    expect(page.locator(".js-plotly-plot").filter(has_text="Attention a").first).to_be_visible(
        timeout=30_000
    )
    wait_for_app(page)
    page.get_by_role("button", name="Export").nth(4).click()  # the attention matrix
    png = _download(page, "PNG image", screenshot_dir / "export_attn.png")
    image = Image.open(io.BytesIO(png))
    ink = np.asarray(image.convert("L"), dtype=float) < 200
    assert not ink[:, :6].any()  # no label cut at the left edge
    model = image.text["model"]
    assert model and image.text["similarity"] == text_model.config.model.similarity
    assert image.text["text"] == EXAMPLE  # the home model's first example
    svg = _download(page, "SVG (vector)", screenshot_dir / "export_attn.svg").decode()
    assert svg.count('class="ytick"') == svg.count('class="xtick"') > 5
    assert f"model {model} · similarity" in svg
    page.keyboard.press("Escape")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Handout (HTML, opens offline)").click()
    walk = Path(download.value.path()).read_text()
    (screenshot_dir / "export_walkthrough.html").write_text(walk)
    assert walk.count('<section class="step"') == walk.count('<div class="chart">') == 10
    assert walk.count('id="plotly-gz"') == 1 and len(walk) < 3_500_000
    assert f"similarity {image.text['similarity']}" in walk and html.escape(EXAMPLE) in walk


def test_the_text_pages_trace_downloads(page: Page, app_url: str, wait_for_app, text_model):
    """Issue #28: the Text page's JSON trace button did nothing (the server had dropped its
    deferred file: "MediaFileStorageError: Deferred file ... not found")."""
    page.goto(app_url)
    wait_for_app(page)
    page.wait_for_timeout(1_500)  # the live view's first value may rerun the fragment
    wait_for_app(page)
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="Download the whole trace (JSON)").click()
    assert download.value.suggested_filename == "trace.json"
    trace = json.loads(Path(download.value.path()).read_text())
    expected = text_model.explain(EXAMPLE)
    assert trace["tokens"] == expected.tokens
    np.testing.assert_allclose(trace["trace"]["attn"][0], expected.trace.attn[0], atol=1e-5)


OVERFLOWING_FORMULAS = """() => {
  const heading = [...document.querySelectorAll('h1, h2')]
    .find((h) => h.textContent.includes('The formula with numbers'));
  return [...document.querySelectorAll('.katex-display')]
    .filter((el) => heading.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING)
    // Streamlit's formulas scroll sideways when too wide, the scroll bar hidden until hovered:
    // a cut formula is one whose content is wider than its box (a few pixels are padding).
    .filter((el) => el.scrollWidth > el.clientWidth + 8)
    .map((el) => el.textContent.slice(0, 60));
}"""


def test_the_cell_panel_formulas_fit_on_a_laptop_screen(
    page: Page, app_url: str, wait_for_app, screenshot_dir, text_model
) -> None:
    """Issue #16.6: on a 1100-pixel window, a₅,₈'s formulas were cut at the right edge."""
    page.set_viewport_size({"width": 1100, "height": 1000})
    page.goto(app_url)
    wait_for_app(page)
    page.get_by_role("heading", name="The formula with numbers").scroll_into_view_if_needed()
    tokens = text_model.explain(EXAMPLE).tokens  # the default sentence's: a_5,8 of its own
    for box, option in (("Query token i", f"5 · {tokens[4]}"), ("Key token j", f"8 · {tokens[7]}")):
        page.get_by_role("combobox", name=box).click()
        page.keyboard.type(option)  # the selectbox filters its options: one left
        page.keyboard.press("Enter")
        wait_for_app(page)
    expect(page.locator(".katex-display").filter(has_text="a5,8").first).to_be_visible()
    assert page.evaluate(OVERFLOWING_FORMULAS) == []
    # ... and none of the walk-through's (its Output formula was wider than its column)
    assert (
        page.evaluate(OVERFLOWING_FORMULAS.replace("The formula with numbers", "Your sentence"))
        == []
    )
    page.get_by_text("Attention weight:").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / "cell_panel_1100.png")


BREAKDOWN_JS = """() => {
  const el = [...document.querySelectorAll('.js-plotly-plot')]
    .find((p) => (p.layout.title.text || '').includes('Σ parts'));
  return el && {title: el.layout.title.text, y: Array.from(el.data[0].y)};
}"""


def test_a_clicked_cell_is_broken_down_and_the_query_key_map_drawn(
    page: Page, app_url: str, wait_for_app, text_model, screenshot_dir
) -> None:
    """Issue 22: click a cell of the formula panel's matrix; the breakdown's bars sum to the
    trace's score of that cell. Screenshots of the breakdown and of the query–key map (into
    test-output/screenshots: docs/ keeps the ones looked at)."""
    docs = screenshot_dir
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{app_url}/?charts=all")  # every chart drawn at once (ui.lazy)
    wait_for_app(page)
    explanation = text_model.explain(EXAMPLE)
    tokens, n = explanation.tokens, len(explanation.tokens)
    i, j = 3, 6
    charts = page.locator(".js-plotly-plot")
    picker = charts.nth(charts.count() - 2)  # the panel's matrix, just above the breakdown
    picker.scroll_into_view_if_needed()
    box = picker.locator(".scatterlayer .point").nth(i * n + j).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_for_app(page)
    expect(page.get_by_role("combobox", name="Key token j")).to_have_value(f"{j + 1} · {tokens[j]}")
    found = page.evaluate(BREAKDOWN_JS)
    assert f"s<sub>{i + 1},{j + 1}</sub>" in found["title"]
    score = float(explanation.trace.scores[0, i, j])
    assert sum(found["y"]) == pytest.approx(score, abs=1e-4)
    assert len(found["y"]) == explanation.trace.h.shape[-1]
    expect(page.get_by_test_id("stException")).to_have_count(0)
    heading = page.get_by_role("heading", name="Why this score?")
    heading.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=docs / "breakdown.png")

    page.get_by_text("The query–key map: where every token").click()
    page.get_by_text("Draw the map").click()
    wait_for_app(page, timeout_ms=180_000)
    qk = charts.filter(has=page.locator(".gtitle", has_text="Queries and keys"))
    expect(qk).to_have_count(1, timeout=180_000)
    qk.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    page.screenshot(path=docs / "query-key-map.png")


def test_a_cell_of_the_multi_head_checkpoint_is_broken_down_head_by_head(
    page: Page, app_url: str, wait_for_app, screenshot_dir
) -> None:
    """Issue 22.3: on digits-heads, click a cell of the formula panel's matrix: the breakdown
    is the cell's heaviest head's, its bars sum to that head's score in the trace; another head
    picked gives that head's score. Screenshot: breakdown-heads.png (docs/ keeps it)."""
    from dense_attention.data import images

    info = catalog.discover_checkpoints(catalog.checkpoint_root())["digits-heads"]
    model = checkpoint.load(info.path)
    meta = checkpoint.read_metadata(info.path)
    example = images.test_examples("digits", 1, seed=meta["split_seed"], limit=meta["limit"])[0]
    explanation = model.explain(example.image)  # the page's default: test example 1
    trace, tokens, n = explanation.trace, explanation.tokens, len(explanation.tokens)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{app_url}/image?model=digits-heads&charts=all")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Why this score?")).to_have_count(1, timeout=60_000)
    i, j = 2, 1
    charts = page.locator(".js-plotly-plot")
    picker = charts.nth(charts.count() - 2)  # the panel's matrix, just above the breakdown
    assert "mean of the 4 heads" in picker.evaluate("p => p.layout.title.text")
    picker.scroll_into_view_if_needed()
    box = picker.locator(".scatterlayer .point").nth(i * n + j).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_for_app(page)
    expect(page.get_by_role("combobox", name="Key token j")).to_have_value(f"{j + 1} · {tokens[j]}")
    heaviest = int(trace.head_attn[0, :, i, j].argmax())
    found = page.evaluate(BREAKDOWN_JS)
    assert f"s<sup>{heaviest + 1}</sup><sub>{i + 1},{j + 1}</sub>" in found["title"]
    assert len(found["y"]) == model.config.model.head_dim
    score = float(trace.head_scores[0, heaviest, i, j])
    assert sum(found["y"]) == pytest.approx(score, abs=1e-4)
    assert abs(score - float(trace.scores[0, i, j])) > 1e-3  # not the heads' mean
    expect(page.get_by_test_id("stException")).to_have_count(0)
    heading = page.get_by_role("heading", name="Why this score?")
    heading.evaluate("el => el.scrollIntoView({block: 'start'})")  # the whole chart below it
    page.mouse.move(5, 5)  # no hover: plotly's mode bar stays off the title
    page.wait_for_timeout(500)
    page.screenshot(path=screenshot_dir / "breakdown-heads.png")

    other = (heaviest + 1) % 4
    page.get_by_role("combobox", name="Head").click()
    page.get_by_role("option", name=re.compile(rf"^head {other + 1} ")).click()
    wait_for_app(page)
    found = page.evaluate(BREAKDOWN_JS)
    assert f"s<sup>{other + 1}</sup><sub>{i + 1},{j + 1}</sub>" in found["title"]
    assert sum(found["y"]) == pytest.approx(float(trace.head_scores[0, other, i, j]), abs=1e-4)
    tex = page.locator(".katex-display annotation").all_text_contents()
    assert any(f"a^{{{other + 1}}}_{{{i + 1},{j + 1}}}" in t for t in tex)  # formulas follow
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.locator(".katex-error")).to_have_count(0)


def test_the_attention_page_replaces_each_head_of_the_multi_head_checkpoint(
    page: Page, app_url: str, wait_for_app, screenshot_dir
) -> None:
    """Issue 22.3: "Does attention matter?" on digits-heads shows one row per head (uniform /
    identity, Δp, flips) in a grid that fits its column. Screenshot: attention-heads.png."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{app_url}/attention")
    wait_for_app(page)
    page.get_by_test_id("stRadio").get_by_text("Image", exact=True).click()
    wait_for_app(page)
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name="digits-heads", exact=True).click()
    wait_for_app(page, timeout_ms=120_000)
    heading = page.get_by_role("heading", name="One head at a time: each of the 4 heads replaced")
    expect(heading).to_be_visible(timeout=60_000)
    grid = page.get_by_test_id("stDataFrame").filter(has_text="identity: flips")
    expect(grid).to_have_count(1)
    box, column = grid.bounding_box(), heading.bounding_box()
    assert box["width"] <= column["width"] + 1 and box["height"] > 4 * 30
    expect(page.get_by_test_id("stException")).to_have_count(0)
    heading.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.mouse.move(5, 5)
    page.wait_for_timeout(500)
    page.screenshot(path=screenshot_dir / "attention-heads.png")


def test_the_image_pages_verdict_badge_shows_its_whole_headline(
    page: Page, app_url: str, wait_for_app, screenshot_dir
) -> None:
    """Issue #28.10: at 1280 px the verdict badge sits in a narrow column; it wraps its headline
    onto more lines instead of cutting it with an ellipsis ("uniform attention moves p …")."""
    from dense_attention.data import images
    from dense_attention.explain import faithfulness, verdict

    # The digits test example (of the page's 20) with the longest headline, opened by its link.
    info = catalog.discover_checkpoints(catalog.checkpoint_root())["digits"]
    model, meta = checkpoint.load(info.path), checkpoint.read_metadata(info.path)
    means = faithfulness.stored_means(info.path)
    examples = images.test_examples("digits", 20, seed=meta["split_seed"], limit=meta["limit"])
    headlines = [
        verdict.judge_input(model, faithfulness.features_of(model, e.image), means).headline
        for e in examples
    ]
    k = max(range(len(headlines)), key=lambda n: len(headlines[n]))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{app_url}/image?model=digits&example={k + 1}")
    wait_for_app(page)
    badge = page.locator("span.stMarkdownBadge")
    expect(badge).to_have_count(1, timeout=30_000)
    expect(badge).to_contain_text(headlines[k])
    badge.scroll_into_view_if_needed()
    size = badge.evaluate("b => [b.scrollWidth, b.clientWidth, b.getBoundingClientRect().height]")
    line = page.locator("p", has=badge).evaluate("p => parseFloat(getComputedStyle(p).lineHeight)")
    assert size[0] <= size[1] + 1, size  # nothing hidden past the right edge
    assert len(badge.inner_text()) > 40 and size[2] > 1.5 * line  # a long headline, wrapped
    page.screenshot(path=screenshot_dir / "image-badge.png", full_page=False)


def test_the_multi_head_checkpoint_draws_its_heads(
    page: Page, app_url: str, wait_for_app, screenshot_dir
) -> None:
    """Issue #22.3: the image page of digits-heads draws one small matrix per head and the head
    view, its lines in one colour per head with the weights of that head's matrix."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{app_url}/image?model=digits-heads&charts=all")
    wait_for_app(page)
    view = page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text="Head view"))
    expect(view).to_have_count(1, timeout=60_000)
    expect(page.get_by_text("Each of the 4 heads, one matrix each")).to_be_visible()
    heads_drawn = page.locator(".js-plotly-plot").filter(
        has=page.locator(".gtitle", has_text=re.compile(r"Head \d: a"))
    )
    expect(heads_drawn).to_have_count(4)
    charts = figures(page)
    small = [f for f in charts if re.search(r"Head \d: a", f["title"])]
    assert [re.search(r"Head \d", f["title"])[0] for f in small] == [
        f"Head {k}" for k in (1, 2, 3, 4)
    ]
    mean = np.array(attention_figure(page)["z"])
    heads = np.array([f["z"] for f in small])  # (4, N, N), each row sums to 1
    assert np.allclose(heads.sum(-1), 1, atol=1e-5) and np.allclose(heads.mean(0), mean, atol=1e-5)
    assert np.abs(heads[0] - heads[1]).max() > 0.05  # the heads attend differently
    lines = view.evaluate("""el => el.data.filter(t => t.mode === 'lines' && t.showlegend)
        .map(t => [t.name, t.line.color])""")
    assert [name for name, _ in lines] == ["head 1", "head 2", "head 3", "head 4"]
    assert len({colour for _, colour in lines}) == 4
    drawn = view.evaluate("""el => el.data.filter(t => t.mode === 'lines')
        .map(t => [t.legendgroup, t.x.length / 3])""")
    for k in range(4):
        count = sum(n for group, n in drawn if group == f"head{k}")
        assert count == int((heads[k] >= 0.05).sum())  # one line per weight >= 0.05
    small_first = page.locator(".js-plotly-plot").filter(
        has=page.locator(".gtitle", has_text="Head 1: a")
    )
    small_first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    top = small_first.bounding_box()["y"]
    page.screenshot(path=screenshot_dir / "head-view.png", full_page=False,
                    clip={"x": 0, "y": max(0, top - 60), "width": 1280, "height": 900})  # fmt: skip
    # A click on a head's legend entry hides it (plotly's legend toggling).
    toggle = view.locator(".legend .traces", has=page.locator(".legendtext", has_text="head 2"))
    toggle.locator(".legendtoggle").click()
    page.wait_for_timeout(1000)  # plotly waits out its double-click delay before toggling
    hidden = view.evaluate("el => el.data.filter(t => t.legendgroup === 'head1')"
                           ".map(t => t.visible)")  # fmt: skip
    assert hidden and all(v == "legendonly" for v in hidden)
    toggle.locator(".legendtoggle").click()
    expect(page.get_by_test_id("stException")).to_have_count(0)


# --------------------------------------------------------------------------- languages

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_chinese_from_the_browser_language_and_from_the_switch(
    browser, app_url: str, wait_for_app
) -> None:
    """A browser that prefers Chinese opens the app in Chinese (text page, image page, slide,
    live view); an English one switches with the sidebar's 中文. Screenshots:
    docs/text-page-zh.png, docs/image-page-zh.png and docs/slide-zh.png at 1280 wide."""
    zh = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = zh.new_page()
    page.goto(f"{app_url}/?charts=all")  # whole-page screenshots: every chart drawn (ui.lazy)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="你的句子，一次一个公式")).to_be_visible()
    expect(page.get_by_role("heading", name="全连接层").first).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav").get_by_text("注意力重要吗？")).to_be_visible()
    expect(page.get_by_text("温度 τ").first).to_be_visible()
    expect(page.get_by_test_id("dal-live")).to_contain_text("预测 p")
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.locator(".katex-error")).to_have_count(0)
    # nothing wider than the window: no horizontal scroll in the main area
    main = page.get_by_test_id("stMain")
    assert main.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    screenshot_whole_app(page, DOCS / "text-page-zh.png")

    page.goto(f"{app_url}/image?charts=all")  # the Image page: its own words, its charts
    wait_for_app(page)
    expect(page.get_by_role("heading", name="你的图片，一次一个公式")).to_be_visible()
    expect(page.get_by_role("heading", name="模型看到的内容")).to_be_visible()
    expect(page.get_by_role("heading", name="图片上的注意力")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.locator(".katex-error")).to_have_count(0)
    assert main.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    screenshot_whole_app(page, DOCS / "image-page-zh.png")

    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{app_url}/present")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="1 · 输入")).to_be_visible()
    expect(page.get_by_text("第 1 页，共 8 页")).to_be_visible()
    for _ in range(3):
        page.get_by_role("button", name="下一页 →").click()
    expect(page.get_by_text("第 4 页，共 8 页")).to_be_visible()
    heading = page.get_by_role("heading", name="4 · 注意力权重")
    expect(heading).to_be_visible()
    expect(page.locator(".katex").filter(visible=True).first).to_be_visible()
    expect(page.locator(".katex-error")).to_have_count(0)
    page.screenshot(path=DOCS / "slide-zh.png")
    assert page.get_by_test_id("stMain").evaluate("el => el.scrollHeight") <= 720  # it fits
    expect(page.get_by_text("打开演讲者视图")).to_be_visible()
    zh.close()

    en = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = en.new_page()
    page.goto(app_url)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Your sentence, one formula at a time")).to_be_visible()
    page.get_by_test_id("stSidebar").get_by_text("中文", exact=True).click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="你的句子，一次一个公式")).to_be_visible()
    expect(page.get_by_role("heading", name="注意力池化").first).to_be_visible()
    en.close()


DRAWN = """() => ({
  formulas: [...document.querySelectorAll('.math .katex')]
    .filter((el) => el.getBoundingClientRect().width > 20 && el.getBoundingClientRect().height > 10)
    .length,
  errors: document.querySelectorAll('.katex-error').length,
  raw: [...document.querySelectorAll('.math')].filter((el) => !el.querySelector('.katex')).length,
  charts: [...document.querySelectorAll('.chart .main-svg')]
    .filter((el) => el.getBoundingClientRect().width > 300).length,
  cells: document.querySelectorAll('.chart .hm image, .chart .bars path').length,
})"""


def test_the_handout_opens_offline_with_formulas_and_charts_drawn(
    page: Page, tmp_path: Path, screenshot_dir, text_model
) -> None:
    """Issue #23.4: the handout, opened from disk with every request refused, draws its KaTeX
    formulas and its plotly charts (everything it needs is inside), and prints to a PDF."""
    from dense_attention.figures import handout
    from dense_attention.figures.export import Provenance

    explanation = text_model.explain(EXAMPLE)
    config = text_model.config.model
    about = Provenance("home model", config.similarity, config.temperature, config.pooling,
                       text=EXAMPLE)  # fmt: skip
    source = tmp_path / "handout.html"
    source.write_text(handout.handout_html(explanation, config, about=about,
                                           inputs=text_model.config.text))  # fmt: skip
    requested: list[str] = []

    def refuse(route) -> None:
        requested.append(route.request.url)
        route.abort()

    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else refuse(route))  # fmt: skip
    page.set_viewport_size({"width": 900, "height": 1300})
    page.goto(source.as_uri())
    page.wait_for_selector("body[data-charts=drawn]", state="attached", timeout=30_000)
    drawn = page.evaluate(DRAWN)
    steps = len(formulas_steps := page.locator("section.step").all())
    assert steps == 10 and not requested
    assert drawn["errors"] == 0 and drawn["raw"] == 0
    assert drawn["formulas"] == page.locator(".math").count() >= 2 * steps - 1
    assert drawn["charts"] >= steps and drawn["cells"] > 0
    expect(formulas_steps[4].locator(".worked .katex")).to_contain_text("=")
    page.screenshot(path=str(screenshot_dir / "handout.png"))  # docs/handout.png, looked at
    page.locator("#step-attn").screenshot(path=str(screenshot_dir / "handout_attn.png"))
    pdf = handout.handout_pdf(source.read_text())
    assert pdf.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf)) >= 5


def test_dataset_view_filters_wrong_and_opens_a_row_in_the_walk_through(
    page: Page, app_url: str, wait_for_app, screenshot_dir
) -> None:
    """Run digits over its test split, keep the wrong predictions, click a row's box, open it:
    the Image page shows that very test picture, from the dataset view."""
    page.set_viewport_size({"width": 1400, "height": 1300})
    page.goto(f"{app_url}/dataset?model=digits")
    wait_for_app(page)
    page.get_by_role("button", name="Run the model over 500 test inputs").click()
    expect(page.get_by_text("inputs shown", exact=False).first).to_be_visible(timeout=180_000)
    wait_for_app(page)
    page.get_by_test_id("stRadio").filter(has_text="Predictions").get_by_text("Wrong").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stMetricValue")).to_have_text("0.0%")
    table = page.get_by_test_id("stDataFrame").last
    box = table.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # the first row's selection box
    wait_for_app(page)
    opened = page.get_by_text(re.compile(r"^Input #\d+: true class")).first
    expect(opened).to_be_visible()
    found = re.match(r"Input #(\d+): true class (\S+), predicted (\S+)", opened.inner_text())
    index, label, predicted = found.groups()
    assert label != predicted  # a wrong one, as filtered
    screenshot_whole_app(page, screenshot_dir / "dataset-view.png")  # docs/ keeps it
    page.get_by_role("button", name="Open in the walk-through").click()
    wait_for_app(page)
    expect(page).to_have_url(re.compile(r"/image"))
    name = f"test #{index} · {label} (from the dataset view)"
    expect(page.get_by_text(name, exact=False).first).to_be_visible()
    radio = page.get_by_test_id("stRadio").filter(has_text="Picture")
    expect(radio.get_by_role("radio", name="From the dataset view")).to_be_checked()
    screenshot_whole_app(page, screenshot_dir / "dataset-view-opened.png")


LIT_JS = """(k) => [...document.querySelectorAll('.js-plotly-plot')]
  .filter((gd) => gd.querySelector('.dal-link-layer')?.dataset.dalLit === String(k))
  .map((gd) => {
    const box = (el) => { const r = el.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, left: r.left, right: r.right }; };
    const layer = gd.querySelector('.dal-link-layer');
    return { title: gd._fullLayout.title.text, area: box(gd.querySelector('.nsewdrag')),
      rows: [...layer.querySelectorAll('.dal-row')].map(box),
      cols: [...layer.querySelectorAll('.dal-col')].map(box),
      rings: [...layer.querySelectorAll('circle')].map(box),
      lines: layer.querySelectorAll('line').length };
  })"""


def lit_charts(page: Page, k: int) -> dict[str, dict]:
    """The plotly charts whose linked highlight shows token k, by the start of their title."""
    return {c["title"].replace("<b>", "")[:16].strip(): c for c in page.evaluate(LIT_JS, k)}


def centre_at(band: dict, area: dict, k: int, n: int, axis: str) -> bool:
    """Whether a band sits on token k of n equal slots of the plot area (±2 px)."""
    lo, hi = ("top", "bottom") if axis == "y" else ("left", "right")
    want = area[lo] + (k + 0.5) / n * (area[hi] - area[lo])
    return abs((band[lo] + band[hi]) / 2 - want) <= 2


def overview_fits(page: Page, app_url: str, wait_for_app, size: dict) -> dict:
    page.set_viewport_size(size)
    page.goto(app_url)
    wait_for_app(page)
    overview = page.get_by_test_id("dal-overview")
    overview.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    return overview.evaluate(
        """(el) => { const r = el.getBoundingClientRect();
          const header = document.querySelector('[data-testid="stHeader"]');
          const panels = [...el.querySelectorAll('.dal-ov-panel')]
            .map((p) => p.getBoundingClientRect().right);
          return { top: r.top, bottom: r.bottom, right: r.right, height: r.height,
            header: header ? header.getBoundingClientRect().bottom : 0,
            widest: Math.max(...panels), overflow: el.scrollWidth - el.clientWidth,
            viewport: window.innerHeight, width: window.innerWidth }; }"""
    )


def test_the_overview_fits_a_laptop_screen(page: Page, app_url: str, wait_for_app) -> None:
    """Issue 22.4: the one-screen overview, scrolled to, fits 1366x768 and 1280x720 whole."""
    for size in ({"width": 1366, "height": 768}, {"width": 1280, "height": 720}):
        box = overview_fits(page, app_url, wait_for_app, size)
        print(size, box)
        assert box["height"] <= box["viewport"] - box["header"], box
        assert box["bottom"] <= box["viewport"] and box["right"] <= box["width"], box
        assert box["widest"] <= box["right"] + 1 and box["overflow"] <= 1, box


def test_a_hovered_token_is_highlighted_in_every_chart(
    page: Page, app_url: str, wait_for_app, text_model, screenshot_dir
) -> None:
    """Issue 22.4: hovering a row of the attention matrix, then a token chip, highlights that
    token at its place in the matrix (row and column), v, α and the overview, in the browser;
    a click pins it through a rerun; the query–key map rings its query and key."""
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{app_url}/?charts=all")  # every chart drawn at once (ui.lazy)
    wait_for_app(page)
    n = len(text_model.explain(EXAMPLE).tokens)
    attn = page.locator(".js-plotly-plot").filter(
        has=page.locator(".gtitle", has_text="Attention a")
    )
    attn.first.scroll_into_view_if_needed()
    area = attn.first.locator(".nsewdrag").bounding_box()
    k = 5  # a real plotly_hover on row k of the walk-through's attention matrix
    page.mouse.move(area["x"] + area["width"] * 0.3, area["y"] + area["height"] * (k + 0.5) / n)
    page.wait_for_timeout(300)
    lit = lit_charts(page, k)
    assert {"Attention a<sub>", "Attention values", "Pooling weights"} <= set(lit), list(lit)
    assert len(lit) >= 3
    matrix, values, alpha = (
        lit[t] for t in ("Attention a<sub>", "Attention values", "Pooling weights")
    )
    assert centre_at(matrix["rows"][0], matrix["area"], k, n, "y")
    assert centre_at(matrix["cols"][0], matrix["area"], k, n, "x")
    assert centre_at(values["rows"][0], values["area"], k, n, "y") and not values["cols"]
    assert centre_at(alpha["cols"][0], alpha["area"], k, n, "x") and not alpha["rows"]
    overview = page.get_by_test_id("dal-overview")
    assert overview.get_attribute("data-dal-lit") == str(k)
    assert overview.locator(f'.dal-ov-panel[data-dal-lit="{k}"]').count() == 8  # names + 7
    expect(page.locator(f'[data-dal-token="{k}"].dal-lit').first).to_be_visible()

    m = 3  # a token chip: the same, for token m, within a frame
    chip = page.locator(f'[data-dal-token="{m}"]').first
    chip.hover()
    page.wait_for_timeout(200)
    assert len(lit_charts(page, m)) >= 3 and not lit_charts(page, k)
    took = page.evaluate("() => window.__dalLinked.lastMs")
    print(f"highlight drawn in {took:.1f} ms over {len(lit_charts(page, m))} charts")
    assert took < 100

    chip.click()  # pinned: kept through the rerun and a new τ (the fragment draws it again)
    wait_for_app(page)
    page.mouse.move(5, 5)
    page.get_by_test_id("stSidebar").get_by_role("slider").first.focus()
    page.keyboard.press("ArrowRight")
    wait_for_app(page)
    expect(overview).to_have_attribute("data-dal-lit", str(m))
    expect(overview.locator(".dal-ov-title").nth(3)).not_to_contain_text("τ = 0.07")
    assert len(lit_charts(page, m)) >= 3
    overview.evaluate("el => el.scrollIntoView({block: 'center'})")  # its heading in view
    page.wait_for_timeout(300)
    page.screenshot(path=screenshot_dir / "overview.png")

    page.get_by_text("The query–key map: where every token").click()
    page.get_by_text("Draw the map").click()
    wait_for_app(page, timeout_ms=180_000)
    qk = page.locator(".js-plotly-plot").filter(
        has=page.locator(".gtitle", has_text="Queries and keys")
    )
    expect(qk).to_have_count(1, timeout=180_000)
    qk.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    (found,) = [c for t, c in lit_charts(page, m).items() if t.startswith("Queries")]
    # the sample is WebGL; the SVG scatter layer holds this input's queries, then its keys
    point = qk.locator(".scatterlayer .trace").nth(0).locator(".point").nth(m).bounding_box()
    ring = found["rings"][0]
    assert abs((ring["left"] + ring["right"]) / 2 - (point["x"] + point["width"] / 2)) <= 2
    assert abs((ring["top"] + ring["bottom"]) / 2 - (point["y"] + point["height"] / 2)) <= 2
    assert found["lines"] >= 1 and len(found["rings"]) == 2
    page.screenshot(path=screenshot_dir / "query-key-map.png")


def test_seed_variance_trains_the_seeds_and_shows_alpha_per_seed(
    page: Page, app_url: str, wait_for_app, screenshot_dir
) -> None:
    """Issue #24.2: on the attention page, a digits picture; 3 seeds of 2 epochs each are trained
    in a job, then α per seed and the answer in words are shown for that picture."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{app_url}/attention")
    wait_for_app(page)
    page.get_by_test_id("stRadio").get_by_text("Image").click()
    wait_for_app(page)
    epochs = page.get_by_role("spinbutton", name="Epochs per seed")
    epochs.scroll_into_view_if_needed()
    epochs.fill("2")
    epochs.press("Enter")
    wait_for_app(page)
    expect(
        page.get_by_text(re.compile(r"Trains this model's recipe 3 times, 2 epochs"))
    ).to_be_visible()
    page.get_by_role("button", name="Train the seeds").click()
    chart = page.locator(".js-plotly-plot").filter(
        has=page.locator(".gtitle", has_text="α per seed")
    )
    expect(chart).to_have_count(1, timeout=300_000)
    expect(chart.locator(".barlayer .trace")).to_have_count(3)  # one per seed
    answer = page.get_by_text(re.compile(r"^(Yes|No|The prediction is stable)[:,]"))
    expect(answer).to_be_visible()
    expect(page.get_by_text(re.compile(r"seeds predict"))).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)
    page.set_viewport_size({"width": 1280, "height": 1350})  # the panel whole: chart, words
    heading = page.get_by_role("heading", name="Another seed, the same attention?")
    heading.evaluate("h => h.scrollIntoView({block: 'start'})")
    wait_for_app(page)  # the whole page reruns once the job is over: shoot it settled
    page.wait_for_timeout(800)
    page.screenshot(path=screenshot_dir / "seed-variance.png")
