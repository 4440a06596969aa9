"""The About page, and every page running and rerunning without an exception."""

import pytest
from pagetest import open_page, run


def test_about_page_has_the_table_and_the_departures():
    at = open_page("views/about.py")
    text = "\n".join(m.value for m in at.markdown)
    assert "| step | formula | Trace field | shape |" in text
    for field in ("x", "h", "scores", "attn", "values", "alpha", "c", "h_o", "logits, probs"):
        assert f"`{field}`" in text or f", {field}`" in text or f"`{field}," in text
    assert "does not run" in text and "`matmul(a, h)`" in text and "128 wide" in text
    assert any(h.value == "Where this project departs from the article" for h in at.header)


@pytest.mark.parametrize(
    "page",
    ["views/text.py", "views/model.py", "views/compare.py", "views/about.py", "views/present.py"],
)
def test_every_page_runs_and_reruns(page, text_model):
    at = open_page(page)
    assert at.title and not at.error
    run(at)  # a second run (cached loads) shows the same page
    assert at.title
