"""The Text page (home): the walk-through of a sentence, live settings, formula panel, exports."""

import html
import json
import re

import numpy as np
import pytest
from pagetest import (
    ATOL,
    EXAMPLE,
    HOME_EXAMPLES,
    attention_matrices,
    decode,
    figures,
    latex_text,
    open_page,
    retrained,
    run,
    set_sentence,
    titled,
    z,
)

from dense_attention.explain import diagonal, faithfulness, familiarity, verdict
from dense_attention.explain.formulas import SIMILARITIES, fmt_number
from dense_attention.storage import catalog, checkpoint
from dense_attention.ui import state
from dense_attention.ui.styles import md


def test_text_page_is_home_and_walks_through_the_default_sentence(text_page, text_model):
    at = text_page
    assert at.title[0].value == "Your sentence, one formula at a time"
    assert at.text_area(key=state.SENTENCE_WIDGET).value == EXAMPLE
    explanation = text_model.explain(EXAMPLE)
    tokens = explanation.tokens
    longest = max(re.findall(r"[A-Za-z]+", EXAMPLE), key=len).lower()  # a word of the sentence
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and longest in tokens
    chips = at.get("html")[0].proto.body
    assert all(f"{html.escape(t)}</span>" in chips for t in tokens)
    assert len(at.get("plotly_chart")) == 12  # ten steps, the panel's matrix, its breakdown
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


def test_the_home_page_opens_on_the_models_own_structured_example(text_page, text_model, found):
    """Issue #13.3: a topic model opens on a topic sentence it gets right with confidence below
    100% and visibly structured attention, and is never offered a sentiment sentence."""
    own = catalog.examples_for(found["bbc-topics"])
    assert own != catalog.GENERIC_EXAMPLES and own[0] == EXAMPLE
    assert list(own) == list(HOME_EXAMPLES)
    assert list(text_page.pills[0].options) == [md(s) for s in own]  # shown escaped
    assert "Worst customer service ever" not in text_page.pills[0].options
    metrics = json.loads((found["bbc-topics"].path / "metrics.json").read_text())
    chosen = metrics["examples_detail"]["chosen"]  # with the label each sentence was written for
    (label,) = [e["label"] for e in chosen if e["sentence"] == EXAMPLE]
    trace = text_model.explain(EXAMPLE).trace
    k = int(trace.probs[0].argmax())
    assert text_model.classes[k] == label and 0.5 < float(trace.probs[0, k]) < 0.99
    assert verdict.attention_spread(trace).ratio < 0.6  # entropy / log N: far from uniform
    assert verdict.mean_diagonal(trace) <= verdict.DIAGONAL  # issue #27.3: tokens look elsewhere


def test_an_untouched_default_follows_the_model_but_a_typed_one_stays(text_page, found):
    at = run(text_page.sidebar.selectbox(key=state.MODEL_WIDGET).set_value("tweet-sentiment"))
    tweets = catalog.examples_for(found["tweet-sentiment"])
    assert at.text_area(key=state.SENTENCE_WIDGET).value == tweets[0]
    assert list(at.pills[0].options) == [md(s) for s in tweets]
    at = set_sentence(at, "Markets rallied on Friday")
    at = run(at.sidebar.selectbox(key=state.MODEL_WIDGET).set_value("bbc-topics"))
    assert at.text_area(key=state.SENTENCE_WIDGET).value == "Markets rallied on Friday"


def test_example_sentences_are_one_click_away(text_page, text_model):
    at = text_page
    example = HOME_EXAMPLES[1]
    assert md(example) in at.pills[0].options
    run(at.pills[0].set_value(example))
    assert at.text_area(key=state.SENTENCE_WIDGET).value == example
    assert at.pills[0].value is None  # a shortcut, not a lasting selection
    expected = text_model.explain(example).trace.attn[0].cpu().numpy()
    np.testing.assert_allclose(attention_matrices(at)[0], expected, atol=ATOL)


