"""figures.handout: the HTML holds the input, the prediction, every step's formula with numbers
equal to the trace's, the words and the charts, with nothing fetched from a network; the PDF is
a real PDF with pages, and a server without Chromium is told so."""

import base64
import gzip
import html
import json
import re

import pytest
import tiny
import torch

from dense_attention.explain import formulas, words, worked
from dense_attention.explain.formulas import fmt_number
from dense_attention.figures import handout
from dense_attention.figures.export import Provenance

TEXT = "one two <b>three</b> & four"


@pytest.fixture(scope="module")
def text_case():
    model = tiny.text_classifier()
    explanation = model.explain(TEXT)
    about = Provenance("tiny", explanation.trace.similarity, 1.0, "learned", text=TEXT,
                       verdict="The pooling α decides.")  # fmt: skip
    page = handout.handout_html(
        explanation, model.config.model, about=about, cell=(1, 2), inputs=model.config.text
    )
    return model, explanation, page


def sections(page: str) -> dict[str, str]:
    """Each step's <section> by its data-step."""
    found = re.findall(r'<section class="step" id="step-(\w+)" data-step="\1">(.*?)</section>',
                       page, flags=re.S)  # fmt: skip
    return dict(found)


def maths(section: str) -> list[str]:
    """The LaTeX of a section's formulas, unescaped."""
    return [html.unescape(m) for m in re.findall(r'<div class="math[^"]*">(.*?)</div>', section)]


def test_every_step_has_its_formula_words_numbers_and_chart(text_case):
    model, explanation, page = text_case
    config, trace = model.config.model, explanation.trace
    found = sections(page)
    assert tuple(found) == formulas.STEP_KEYS
    numbers = worked.worked_steps(trace, (1, 2), explanation.tokens, explanation.classes, config)
    for key, section in found.items():
        general = formulas.step_latex(key, trace.similarity, config, trace.temperature)
        assert maths(section)[0] == general
        assert numbers[key] in maths(section), key
        assert html.escape(words.caption(key, config, model.config.text)) in section
        assert section.count('<div class="chart">') == 1
        figure = json.loads(re.search(r'type="application/json">(.*?)</script>', section).group(1))
        assert figure["data"], key


def test_the_numbers_are_the_traces(text_case):
    """Each step's numbers, read back out of the HTML, equal the trace's tensors."""
    _, explanation, page = text_case
    trace, found = explanation.trace, sections(page)
    t = {name: getattr(trace, name)[0].double() for name in ("x", "h", "scores", "attn", "values")}
    i, j = 1, 2
    tau = trace.temperature
    expected = {
        "x": [t["x"][i, 0], t["x"][j, 0]],
        "h": [t["h"][i, 0], t["h"][j, 0]],
        "similarity": [t["scores"][i, j] * tau, t["scores"][i, i] * tau],
        "scores": [t["scores"][i, j]],
        "attn": [torch.softmax(t["scores"][i], 0)[j]],
        "values": [t["attn"][i] @ t["h"][:, 0]],
        "alpha": [torch.softmax(trace.pool_scores[0].double(), 0)[i]],
        "c": [trace.c[0, 0]],
        "h_o": [t["h"][:, 0].mean()],
        "probs": [trace.probs[0].max()],
    }
    for key, values in expected.items():
        latex = " ".join(maths(found[key])[1:])  # the worked formula, not the general one
        for value in values:
            assert fmt_number(float(value)) in latex, (key, float(value))


def test_the_input_prediction_and_verdict_are_there_escaped(text_case):
    _, explanation, page = text_case
    assert f"<blockquote>{html.escape(TEXT)}</blockquote>" in page and "<b>three</b>" not in page
    probs = explanation.trace.probs[0]
    top = int(probs.argmax())
    assert f"Prediction: <b>{explanation.classes[top]}</b> ({float(probs[top]):.1%})" in page
    assert "The pooling α decides." in page
    for k, token in enumerate(explanation.tokens):
        assert f"<span>{html.escape(token)}<sub>{k + 1}</sub></span>" in page


def test_everything_is_inside_once_and_nothing_is_fetched(text_case):
    _, _, page = text_case
    assert page.count('id="plotly-gz"') == 1 and page.count("window.katex=") == 1
    assert page.count('<div class="chart">') == len(formulas.STEP_KEYS)
    packed = re.search(r'id="plotly-gz" type="application/octet-stream">([^<]*)<', page).group(1)
    plotly_js = gzip.decompress(base64.b64decode(packed)).decode()
    assert "Plotly" in plotly_js and len(plotly_js) > 1_000_000
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert not re.search(r"url\((?!data:)", page)  # every font a data URI
    assert "@font-face" in page and "KaTeX_Main" in page
    assert len(page.encode()) < 3_500_000


def test_the_cell_defaults_to_the_inputs_strongest_link(text_case):
    model, explanation, _ = text_case
    page = handout.handout_html(explanation, model.config.model)
    from dense_attention.explain import attention_work

    i, j = attention_work.lesson_cell(explanation.trace.attn[0], explanation.trace.alpha[0])
    assert f"query token i = {i + 1} " in page and f"key token j = {j + 1} " in page


def test_an_image_handout_shows_the_picture():
    model = tiny.image_classifier()
    pixels = torch.rand(8, 8, 1).numpy()
    explanation = model.explain(pixels[..., 0])
    png = handout.picture_png(pixels)
    assert png.startswith(b"\x89PNG")
    page = handout.handout_html(explanation, model.config.model, picture=png,
                                inputs=model.config.image)  # fmt: skip
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in page
    assert "grey levels of its 4×4-pixel patch" in page


def test_katex_comes_from_streamlit_with_its_fonts_inlined():
    script, css = handout.katex_assets()
    assert script.startswith("(function(){") and "window.katex=" in script
    assert "export{" not in script and "</script" not in script
    assert css.count("@font-face") >= 10 and "../media" not in css
    assert ".katex" in css


def test_the_pdf_has_pages(text_case):
    _, _, page = text_case
    pdf = handout.handout_pdf(page)
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    assert 2 <= pages <= 20
    assert re.search(rb"/Count\s+" + str(pages).encode(), pdf)  # the page tree agrees


def test_without_chromium_the_pdf_says_why(text_case, monkeypatch):
    monkeypatch.setattr(handout.shutil, "which", lambda name: None)
    assert handout.chromium_path() is None
    with pytest.raises(handout.HandoutError, match="needs Chromium on the server"):
        handout.handout_pdf(text_case[2])
