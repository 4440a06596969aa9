"""The "Does attention matter?" page: its verdict, ablations and what-if are the library's."""

import copy

import numpy as np
import pandas as pd
import pytest
import tiny
import torch
from pagetest import EXAMPLE, decode, figures, open_page, run

from dense_attention import ui
from dense_attention.core.config import TrainConfig
from dense_attention.explain import adversarial, faithfulness, seed_variance, verdict
from dense_attention.server import jobs, work
from dense_attention.server.jobs import JobKind
from dense_attention.storage import catalog, checkpoint
from dense_attention.training.train import pick_device
from dense_attention.ui import browser, state
from dense_attention.ui.styles import md

PAGE = "views/attention.py"


@pytest.fixture(scope="module")
def shipped():
    info = next(c for c in catalog.discover_checkpoints(catalog.checkpoint_root()).values()
                if c.kind == "text")  # fmt: skip
    return info, checkpoint.load(info.path, device=pick_device())


@pytest.fixture(scope="module")
def analysed(shipped):
    info, model = shipped
    live = {n: getattr(model.config.model, n) for n in ("similarity", "temperature", "pooling")}
    means = faithfulness.stored_means(info.path)
    return faithfulness.analyze(model, EXAMPLE, means, settings=live), live


def _box(found: verdict.Verdict) -> str:
    """The attention page's verdict box, as markdown."""
    return f"**{md(found.headline)}.** {md(found.text)}"


def test_the_page_shows_the_librarys_verdict_and_ablations(shipped, analysed):
    at = open_page(PAGE)
    result, _ = analysed
    _, model = shipped
    config = model.config.model
    answer = verdict.verdict_of(result, model.explain(EXAMPLE).trace, config)
    shown = [m.value for m in (*at.success, *at.info, *at.warning)]
    assert _box(answer) in shown
    table = at.dataframe[0].value
    expected = verdict.ablation_table(result, config)
    assert list(table["ablation"]) == list(expected["ablation"])
    assert list(table["delta_p"].round(6)) == list(expected["delta_p"].round(6))
    if config.skip == "none":  # the home model: no row, no word, about an h_o it does not have
        assert not any("h_o" in row for row in table["ablation"]) and "h_o" not in answer.text
    # importance bars, Kendall tau, deletion curves, ERASER, adversarial α
    assert len(at.get("plotly_chart")) == 5
    assert "flip rate" not in str(at.exception)
    assert len(at.dataframe) == 3  # this input, its ERASER table, the dataset-level table


def test_knocking_out_a_token_shows_the_librarys_new_prediction(shipped, analysed):
    at = open_page(PAGE)
    result, live = analysed
    _, model = shipped
    at = run(at.multiselect(key=ui.state.WHATIF_KNOCKED).set_value([1, 2]))
    probs = verdict.what_if(model, faithfulness.features_of(model, EXAMPLE), [1, 2], None, live)
    before = result.classes[result.predicted]
    line = next(m.value for m in at.markdown if m.value.startswith("The prediction"))
    assert (
        f"p({before}) {result.probs[result.predicted]:.1%} → **{probs[result.predicted]:.1%}**"
        in line
    )


def _weights(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "α after the drag" in d.value.columns)


def test_dragging_alpha_starts_at_the_tokens_own_alpha_and_moves_nothing_until_moved(
    shipped, analysed
):
    result, live = analysed
    _, model = shipped
    own = model.explain(EXAMPLE).trace.alpha[0].double().cpu().numpy()
    at = run(open_page(PAGE).selectbox(key=ui.state.WHATIF_TOKEN).set_value(1))
    assert at.slider(key=ui.state.WHATIF_ALPHA).value == pytest.approx(own[1], abs=1e-6)
    assert abs(own[1] - 0.5) > 0.01  # the old fixed start would fail this test
    before, p0 = result.classes[result.predicted], result.probs[result.predicted]
    line = next(m.value for m in at.markdown if m.value.startswith("The prediction"))
    assert f"stays **{before}**" in line and f"p({before}) {p0:.1%} → **{p0:.1%}**" in line
    table = _weights(at)
    np.testing.assert_allclose(table["α as computed"], own, atol=1e-5)
    np.testing.assert_allclose(table["α after the drag"], own, atol=1e-5)  # nothing moved yet
    at = run(at.slider(key=ui.state.WHATIF_ALPHA).set_value(0.9))
    expected = own * (1 - 0.9) / (own.sum() - own[1])  # the others share 0.1 in proportion
    expected[1] = 0.9
    np.testing.assert_allclose(_weights(at)["α after the drag"], expected, atol=1e-5)
    features = faithfulness.features_of(model, EXAMPLE)
    probs = verdict.what_if(model, features, [], (1, 0.9), live)
    line = next(m.value for m in at.markdown if m.value.startswith("The prediction"))
    assert f"p({before}) {p0:.1%} → **{probs[result.predicted]:.1%}**" in line
    at = run(at.selectbox(key=ui.state.WHATIF_TOKEN).set_value(2))  # another token: its own α
    assert at.slider(key=ui.state.WHATIF_ALPHA).value == pytest.approx(own[2], abs=1e-6)