def test_similarity_change_on_the_home_model_loads_the_model_trained_with_it(text_page, text_model):
    """Issue #13.2: bbc-topics has a checkpoint per similarity; picking one loads its weights."""
    at = text_page
    shipped = text_model.config.model.similarity
    assert shipped != "dot"  # else picking dot would change nothing
    before = attention_matrices(at)[0]
    run(at.selectbox(key=state.SIMILARITY_WIDGET).set_value("dot"))
    after = attention_matrices(at)[0]
    assert not np.allclose(before, after)
    dot = retrained("dot")
    expected = dot.explain(EXAMPLE).trace
    np.testing.assert_allclose(after, expected.attn[0].cpu().numpy(), atol=ATOL)
    swapped = text_model.explain(EXAMPLE, similarity="dot").trace  # same weights, other formula
    assert not np.allclose(after, swapped.attn[0].cpu().numpy(), atol=1e-3)
    (h_fig,) = titled(at, "Dense layer")  # the dense layer's weights changed too
    np.testing.assert_allclose(z(h_fig), expected.h[0].cpu().numpy(), atol=ATOL)
    assert not np.allclose(z(h_fig), swapped.h[0].cpu().numpy(), atol=1e-3)
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "Trained with dot: its own checkpoint" in captions
    # the sidebar's accuracy is the loaded checkpoint's own, never the picked folder's
    variants = catalog.similarity_variants(
        catalog.discover_checkpoints(catalog.checkpoint_root())["bbc-topics"]
    )
    own = checkpoint.read_metadata(variants["dot"].path)["test_accuracy"]
    main = checkpoint.read_metadata(variants[shipped].path)["test_accuracy"]
    assert f"{own:.1%}" != f"{main:.1%}"  # else this test could not tell them apart
    assert f"test accuracy {own:.1%}" in captions and f"{main:.1%}" not in captions
    assert "≠ trained" not in captions and "Untrained here" not in captions
    assert SIMILARITIES["dot"].latex in latex_text(at)  # the step's formula follows
    at = run(at.selectbox(key=state.SIMILARITY_WIDGET).set_value(shipped))  # the shipped one
    np.testing.assert_allclose(attention_matrices(at)[0], before, atol=ATOL)
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert f"test accuracy {main:.1%}" in captions and f"{own:.1%}" not in captions


