"""The app under streamlit.testing: every page runs, and shows the library's numbers.

Text and compare pages use the first text checkpoint under assets/checkpoints (or the folder
named by $DENSE_ATTENTION_CHECKPOINTS); the tests fail, never skip, when there is none.
"""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dense_attention import catalog, checkpoint, reference, ui
from dense_attention.formulas import SIMILARITIES, fmt_number
from dense_attention.toy import toy_example
from dense_attention.train import pick_device

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
EXAMPLE = "The striker scored twice in the final"  # the text page's first example, its default
ATOL = 2e-5  # the app and the test may run MiniLM with different thread counts


@pytest.fixture(scope="module")
def toy():
    return toy_example()


@pytest.fixture(scope="module")
def text_model():
    """The first text checkpoint, loaded as the app loads it: the page's default model."""
    found = [
        c
        for c in catalog.discover_checkpoints(catalog.checkpoint_root()).values()
        if c.kind == "text"
    ]
    if not found:
        pytest.fail(
            f"no text checkpoint under {catalog.checkpoint_root()}: train one, e.g. `python -m "
            "dense_attention train --dataset bbc-topics --out assets/checkpoints/bbc-topics`",
            pytrace=False,
        )
    return checkpoint.load(found[0].path, device=pick_device())


def run(target) -> AppTest:
    """Run the app (or the app of a widget just set) and check that nothing raised."""
    at = target.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def open_page(page: str | None = None) -> AppTest:
    at = run(AppTest.from_file(APP, default_timeout=60))
    return run(at.switch_page(page)) if page else at


@pytest.fixture
def text_page() -> AppTest:
    return open_page()


@pytest.fixture
def model_page() -> AppTest:
    return open_page("views/model.py")


def figures(at: AppTest) -> list[dict]:
    """Every plotly figure on the page, as the browser would receive it."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def titled(at: AppTest, prefix: str) -> list[dict]:
    return [f for f in figures(at) if f["layout"]["title"]["text"].startswith(prefix)]


def decode(value) -> np.ndarray:
    """A plotly data array from figure JSON: a list, or binary {"dtype", "bdata", "shape"}
    (plots sends matrices above HOVER_CELLS_MAX cells that way)."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(size) for size in str(value.get("shape", flat.size)).split(",")]
        return flat.reshape(shape).astype(float)
    return np.array(value, dtype=float)


def z(fig: dict) -> np.ndarray:
    return decode(fig["data"][0]["z"])


def attention_matrices(at: AppTest) -> list[np.ndarray]:
    """z of every attention heatmap of the walk-through and the formula panel."""
    return [z(f) for f in titled(at, "Attention a")]


def latex_text(at: AppTest) -> str:
    return "\n".join(latex.value for latex in at.latex)


def set_sentence(at: AppTest, text: str) -> AppTest:
    return run(at.text_area(key=ui.SENTENCE_WIDGET).set_value(text))


# --------------------------------------------------------------------------- the model page


def test_model_page_shows_every_step(model_page, toy):
    at = model_page
    assert at.title[0].value == "The model, one formula at a time"
    assert len(at.get("plotly_chart")) == 11  # ten steps + the clickable attention matrix
    assert len(at.latex) >= 10 + 6
    assert "does not run" in at.info[0].value
    matrices = attention_matrices(at)
    assert len(matrices) == 2
    for matrix in matrices:
        np.testing.assert_allclose(matrix, toy.trace().attn[0].numpy(), atol=1e-7)


def test_model_page_similarity_and_temperature_retrace(model_page, toy):
    at = model_page
    before = attention_matrices(at)[0]
    run(at.selectbox(key="similarity").set_value("cosine"))
    after = attention_matrices(at)[0]
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, toy.trace("cosine", 1.0).attn[0].numpy(), atol=1e-7)
    run(at.select_slider(key="temperature").set_value(0.1))
    np.testing.assert_allclose(
        attention_matrices(at)[0], toy.trace("cosine", 0.1).attn[0].numpy(), atol=1e-7
    )
    assert r"\tau = 0.1" in latex_text(at)