def test_dragging_alpha_and_an_image_run_without_errors():
    at = open_page(PAGE)
    at = run(at.selectbox(key=ui.state.WHATIF_TOKEN).set_value(1))
    at = run(at.slider(key=ui.state.WHATIF_ALPHA).set_value(0.9))
    assert any(m.value.startswith("The prediction") for m in at.markdown)
    at = run(at.radio(key=ui.MATTERS_SOURCE).set_value("Image"))
    assert len(at.get("plotly_chart")) >= 5 + 2  # five overlays, tau and deletion curves


def test_the_text_page_and_the_attention_page_say_the_same(shipped, analysed):
    """Issue 26.1: the home page's badge and the attention page, on the home model's default
    example, give one verdict in the same words, and those words quote the page's ablations."""
    result, _ = analysed
    _, model = shipped
    answer = verdict.verdict_of(result, model.explain(EXAMPLE).trace, model.config.model)
    home = open_page()
    badges = [m.value for m in home.markdown if "badge[" in m.value]
    assert badges and md(answer.headline) in badges[0]
    words = [c.value for c in home.caption if c.value == md(answer.text)]
    assert words, [c.value for c in home.caption]
    page = open_page(PAGE)
    boxes = [m.value for m in (*page.success, *page.info, *page.warning)]
    assert _box(answer) in boxes and boxes[0].endswith(words[0])
    for name in ("no_attention", "uniform"):  # the numbers the words quote are the table's
        assert verdict.fmt_delta(result.ablations[name].delta) in answer.text
    assert "-0.000" not in answer.text and "−0.000" not in answer.text


def test_the_page_shows_eraser_and_an_adversarial_attention_of_this_input(shipped, analysed):
    at = open_page(PAGE)
    result, live = analysed
    _, model = shipped
    table = next(d.value for d in at.dataframe if "sufficiency" in d.value.columns)
    expected = result.eraser.table()
    assert len(table) == len(expected) == 6 * 5
    np.testing.assert_allclose(table["comprehensiveness"], expected["comprehensiveness"], atol=1e-6)
    np.testing.assert_allclose(table["sufficiency"], expected["sufficiency"], atol=1e-6)
    assert "Integrated Gradients" in set(table["method"]) and "random order" in set(table["method"])
    caption = next(c.value for c in at.caption if c.value.startswith("DeYoung"))
    assert "Removing a token means masking it" in caption
    assert f"of {result.eraser.n} tokens" in caption
    found = adversarial.search_item(model, EXAMPLE, live)
    line = next(m.value for m in at.markdown if m.value.startswith("Pooling weights α'"))
    assert f"**{found.jsd:.3f}**" in line and f"**{found.tv:.4f}**" in line
    assert found.tv <= adversarial.EPSILON and 0 < found.jsd <= np.log(2)


def _seed_job(models, name: str) -> jobs.Job:
    """A finished seeds job (not run: its result is made here) for the model named `name`."""
    recipe = seed_variance.Recipe(models[0].config, TrainConfig(epochs=3), dataset="bbc-topics")
    request = work.SeedsRequest(recipe, (1, 2, 3), name)
    jsd, zeros = np.array([0.01, 0.05, 0.2, 0.4]), np.zeros(4)
    agreement = np.array([1, 1, 1, 2 / 3])
    sample = seed_variance.Spreads(jsd, zeros, zeros, zeros.astype(int), agreement, zeros)
    job = jobs.Job(JobKind.SEEDS, "3 seeds", work.seeds_work, request)
    job.state, job.progress = jobs.DONE, 1.0
    job.result = seed_variance.SeedVariance("bbc-topics", (1, 2, 3), 3, (0.9, 0.91, 0.92), sample,
                                            1.0, 0.1, tuple(models))  # fmt: skip
    return job