def test_similarity_change_on_another_model_keeps_its_weights_and_is_marked(text_page):
    at = run(text_page.sidebar.selectbox(key=state.MODEL_WIDGET).set_value("tweet-sentiment"))
    tweets = checkpoint.load(catalog.checkpoint_root() / "tweet-sentiment")
    trained = tweets.config.model.similarity
    other = "cosine" if trained != "cosine" else "dot"
    sentence = at.text_area(key=state.SENTENCE_WIDGET).value
    at = run(at.selectbox(key=state.SIMILARITY_WIDGET).set_value(other))
    expected = tweets.explain(sentence, similarity=other).trace.attn[0].cpu().numpy()
    np.testing.assert_allclose(attention_matrices(at)[0], expected, atol=ATOL)
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert f"≠ trained: {trained}" in captions and "Trained with" not in captions
    at = run(at.selectbox(key=state.SIMILARITY_WIDGET).set_value("additive"))
    assert any("Untrained here" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("temperature", [0.01, 100.0])
def test_extreme_temperatures_show_no_nan(text_page, text_model, temperature):
    at = run(text_page.select_slider(key=state.TEMPERATURE_WIDGET).set_value(temperature))
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
    at = run(text_page.radio(key=state.POOLING_WIDGET).set_value("mean"))
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
    outline = figures(at)[-2]["layout"]["shapes"][0]  # the panel's matrix, above the breakdown
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
    assert labels.count("PNG image") == labels.count("SVG (vector)") == 10
    assert labels.count("CSV (the numbers)") == 10
    assert "Download the whole trace (JSON)" in labels
    # one handout for the walk-through (plotly.js once), not ~5 MB per chart
    assert labels.count("Handout (HTML, opens offline)") == 1
    assert labels.count("Handout (PDF)") == 1  # Chromium is on this machine
    assert "HTML (interactive)" not in labels


def test_without_chromium_the_page_says_the_pdf_handout_is_unavailable(monkeypatch):
    from dense_attention.figures import handout
    from dense_attention.ui.handout import NO_CHROMIUM

    monkeypatch.setattr(handout.shutil, "which", lambda name: None)
    at = open_page()
    labels = [b.label for b in at.get("download_button")]
    assert "Handout (PDF)" not in labels and "Handout (HTML, opens offline)" in labels
    assert NO_CHROMIUM in [c.value for c in at.caption]


def test_settings_follow_the_user_to_the_compare_page(text_page):
    at = run(text_page.selectbox(key=state.SIMILARITY_WIDGET).set_value("neg_euclidean"))
    at = run(at.switch_page("views/compare.py"))
    assert at.selectbox(key=state.SIMILARITY_WIDGET).value == "neg_euclidean"
    assert titled(at, "A: neg_euclidean")


def test_near_uniform_attention_is_said_beside_the_matrix(text_page, text_model):
    spread = verdict.attention_spread(text_model.explain(EXAMPLE).trace)
    notes = [i.value for i in text_page.info if "near-uniform" in i.value]
    assert bool(notes) == spread.near_uniform
    if notes:
        assert f"{spread.entropy:.2f} of a maximum log N = {spread.maximum:.2f}" in notes[0]


def test_additive_on_the_home_model_is_trained_not_flagged_untrained(text_page):
    """bbc-topics has an additive checkpoint: its W_q, W_k, w are learned, so no warning."""
    at = run(text_page.selectbox(key=state.SIMILARITY_WIDGET).set_value("additive"))
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "Trained with additive" in captions and "Untrained here" not in captions
    expected = retrained("additive").explain(EXAMPLE).trace.attn[0].cpu().numpy()
    np.testing.assert_allclose(attention_matrices(at)[0], expected, atol=ATOL)


def test_a_lone_stop_word_gets_a_caution_beside_the_prediction(text_page):
    at = set_sentence(text_page, "the")
    assert any("single stop word" in w.value for w in at.warning)
    at = set_sentence(at, EXAMPLE)
    assert not any("single stop word" in w.value for w in at.warning)


def test_gibberish_gets_the_unlike_the_training_data_caution_and_news_does_not(text_page):
    """Issue #26.5 on the page: the caution sits beside the prediction, with its numbers."""
    at = set_sentence(text_page, "asdkjh qwpoeiru zxmcnv blorp")
    name = md("bbc-topics")  # the dataset's name reaches markdown escaped
    (note,) = [w.value for w in at.warning if f"may be unlike the {name} data" in w.value]
    metrics = json.loads((catalog.checkpoint_root() / "bbc-topics" / "metrics.json").read_text())
    floor = familiarity.from_metrics(metrics).floor  # the held-out floor, as measured
    assert f"held-out {name} examples" in note and f"{floor:.1%}" in note
    at = set_sentence(at, EXAMPLE)
    assert not any("may be unlike" in w.value for w in at.warning)


def test_unknown_tokens_are_labelled_unk_on_the_axes_with_their_text_in_the_hover(text_page):
    """Issue #13.4: the emoji MiniLM reads as [UNK] is labelled [UNK], its text in the hover."""
    at = set_sentence(text_page, "The 🦄 singer topped the charts")
    for fig in [*titled(at, "Attention a"), *titled(at, "Scores"), *titled(at, "Input x")]:
        assert fig["layout"]["yaxis"]["ticktext"][2] == "[UNK]"
        assert "🦄" not in fig["layout"]["yaxis"]["ticktext"]
    # Token x token matrices name both tokens in each cell's hover; the compact token x feature
    # heatmaps (x) have one hover template with the token's index instead.
    for fig in [*titled(at, "Attention a"), *titled(at, "Scores")]:
        hover = next(t["text"] for t in fig["data"] if t.get("text"))
        assert "[UNK] (🦄)" in str(hover)
    assert "[UNK]</span>" in at.get("html")[0].proto.body  # the token chips


def _home_verdict(model, settings=None, sentence=EXAMPLE, folder=None) -> verdict.Verdict:
    """The library's verdict of `sentence` (the page's shared means included: those of the
    checkpoint in `folder`, by default the home model's)."""
    info = next(c for c in catalog.discover_checkpoints(catalog.checkpoint_root()).values()
                if c.kind == "text")  # fmt: skip
    features = faithfulness.features_of(model, sentence)
    means = faithfulness.stored_means(folder or info.path)
    return verdict.judge_input(model, features, means, settings)


def _why_diagonal(at) -> list[str]:
    return [e.markdown[0].value for e in at.expander if e.label == "Why is my attention diagonal?"]


def test_a_diagonal_attention_is_explained_beside_the_matrix(text_page, text_model):
    """Issue 27.4: the home model's cosine variant (τ 0.07) keeps most attention on the diagonal
    of the home example it is most diagonal on; beside the matrix the page says why, for the
    selected row, with the identity ablation. The home model itself (bilinear) gets no panel."""
    home = text_model.explain(EXAMPLE).trace
    assert verdict.mean_diagonal(home) <= verdict.DIAGONAL and _why_diagonal(text_page) == []
    cosine = retrained("cosine")
    assert cosine.config.model.temperature == pytest.approx(0.07)
    sentence = max(HOME_EXAMPLES, key=lambda s: verdict.mean_diagonal(cosine.explain(s).trace))
    at = run(text_page.selectbox(key=state.SIMILARITY_WIDGET).set_value("cosine"))
    at = set_sentence(at, sentence)
    explanation = cosine.explain(sentence)
    home_info = catalog.discover_checkpoints(catalog.checkpoint_root())["bbc-topics"]
    folder = catalog.similarity_variants(home_info)["cosine"].path  # its own training means
    mixing = _home_verdict(cosine, None, sentence, folder).effects["mixing"]
    row = at.selectbox(key="cell_i").value
    note = diagonal.why_diagonal(explanation.trace, explanation.tokens, row, mixing)
    assert note is not None and note.diagonal > verdict.DIAGONAL  # the premise
    expected = "\n".join(f"- {md(line)}" for line in note.lines)
    assert _why_diagonal(at) == [expected]
    assert md(f"s_ii = {note.self_score:.2f}") in expected
    at = run(at.selectbox(key="cell_i").set_value(3))  # another row, its own numbers
    other = diagonal.why_diagonal(explanation.trace, explanation.tokens, 3, mixing)
    assert _why_diagonal(at) == ["\n".join(f"- {md(x)}" for x in other.lines)]
    at = run(at.select_slider(key=state.TEMPERATURE_WIDGET).set_value(1.0))
    hot = cosine.explain(sentence, temperature=1.0).trace
    assert verdict.mean_diagonal(hot) <= verdict.DIAGONAL and _why_diagonal(at) == []


def test_the_badge_under_mean_pooling_never_mentions_a_learned_alpha(text_page, text_model):
    at = run(text_page.radio(key=state.POOLING_WIDGET).set_value("mean"))
    trained = text_model.config.model
    live = {"similarity": trained.similarity, "temperature": trained.temperature,
            "pooling": "mean"}  # fmt: skip
    found = _home_verdict(text_model, live)
    assert "α" not in found.text and "pooling" not in found.effects
    assert md(found.text) in [c.value for c in at.caption]


def page_words(at) -> str:
    """Every sentence, heading and chart title on the page."""
    texts = [m.value for m in at.markdown] + [h.value for h in at.subheader]
    texts += [f["layout"]["title"]["text"] for f in figures(at)]
    return " ".join(texts)


def test_every_word_is_true_to_the_home_model(text_page, text_model):
    """bbc-topics is trained with skip none: no caption beside a step speaks of h_o's mean
    reaching the output; c's chart names tanh, the activation in its formula."""
    config = text_model.config.model
    assert (config.skip, config.pooling, config.pool_activation) == ("none", "learned", "tanh")
    shown = page_words(text_page)
    assert "h_o is not used (skip = none)" in shown and "reads c alone" in shown
    assert "beside c" not in shown and "plain mean of the hidden vectors" not in shown
    assert "Skip input (not used)" in [h.value for h in text_page.subheader]
    assert "5 classes" in shown and f"τ = {config.temperature:g}" in shown
    assert config.similarity in shown
    (c_fig,) = titled(text_page, "Pooled vector")
    assert "c = tanh(" in c_fig["layout"]["title"]["text"] and "σ" not in shown
    at = run(text_page.radio(key=state.POOLING_WIDGET).set_value("mean"))
    shown = page_words(at)
    assert "learned attention" not in shown and "every token counts the same" in shown
    assert "Mean pooling" in [h.value for h in at.subheader]


def test_the_selected_cell_is_broken_down_by_dimension(text_page, text_model):
    at = text_page
    i, j = at.session_state[state.CELL_I], at.session_state[state.CELL_J]
    trace = text_model.explain(EXAMPLE).trace
    (fig,) = titled(at, f"s<sub>{i + 1},{j + 1}</sub> = Σ parts")
    values = decode(fig["data"][0]["y"])
    assert len(values) == trace.h.shape[-1]  # one bar per dimension of h
    assert float(np.sum(values)) == pytest.approx(float(trace.scores[0, i, j]), abs=1e-4)
    assert list(values) == sorted(values, reverse=True)
    shown = " ".join(m.value for m in at.markdown)
    own = md(f"s_ii = {float(trace.scores[0, i, i]):.2f}")
    assert own in shown  # compared with the diagonal cell
    # Another cell: the chart follows it.
    at.selectbox(key=state.CELL_J).select(i).run()
    (fig,) = titled(at, f"s<sub>{i + 1},{i + 1}</sub> = Σ parts")
    assert float(np.sum(decode(fig["data"][0]["y"]))) == pytest.approx(
        float(trace.scores[0, i, i]), abs=1e-4
    )


def test_the_query_key_map_is_drawn_when_its_toggle_is_on(text_page, text_model):
    at = text_page
    assert not titled(at, "Queries and keys")  # nothing is read until asked
    at = run(at.toggle(key=state.QUERY_KEY_MAP).set_value(True))
    (fig,) = titled(at, "Queries and keys")
    tokens = text_model.explain(EXAMPLE).tokens
    names = [t["name"] for t in fig["data"]]
    assert names == ["query (sample)", "key (sample)", "query (this input)", "key (this input)"]
    assert fig["data"][2]["text"] == tokens
    assert len(decode(fig["data"][0]["x"])) > 500  # a few thousand tokens of 64 test texts
    shown = " ".join(m.value for m in at.markdown)
    assert "of the spread" in shown