def test_model_page_selected_cell_shows_its_numbers(model_page, toy):
    at = model_page
    at.selectbox(key="cell_i").set_value(4)
    run(at.selectbox(key="cell_j").set_value(1))
    a_ij = float(toy.trace().attn[0, 4, 1])
    text = latex_text(at)
    assert r"a_{5,2}" in text and fmt_number(a_ij) in text
    outline = figures(at)[-1]["layout"]["shapes"][0]
    assert (outline["x0"], outline["y0"]) == (0.5, 3.5)  # cell (i=5, j=2), 1-based


# --------------------------------------------------------------------------- the text page


def test_text_page_is_home_and_walks_through_the_default_sentence(text_page, text_model):
    at = text_page
    assert at.title[0].value == "Your sentence, one formula at a time"
    assert at.text_area(key=ui.SENTENCE_WIDGET).value == EXAMPLE
    explanation = text_model.explain(EXAMPLE)
    tokens = explanation.tokens
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "striker" in tokens
    chips = at.get("html")[0].proto.body
    assert all(f"{t}</span>" in chips for t in tokens)
    assert len(at.get("plotly_chart")) == 11
    matrices = attention_matrices(at)
    assert len(matrices) == 2  # the walk-through's and the formula panel's
    for matrix in matrices:
        np.testing.assert_allclose(matrix, explanation.trace.attn[0].cpu().numpy(), atol=ATOL)
    for fig in [*titled(at, "Attention a"), *titled(at, "Scores"), *titled(at, "Similarity")]:
        assert fig["layout"]["xaxis"]["ticktext"] == tokens
        assert fig["layout"]["yaxis"]["ticktext"] == tokens
    (h_fig,) = titled(at, "Dense layer")
    np.testing.assert_allclose(z(h_fig), explanation.trace.h[0].cpu().numpy(), atol=ATOL)
    (probs,) = titled(at, "Output probabilities")
    np.testing.assert_allclose(probs["data"][0]["y"], explanation.trace.probs[0].cpu(), atol=ATOL)
    winner = explanation.classes[int(explanation.trace.probs[0].argmax())]
    assert any(f"Prediction: **{winner}**" in m.value for m in at.markdown)
    assert "does not" not in " ".join(e.value for e in at.error)


def test_typed_sentence_is_traced(text_page, text_model):
    sentence = "Shares fell sharply after the bank warned about profits"
    at = set_sentence(text_page, sentence)
    explanation = text_model.explain(sentence)
    for matrix in attention_matrices(at):
        np.testing.assert_allclose(matrix, explanation.trace.attn[0].cpu().numpy(), atol=ATOL)
    assert titled(at, "Attention a")[0]["layout"]["xaxis"]["ticktext"] == explanation.tokens


def test_example_sentences_are_one_click_away(text_page, text_model):
    at = text_page
    example = "Worst customer service ever"
    assert example in at.pills[0].options
    run(at.pills[0].set_value(example))
    assert at.text_area(key=ui.SENTENCE_WIDGET).value == example
    assert at.pills[0].value is None  # a shortcut, not a lasting selection
    expected = text_model.explain(example).trace.attn[0].cpu().numpy()
    np.testing.assert_allclose(attention_matrices(at)[0], expected, atol=ATOL)


def test_similarity_change_retraces_and_is_marked(text_page, text_model):
    at = text_page
    trained = text_model.config.model.similarity
    other = "cosine" if trained != "cosine" else "dot"
    before = attention_matrices(at)[0]
    run(at.selectbox(key=ui.SIMILARITY_WIDGET).set_value(other))
    after = attention_matrices(at)[0]
    assert not np.allclose(before, after)
    expected = text_model.explain(EXAMPLE, similarity=other).trace.attn[0].cpu().numpy()
    np.testing.assert_allclose(after, expected, atol=ATOL)
    assert f"≠ trained: {trained}" in " ".join(c.value for c in at.sidebar.caption)
    assert SIMILARITIES[other].latex in latex_text(at)  # the step's formula follows