def test_the_seed_panel_offers_the_models_recipe_then_shows_alpha_per_seed(shipped):
    info, model = shipped
    at = open_page(PAGE)
    recipe = seed_variance.checkpoint_recipe(info.path)
    assert at.slider(key=state.SEEDS_COUNT).value == 3
    assert at.number_input(key=state.SEEDS_EPOCHS).value == recipe.training.epochs
    assert any(b.label == "Train the seeds" for b in at.button)
    caption = next(c.value for c in at.caption if c.value.startswith("Trains this model"))
    assert md(f"{recipe.training.epochs} epochs each on the {recipe.dataset}") in caption
    assert "seeds 1, 2, 3" in caption
    models = [model] + [tiny.shaken(copy.deepcopy(model), 0.05).eval() for _ in range(2)]
    name = at.sidebar.selectbox(key=state.MODEL_WIDGET).value
    space = browser.workspaces().get(at.session_state[state.WORKSPACE])
    space.jobs[JobKind.SEEDS] = job = _seed_job(models, name)
    at = run(at)
    found = seed_variance.input_spread(models, EXAMPLE)
    assert md(seed_variance.answer(found, job.result.spreads)) in [m.value for m in at.markdown]
    fig = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("α per seed"))
    bars = [t for t in fig["data"] if t["type"] == "bar"]
    assert [t["name"] for t in bars] == ["seed 1", "seed 2", "seed 3"]
    np.testing.assert_allclose(decode(bars[1]["y"]), found.alpha[1], atol=1e-6)
    loaded = next(t for t in fig["data"] if t["name"] == "loaded model")
    np.testing.assert_allclose(decode(loaded["y"]), model.explain(EXAMPLE).trace.alpha[0],
                               atol=1e-6)  # fmt: skip
    shown = {m.label: m.value for m in at.metric}
    assert shown["α spread (JSD)"] == f"{found.spread.alpha_jsd[0]:.3f}"
    space.jobs[JobKind.SEEDS] = _seed_job(models, "another model")
    at = run(at)
    assert any("trained for another model" in i.value for i in at.info)


def test_the_multi_head_checkpoint_gets_a_row_per_head_each_replaced_alone():
    """Issue 22.3: on digits-heads, the page's per-head table gives each head's Δp and flip,
    checked against a rerun with that head's attention replaced here."""
    from dense_attention.data import images

    at = open_page(PAGE)
    at = run(at.radio(key=ui.MATTERS_SOURCE).set_value("Image"))
    at = run(at.selectbox(key=state.MODEL_WIDGET).set_value("digits-heads"))
    shown = next(d.value for d in at.dataframe if "uniform_delta_p" in d.value.columns)
    info = catalog.discover_checkpoints(catalog.checkpoint_root())["digits-heads"]
    model = checkpoint.load(info.path, device=pick_device())
    heads = model.config.model.heads
    assert heads > 1 and list(shown["head"]) == list(range(1, heads + 1))
    assert any(f"each of the {heads} heads replaced" in h.value for h in at.subheader)
    meta = checkpoint.read_metadata(info.path)
    example = images.test_examples("digits", 1, seed=meta["split_seed"], limit=meta["limit"])[0]
    f = faithfulness.features_of(model, example.image)
    with torch.no_grad():
        trace = model.core.trace(f.x, f.mask)
        n = f.x.shape[1]
        p0, predicted = float(trace.probs[0].max()), int(trace.probs[0].argmax())
        for k in range(heads):
            for prefix, replacement in (("uniform", 1.0 / n), ("identity", torch.eye(n))):
                attn = trace.head_attn.clone()
                attn[:, k] = replacement
                probs = model.core.trace(f.x, f.mask, attn_override=attn).probs[0]
                row = shown.iloc[k]
                delta = float(probs[predicted]) - p0
                assert row[f"{prefix}_delta_p"] == pytest.approx(delta, abs=6e-4), (k, prefix)
                assert bool(row[f"{prefix}_flips"]) == (int(probs.argmax()) != predicted)
    # the home model has one head: no such table
    assert not any("uniform_delta_p" in d.value.columns for d in open_page(PAGE).dataframe)


def test_a_similarity_variant_shows_its_own_dataset_level_figures(shipped):
    """Picking a similarity the home model has its own checkpoint for runs that checkpoint: the
    whole-test-split table is that checkpoint's metrics.json, never the picked folder's."""
    info, model = shipped
    other = next(n for n in ("cosine", "dot") if n != model.config.model.similarity)
    variant = catalog.similarity_variants(info)[other]
    trained = checkpoint.load(variant.path).config.model
    own = verdict.dataset_table(faithfulness.stored_block(variant.path), trained)
    home = verdict.dataset_table(faithfulness.stored_block(info.path), model.config.model)
    assert not own["flip_rate"].equals(home["flip_rate"])  # else this test could not tell
    at = run(open_page(PAGE).selectbox(key=state.SIMILARITY_WIDGET).set_value(other))
    (shown,) = [d.value for d in at.dataframe if "mean_abs_delta_p" in d.value.columns]
    assert list(shown["ablation"]) == list(own["ablation"])
    np.testing.assert_allclose(shown["flip_rate"], own["flip_rate"])
    np.testing.assert_allclose(shown["mean_abs_delta_p"], own["mean_abs_delta_p"])