@pytest.mark.parametrize("temperature", [0.01, 100.0])
def test_extreme_temperatures_show_no_nan(text_page, text_model, temperature):
    at = run(text_page.select_slider(key=ui.TEMPERATURE_WIDGET).set_value(temperature))
    for fig in figures(at):
        for trace in fig["data"]:
            for field in ("z", "y"):
                if isinstance(trace.get(field), list | dict):
                    values = decode(trace[field])
                    assert np.isfinite(values).all(), (fig["layout"]["title"]["text"], field)
    assert "NaN" not in latex_text(at) and r"\infty" not in latex_text(at)
    expected = text_model.explain(EXAMPLE, temperature=temperature).trace.attn[0].cpu().numpy()
    np.testing.assert_allclose(attention_matrices(at)[0], expected, atol=ATOL)
    trained = text_model.config.model.temperature
    assert f"≠ trained: τ = {trained:g}" in " ".join(c.value for c in at.sidebar.caption)


def test_mean_pooling_gives_uniform_alpha(text_page):
    at = run(text_page.radio(key=ui.POOLING_WIDGET).set_value("mean"))
    (alpha,) = titled(at, "Pooling weights")
    y = np.array(alpha["data"][0]["y"])
    np.testing.assert_allclose(y, np.full_like(y, 1 / len(y)), atol=ATOL)
    assert "mean pooling" in latex_text(at)


def test_formula_panel_shows_the_traced_numbers(text_page, text_model):
    at = text_page
    at.selectbox(key="cell_i").set_value(3)
    run(at.selectbox(key="cell_j").set_value(1))
    trace = text_model.explain(EXAMPLE).trace
    text = latex_text(at)
    assert r"a_{4,2}" in text and fmt_number(float(trace.attn[0, 3, 1])) in text
    assert fmt_number(float(trace.scores[0, 3, 1])) in text
    assert fmt_number(float(trace.alpha[0, 3])) in text
    outline = figures(at)[-1]["layout"]["shapes"][0]
    assert (outline["x0"], outline["y0"]) == (0.5, 2.5)  # cell (i=4, j=2), 1-based


def test_a_shorter_sentence_keeps_the_selected_cell_inside(text_page):
    at = text_page
    run(at.selectbox(key="cell_i").set_value(8))
    at = set_sentence(at, "Great")  # [CLS] great [SEP]
    assert at.selectbox(key="cell_i").value <= 2 and at.selectbox(key="cell_j").value <= 2


def test_empty_text_shows_a_friendly_prompt(text_page):
    at = set_sentence(text_page, "   \n  ")
    assert any("Type a sentence" in info.value for info in at.info)
    assert not at.get("plotly_chart") and not at.error


def test_long_text_is_truncated_with_a_notice(text_page, text_model):
    text = "word " * 10_000  # 50,000 characters
    at = set_sentence(text_page, text)
    max_len = text_model.config.text.max_len
    notice = " ".join(w.value for w in at.warning)
    assert f"{max_len} of at least" in notice and "tokens kept" in notice
    assert attention_matrices(at)[0].shape == (max_len, max_len)


def test_exports_are_offered_for_every_figure_and_the_trace(text_page):
    labels = [b.label for b in text_page.get("download_button")]
    assert labels.count("PNG image") == labels.count("HTML (interactive)") == 10
    assert labels.count("CSV (the numbers)") == 10
    assert "Download the whole trace (JSON)" in labels


def test_settings_follow_the_user_to_the_compare_page(text_page):
    at = run(text_page.selectbox(key=ui.SIMILARITY_WIDGET).set_value("neg_euclidean"))
    at = run(at.switch_page("views/compare.py"))
    assert at.selectbox(key=ui.SIMILARITY_WIDGET).value == "neg_euclidean"
    assert titled(at, "A: neg_euclidean")


# --------------------------------------------------------------------------- the compare page


@pytest.fixture
def compare_page() -> AppTest:
    return open_page("views/compare.py")


def test_compare_page_shows_both_settings_and_their_difference(compare_page, text_model):
    at = compare_page
    trained = text_model.config.model
    other = "cosine" if trained.similarity != "cosine" else "scaled_dot"  # the page's default B
    a = text_model.explain(EXAMPLE).trace.attn[0].cpu().numpy()
    b = text_model.explain(EXAMPLE, similarity=other).trace.attn[0].cpu().numpy()
    (fig_a,) = titled(at, f"A: {trained.similarity}")
    (fig_b,) = titled(at, f"B: {other}")
    np.testing.assert_allclose(z(fig_a), a, atol=ATOL)
    np.testing.assert_allclose(z(fig_b), b, atol=ATOL)
    (diff,) = titled(at, "Difference B − A")
    np.testing.assert_allclose(z(diff), b - a, atol=ATOL)
    (entropy,) = titled(at, "Row entropy")
    for bars, attn in zip(entropy["data"], (a, b), strict=True):
        np.testing.assert_allclose(bars["y"], reference.attention_entropy(attn), atol=1e-5)
    run(at.select_slider(key="compare_temperature").set_value(0.1))
    b = text_model.explain(EXAMPLE, similarity=other, temperature=0.1).trace.attn[0]
    np.testing.assert_allclose(z(titled(at, f"B: {other}, τ = 0.1")[0]), b.cpu(), atol=ATOL)


def test_compare_page_puts_minilm_beside_ours(compare_page, text_model):
    at = compare_page
    batch = text_model.encoder.tokenize([EXAMPLE])
    ref = reference.minilm_attention(batch)
    (theirs,) = titled(at, "MiniLM layer 1, mean of heads")
    np.testing.assert_allclose(z(theirs), ref.head(0), atol=1e-5)
    (ours,) = titled(at, "Dense attention")
    assert theirs["layout"]["xaxis"]["ticktext"] == ours["layout"]["xaxis"]["ticktext"]
    assert ours["layout"]["xaxis"]["ticktext"] == batch.tokens[0]
    at.select_slider(key="ref_layer").set_value(3)
    run(at.selectbox(key="ref_head").set_value(5))
    (theirs,) = titled(at, "MiniLM layer 3, head 5")
    np.testing.assert_allclose(z(theirs), ref.attentions[2, 4], atol=1e-5)


def test_compare_page_empty_text_prompts(compare_page):
    at = set_sentence(compare_page, "")
    assert any("Type a sentence" in info.value for info in at.info)
    assert not at.get("plotly_chart")


# --------------------------------------------------------------------------- about and all pages


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


# --------------------------------------------------------------------------- the present page


@pytest.fixture
def present_page() -> AppTest:
    return open_page("views/present.py")


def slide_counter(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "Slide " in m.value and " of " in m.value)


def test_present_page_opens_on_the_input_slide(present_page, text_model):
    at = present_page
    assert at.session_state[ui.SLIDE] == 0
    assert at.title[0].value == "1 · The input"
    assert "Slide 1 of 8" in slide_counter(at)
    assert at.button(key="slide_previous").disabled and not at.button(key="slide_next").disabled
    tokens = text_model.explain(EXAMPLE).tokens
    chips = " ".join(el.proto.body for el in at.get("html"))
    assert all(f"{t}</span>" in chips for t in tokens)
    assert r"x_i \in" in latex_text(at)
    (x_fig,) = titled(at, "Input x")
    assert x_fig["layout"]["yaxis"]["ticktext"] == tokens
    assert at.expander[0].label == "Speaker notes"


def test_present_page_next_and_previous_move_one_slide(present_page, text_model):
    at = run(present_page.button(key="slide_next").click())
    assert at.session_state[ui.SLIDE] == 1 and "Slide 2 of 8" in slide_counter(at)
    assert at.title[0].value == "2 · A dense layer"
    assert "h_i = " in latex_text(at) and not at.button(key="slide_previous").disabled
    (h_fig,) = titled(at, "Dense layer")
    expected = text_model.explain(EXAMPLE).trace.h[0].cpu().numpy()
    np.testing.assert_allclose(z(h_fig), expected, atol=ATOL)
    at = run(at.button(key="slide_previous").click())
    assert at.session_state[ui.SLIDE] == 0 and at.title[0].value == "1 · The input"


def test_present_page_last_slide_and_out_of_range_index(present_page, text_model):
    at = present_page
    at.session_state[ui.SLIDE] = 99  # e.g. from a shared URL: clamped to the last slide
    at = run(at)
    assert at.session_state[ui.SLIDE] == 7 and "Slide 8 of 8" in slide_counter(at)
    assert at.button(key="slide_next").disabled and not at.button(key="slide_previous").disabled
    assert "softmax" in latex_text(at)
    explanation = text_model.explain(EXAMPLE)
    winner = explanation.classes[int(explanation.trace.probs[0].argmax())]
    assert any(f"Prediction: **{winner}**" in m.value for m in at.markdown)


def test_present_page_follows_the_sentence_and_the_settings(present_page, text_model):
    at = run(present_page.text_input(key="present_sentence").set_value("Worst service ever"))
    at.session_state[ui.SLIDE] = 3
    at = run(at.selectbox(key=ui.SIMILARITY_WIDGET).set_value("cosine"))
    (attn,) = attention_matrices(at)
    expected = text_model.explain("Worst service ever", similarity="cosine").trace.attn[0]
    np.testing.assert_allclose(attn, expected.cpu().numpy(), atol=ATOL)
    assert at.session_state[ui.SENTENCE] == "Worst service ever"  # the text page shows it too


def test_present_page_switches_to_an_image(present_page):
    at = run(present_page.radio(key="present_source").set_value("Image"))
    assert at.title[0].value == "1 · The input"
    assert titled(at, "The 8×8 input, cut into")  # the picture with its patch grid
    options = at.selectbox(key=ui.PRESENT_PHOTO).options
    assert options[0].startswith("test 1 · ") and "coffee" in options  # its dataset's pictures
    assert at.selectbox(key=ui.PRESENT_PHOTO).value == options[0]
    at = run(at.selectbox(key=ui.PRESENT_PHOTO).set_value("coffee"))
    at = run(at.button(key="slide_next").click())
    assert "Slide 2 of 8" in slide_counter(at) and titled(at, "Dense layer")


# --------------------------------------------------------------------------- shareable views


def shared(**params: str) -> AppTest:
    """The app opened from a link with these query parameters."""
    at = AppTest.from_file(APP, default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    return run(at)


def test_a_shared_link_restores_sentence_model_and_settings(text_model):
    name = next(n for n, c in ui.checkpoints().items() if c.kind == "text")
    at = shared(text="Voters head to the polls", model=name, similarity="dot",
                temperature="0.5", pooling="mean")  # fmt: skip
    assert at.text_area(key=ui.SENTENCE_WIDGET).value == "Voters head to the polls"
    assert at.selectbox(key=ui.MODEL_WIDGET).value == name
    assert at.selectbox(key=ui.SIMILARITY_WIDGET).value == "dot"
    assert at.select_slider(key=ui.TEMPERATURE_WIDGET).value == 0.5
    assert at.radio(key=ui.POOLING_WIDGET).value == "mean"
    expected = text_model.explain("Voters head to the polls", similarity="dot", temperature=0.5,
                                  pooling="mean").trace.attn[0]  # fmt: skip
    np.testing.assert_allclose(attention_matrices(at)[0], expected.cpu().numpy(), atol=ATOL)


def test_the_view_is_written_into_the_url(text_page):
    at = run(text_page.text_area(key=ui.SENTENCE_WIDGET).set_value("Shares fell"))
    at = run(at.selectbox(key=ui.SIMILARITY_WIDGET).set_value("cosine"))
    params = dict(at.query_params)
    flat = {k: v[0] if isinstance(v, list) else v for k, v in params.items()}
    assert flat["text"] == "Shares fell" and flat["similarity"] == "cosine"
    assert flat["model"] == at.selectbox(key=ui.MODEL_WIDGET).value and "temperature" in flat


def test_a_shared_link_opens_the_same_slide_and_picture():
    photo = "coffee"
    at = shared(slide="3", input="image", image=photo)
    at = run(at.switch_page("views/present.py"))
    assert "Slide 3 of 8" in slide_counter(at) and at.title[0].value.startswith("3 ·")
    assert at.radio(key=ui.PRESENT_SOURCE).value == "Image"
    assert at.selectbox(key=ui.PRESENT_PHOTO).value == photo


def test_a_link_with_bad_values_opens_the_defaults(text_model):
    at = shared(model="no-such-model", similarity="manhattan", temperature="nan", slide="x",
                image="../../etc/passwd", input="video")  # fmt: skip
    assert not at.error and at.selectbox(key=ui.SIMILARITY_WIDGET).value in SIMILARITIES
    name = next(n for n, c in ui.checkpoints().items() if c.kind == "text")
    at = shared(model=name, temperature="1e-40")  # NaN-prone: outside the slider's range
    assert not at.error and not at.exception
    assert at.select_slider(key=ui.TEMPERATURE_WIDGET).value == text_model.config.model.temperature
    at = run(at.switch_page("views/present.py"))
    assert "Slide 1 of 8" in slide_counter(at)
