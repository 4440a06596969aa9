"""The live view: its payload (server.live_view), its JavaScript run in Chromium against torch's
trace, and the Text page's live view following the sidebar (ui.live_view).
"""

import base64
import json
import re

import numpy as np
import pytest
import torch
from pagetest import EXAMPLE, retrained
from playwright.sync_api import Page, expect
from test_browser import pick_option

from dense_attention.core import config
from dense_attention.core.config import ModelConfig
from dense_attention.core.model import DenseAttention
from dense_attention.core.similarity import SIMILARITIES, head_scores
from dense_attention.data.builtin import load_dataset
from dense_attention.explain import attention_work
from dense_attention.server import live_view
from dense_attention.storage import catalog, checkpoint
from dense_attention.ui import state
from dense_attention.ui.cache import ASSETS

ENGINE = (ASSETS / "live_view.js").read_text()
TEMPERATURES = (0.07, 1.0, 10.0)


def decoded(text: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(shape)


@torch.no_grad()
def toy(skip: str, pool_activation: str, seed: int, exclude_self: bool = False,
        tokens: int = 5, heads: int = 1) -> live_view.Variant:  # fmt: skip
    """A small random model and its trace of a 7-token input whose last 7 - `tokens` tokens are
    padding."""
    torch.manual_seed(seed)
    cfg = ModelConfig(input_dim=6, hidden_dim=8, num_classes=3, activation="gelu",
                      skip=skip, pool_activation=pool_activation,
                      exclude_self=exclude_self, heads=heads)  # fmt: skip
    model = DenseAttention(cfg).eval()
    with torch.no_grad():  # pooling weights away from their small initial values
        model.pool_weight.mul_(3)
        model.pool_vector.mul_(3)
    mask = torch.tensor([[True] * tokens + [False] * (7 - tokens)])
    return live_view.Variant(model, model.trace(torch.randn(1, 7, 6), mask))


@pytest.fixture(scope="module")
def digits_variant() -> live_view.Variant:
    """The shipped digits checkpoint (d = 256) and its trace of a test digit."""
    model = checkpoint.load(catalog.discover_checkpoints(catalog.checkpoint_root())["digits"].path)
    item = load_dataset("digits", limit=50).test.items[0]
    return live_view.Variant(model.core, model.explain(item).trace)  # explain: no_grad


def test_encode_is_little_endian_float32() -> None:
    values = np.array([[1.5, -2.0], [3.25, 1e-8]])
    assert np.array_equal(decoded(live_view.encode(torch.tensor(values)), (2, 2)),
                          values.astype(np.float32))  # fmt: skip


CLASSES = ["x", "y", "z"]


@torch.no_grad()
def test_input_part_holds_h_and_the_keys_of_each_similaritys_parameters() -> None:
    variant = toy("mean", "tanh", 0)
    variants = dict.fromkeys(SIMILARITIES, variant)
    part = live_view.input_part(variants, list("abcdefg"), CLASSES)
    assert part["mask"] == [True] * 5 + [False] * 2
    (h_key,) = part["h"]  # one model: h sent once for all six similarities
    assert np.allclose(decoded(part["h"][h_key], (7, 8)), variant.trace.h[0].numpy())
    for name in SIMILARITIES:
        entry = part["similarities"][name]
        assert set(entry) == {"weights", "h", "params"}  # no N x N scores: the browser's work
        assert entry["h"] == h_key
        assert entry["weights"] == live_view.weights_key(variant.model, CLASSES)
        has_params = name in ("additive", "bilinear")
        assert (entry["params"] is not None) == has_params
        assert entry["params"] == live_view.params_key(variant.model, name)
    params = variant.model.similarity_params
    additive = live_view.params_part(variant.model, "additive")
    assert additive["width"] == 8
    assert np.array_equal(decoded(additive["additive_query"], (8, 8)), params.additive_query)
    assert np.array_equal(decoded(additive["additive_key"], (8, 8)), params.additive_key)
    assert np.array_equal(decoded(additive["additive_vector"], (8,)), params.additive_vector)
    bilinear = live_view.params_part(variant.model, "bilinear")
    assert np.array_equal(decoded(bilinear["bilinear"], (8, 8)), params.bilinear)
    assert "additive_query" not in bilinear
    with pytest.raises(ValueError, match="dot has no parameters"):
        live_view.params_part(variant.model, "dot")


def test_params_key_follows_the_parameters() -> None:
    model = toy("mean", "tanh", 0).model
    keys = {name: live_view.params_key(model, name) for name in ("additive", "bilinear")}
    assert keys["additive"] != keys["bilinear"]
    with torch.no_grad():
        model.similarity_params.bilinear.add_(1e-3)
    assert live_view.params_key(model, "bilinear") != keys["bilinear"]
    assert live_view.params_key(model, "additive") == keys["additive"]


@torch.no_grad()
def test_the_payload_grows_with_n_not_n_squared() -> None:
    """h is N x d numbers; the six similarities' N x N scores are the browser's to compute."""
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=6, hidden_dim=8, num_classes=3)).eval()

    def size(n: int) -> int:
        trace = model.trace(torch.randn(1, n, 6), torch.ones(1, n, dtype=torch.bool))
        variants = dict.fromkeys(SIMILARITIES, live_view.Variant(model, trace))
        return len(json.dumps(live_view.input_part(variants, ["tok"] * n, CLASSES)))

    small, large = size(64), size(128)
    assert 1.8 < large / small < 2.1  # twice the tokens, twice the bytes (N² would be ~4x)
    # h as base64 float32, 14 characters a token for its name and mask, 1 KB for the keys
    assert large < 128 * 8 * 4 * 4 / 3 + 128 * 14 + 1000


def test_weights_key_follows_the_weights_and_the_class_names() -> None:
    variant = toy("mean", "tanh", 0)
    key = live_view.weights_key(variant.model, CLASSES)
    assert key == live_view.weights_key(variant.model, CLASSES)
    assert key != live_view.weights_key(variant.model, ["z", "y", "x"])
    with torch.no_grad():
        variant.model.out.bias.add_(1e-3)
    assert live_view.weights_key(variant.model, CLASSES) != key
    part = live_view.weights_part(variant.model, CLASSES)
    assert (part["hidden"], part["classes"], part["skip"]) == (8, 3, "mean")
    assert part["class_names"] == CLASSES
    assert np.allclose(decoded(part["out_bias"], (3,)), variant.model.out.bias.detach().numpy())
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        live_view.weights_part(variant.model, ["x", "y"])


def test_variants_send_each_models_own_h_and_must_read_the_same_tokens() -> None:
    a, b = toy("none", "tanh", 1), toy("none", "tanh", 2)
    part = live_view.input_part({"dot": a, "cosine": b}, list("abcdefg"), CLASSES)
    assert len(part["h"]) == 2
    assert part["similarities"]["dot"]["weights"] == live_view.weights_key(a.model, CLASSES)
    assert part["similarities"]["cosine"]["weights"] == live_view.weights_key(b.model, CLASSES)
    short = live_view.Variant(b.model, b.model.trace(b.trace.x[:, :4], b.trace.mask[:, :4]))
    with pytest.raises(ValueError, match="4 tokens, the input has 7"):
        live_view.input_part({"dot": a, "cosine": short}, list("abcdefg"), CLASSES)


ENGINE_RUN = """([w, h, p, name, mask, tau, pooling]) => {
  const E = window.__dalLiveEngine, weights = E.decodeWeights(w), hidden = E.decode(h);
  const scores = E.headScores(name, hidden, mask.length, weights.hidden, weights.heads,
    p && E.decodeParams(p));
  return E.compute(weights, hidden, scores, mask, tau, pooling);
}"""


def run_engine(page: Page, variant: live_view.Variant, similarity: str, tau: float,
               pooling: str) -> dict:  # fmt: skip
    """live_view.js's headScores() and compute() in Chromium on the payload of `variant`."""
    classes = [f"c{k}" for k in range(variant.model.config.num_classes)]
    part = live_view.input_part({similarity: variant}, ["t"] * variant.trace.h.shape[1], classes)
    entry = part["similarities"][similarity]
    weights = live_view.weights_part(variant.model, classes)
    params = live_view.params_part(variant.model, similarity) if entry["params"] else None
    return page.evaluate(
        ENGINE_RUN,
        [weights, part["h"][entry["h"]], params, similarity, part["mask"], tau, pooling],
    )


@pytest.fixture
def engine_page(page: Page) -> Page:
    page.set_content("<html><body></body></html>")
    page.add_script_tag(content=ENGINE, type="module")
    page.wait_for_function("() => window.__dalLiveEngine !== undefined")
    return page


@pytest.mark.browser
@pytest.mark.parametrize(
    "skip, pool_activation",
    [("mean", "tanh"), ("none", "identity"), ("mean", "sigmoid"), ("none", "relu")],
)
@torch.no_grad()
def test_the_browser_computes_what_torch_traces(engine_page: Page, skip: str,
                                                pool_activation: str) -> None:  # fmt: skip
    """Every similarity, τ and pooling on a padded input: attention (zero on padding), α and p
    as the trace has them, to float32 rounding."""
    variant = toy(skip, pool_activation, 3)
    model, trace = variant.model, variant.trace
    for similarity in SIMILARITIES:
        for tau in TEMPERATURES:
            for pooling in ("learned", "mean"):
                want = model.trace(trace.x, trace.mask, similarity=similarity, temperature=tau,
                                   pooling=pooling)  # fmt: skip
                got = run_engine(engine_page, variant, similarity, tau, pooling)
                assert np.allclose(got["attn"], want.attn[0].numpy(), atol=2e-6)
                assert np.allclose(got["alpha"], want.alpha[0].numpy(), atol=2e-6)
                assert np.allclose(got["probs"], want.probs[0].numpy(), atol=2e-6)
                assert np.all(np.array(got["attn"])[:, 5:] == 0)  # padding keys: exactly 0


@pytest.mark.browser
@pytest.mark.parametrize("tokens", [5, 1])
@torch.no_grad()
def test_the_browser_leaves_out_a_ii_as_torch_does_under_exclude_self(
    engine_page: Page, tokens: int
) -> None:
    """exclude_self: a_ii = 0 in the browser as in torch, except for a one-token input."""
    variant = toy("mean", "tanh", 4, exclude_self=True, tokens=tokens)
    model, trace = variant.model, variant.trace
    for similarity in SIMILARITIES:
        for tau in TEMPERATURES:
            want = model.trace(trace.x, trace.mask, similarity=similarity, temperature=tau)
            got = run_engine(engine_page, variant, similarity, tau, "learned")
            assert np.allclose(got["attn"], want.attn[0].numpy(), atol=2e-6)
            assert np.allclose(got["probs"], want.probs[0].numpy(), atol=2e-6)
            diagonal = np.diag(np.array(got["attn"]))[:tokens]
            assert np.all(diagonal == 0) if tokens > 1 else diagonal[0] == pytest.approx(1)


@pytest.mark.browser
@torch.no_grad()
def test_the_browser_computes_the_shipped_digits_model(engine_page: Page, digits_variant) -> None:
    model, trace = digits_variant.model, digits_variant.trace
    for similarity in SIMILARITIES:
        want = model.trace(trace.x, trace.mask, similarity=similarity, temperature=0.5)
        got = run_engine(engine_page, digits_variant, similarity, 0.5, "learned")
        assert np.allclose(got["attn"], want.attn[0].numpy(), atol=1e-5)
        assert np.allclose(got["probs"], want.probs[0].numpy(), atol=1e-5)
        assert abs(sum(got["probs"]) - 1) < 1e-9


@pytest.mark.browser
@pytest.mark.parametrize("heads, exclude_self", [(2, False), (4, True)])
@torch.no_grad()
def test_the_browser_computes_each_head_as_torch_does(
    engine_page: Page, heads: int, exclude_self: bool
) -> None:
    """Several heads: each head's attention, their mean, α and p as torch traces them."""
    variant = toy("mean", "tanh", 5, exclude_self=exclude_self, heads=heads)
    model, trace = variant.model, variant.trace
    for similarity in SIMILARITIES:
        for tau in (0.1, 1.0):
            want = model.trace(trace.x, trace.mask, similarity=similarity, temperature=tau)
            got = run_engine(engine_page, variant, similarity, tau, "learned")
            assert np.allclose(got["headAttn"], want.head_attn[0].numpy(), atol=2e-6)
            assert np.allclose(got["attn"], want.attn[0].numpy(), atol=2e-6)
            assert np.allclose(got["alpha"], want.alpha[0].numpy(), atol=2e-6)
            assert np.allclose(got["probs"], want.probs[0].numpy(), atol=2e-6)
    assert not np.allclose(got["headAttn"][0], got["headAttn"][1], atol=1e-3)


@pytest.mark.browser
@torch.no_grad()
def test_the_browser_computes_the_shipped_multi_head_model(engine_page: Page) -> None:
    path = catalog.discover_checkpoints(catalog.checkpoint_root())["digits-heads"].path
    model = checkpoint.load(path)
    item = load_dataset("digits", limit=50).test.items[0]
    variant = live_view.Variant(model.core, model.explain(item).trace)
    want = model.core.trace(variant.trace.x, variant.trace.mask)
    got = run_engine(engine_page, variant, "scaled_dot", 0.1, "learned")
    assert np.array(got["headAttn"]).shape == (4, 4, 4)
    assert np.allclose(got["headAttn"], want.head_attn[0].numpy(), atol=1e-5)
    assert np.allclose(got["probs"], want.probs[0].numpy(), atol=1e-5)


SCORES_RUN = """([name, h, n, d, heads, p]) => {
  const E = window.__dalLiveEngine;
  return Array.from(E.headScores(name, E.decode(h), n, d, heads, p && E.decodeParams(p)));
}"""


def browser_scores(page: Page, model: DenseAttention, name: str, h: torch.Tensor) -> np.ndarray:
    """live_view.js's headScores() in Chromium on h (N, d) and `model`'s parameters: (H, N, N)."""
    (n, d), heads = h.shape, model.config.heads
    params = live_view.params_part(model, name) if live_view.params_key(model, name) else None
    got = page.evaluate(SCORES_RUN, [name, live_view.encode(h), n, d, heads, params])
    return np.array(got).reshape(heads, n, n)


@pytest.mark.browser
@pytest.mark.parametrize("heads", [1, 2])
@torch.no_grad()
def test_the_browser_computes_the_raw_scores_as_head_scores_does(
    engine_page: Page, heads: int
) -> None:
    """headScores in Chromium equals core.similarity.head_scores for every similarity, on
    shaken (trained-like) additive and bilinear parameters; two identical tokens score exactly
    0 under neg_euclidean (and so does every token with itself)."""
    variant = toy("mean", "tanh", 6, heads=heads)
    model, h = variant.model, variant.trace.h[:1].clone()
    h[0, 3] = h[0, 1]  # token 3 is token 1 again
    for weight in [*model.similarity_params.parameters(), *model.similarity_params.buffers()]:
        weight.add_(torch.randn_like(weight))
    for name in SIMILARITIES:
        want = head_scores(name, h, model.similarity_params, heads)[0].numpy()  # (H, N, N)
        got = browser_scores(engine_page, model, name, h[0])
        scale = max(1.0, float(np.abs(want).max()))
        assert np.allclose(got, want, atol=1e-5 * scale, rtol=1e-5), name
        assert not np.allclose(got, 0)
    euclid = browser_scores(engine_page, model, "neg_euclidean", h[0])
    assert np.all(np.diagonal(euclid, axis1=1, axis2=2) == 0)
    assert np.all(euclid[:, 1, 3] == 0) and np.all(euclid[:, 3, 1] == 0)
    assert np.all(euclid[:, 0, 1] < 0)


LIVE = '[data-testid="dal-live"]'
READ = f"() => {{ const r = document.querySelector('{LIVE}'); return r && r.dalLive; }}"
HEATMAP = """() => JSON.stringify([...document.querySelectorAll('.js-plotly-plot')]
  .find((p) => (p.layout?.title?.text || '').replace(/<[^>]*>/g, '').startsWith('Attention a'))
  ?.data[0].z)"""


def scroll_to_live(page: Page, wait_for_app) -> None:
    """Scroll the live view into view and let the app settle: the viewport's report may rerun
    the page (ui.lazy), which mounts the live view's node anew (a locator's scroll, which waits
    for a stable node, could catch the old one as it goes)."""
    page.wait_for_selector(LIVE, timeout=30_000)
    page.evaluate(f"() => document.querySelector('{LIVE}').scrollIntoView()")
    wait_for_app(page)
    page.wait_for_function(f"() => ({READ})()?.tokens !== undefined", timeout=30_000)


def _server_attention(page: Page) -> np.ndarray:
    z = json.loads(page.evaluate(HEATMAP))
    if isinstance(z, dict):  # compact binary z: {"dtype": "f4", "bdata": ..., "shape": ...}
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(z["shape"])
    return np.array(z, dtype=float)


@pytest.mark.browser
def test_the_text_page_live_view_follows_the_sidebar_at_once(
    page: Page, app_url: str, wait_for_app, text_model, screenshot_dir
) -> None:
    """A τ step redraws the live view before the server answers (it never waits for the rerun);
    once the server has drawn the page, the live numbers are the server's. A similarity change
    on the home model switches to that similarity's own checkpoint in the live view too."""
    page.goto(f"{app_url}/?charts=all")  # the server's heatmap drawn at once (ui.lazy)
    wait_for_app(page)
    live = page.locator(LIVE)
    scroll_to_live(page, wait_for_app)
    first = page.evaluate(READ)
    want = text_model.explain(EXAMPLE)
    assert np.allclose(first["probs"], want.trace.probs[0].numpy(), atol=1e-4)
    assert first["settings"]["temperature"] == text_model.config.model.temperature

    # The first τ up the slider that visibly changes this input's attention (a saturated row,
    # one-hot at τ 0.07, stays one-hot a step or two higher).
    trained = text_model.config.model.temperature
    above = [t for t in sorted({*config.TEMPERATURES, trained}) if t > trained]
    shown = want.trace.attn[0].numpy()
    attention = lambda t: text_model.explain(EXAMPLE, temperature=t).trace.attn[0].numpy()  # noqa: E731
    tau = next(t for t in above if not np.allclose(attention(t), shown, atol=1e-3))
    for step in above[: above.index(tau) + 1]:  # one slider step at a time, each seen live
        page.get_by_test_id("stSidebar").get_by_role("slider").first.focus()  # again after a rerun
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => document.querySelector('{LIVE}').dataset.settings"
                               f".includes('|{step:g}|')", timeout=15_000)  # fmt: skip
    wait_for_app(page)
    after = page.evaluate(READ)
    want = text_model.explain(EXAMPLE, temperature=tau)
    assert np.allclose(after["attn"], want.trace.attn[0].numpy(), atol=1e-4)
    assert np.allclose(after["attn"], _server_attention(page), atol=1e-4)
    assert np.allclose(after["probs"], want.trace.probs[0].numpy(), atol=1e-4)
    assert not np.allclose(after["attn"], first["attn"], atol=1e-3)

    page.get_by_role("combobox", name="Similarity").click()
    page.get_by_role("option", name="dot", exact=True).click()
    page.wait_for_function(f"() => document.querySelector('{LIVE}').dataset.settings"
                           ".startsWith('dot|')", timeout=5_000)  # fmt: skip
    dot = page.evaluate(READ)
    want = retrained("dot").explain(EXAMPLE, temperature=tau)
    assert np.allclose(dot["probs"], want.trace.probs[0].numpy(), atol=1e-4)
    wait_for_app(page)
    # dot's own checkpoint reruns the whole page: the live view is drawn anew, so wait for it
    # and shoot the viewport (an element screenshot can catch the old node as it goes)
    expect(live).to_be_visible(timeout=30_000)
    wait_for_app(page)
    page.evaluate(f"() => document.querySelector('{LIVE}').scrollIntoView()")  # the node of now
    page.screenshot(path=screenshot_dir / "live-view.png")

    # A browser that lost the weights it was sent (a run cut short) asks for them again.
    page.evaluate("() => window.__dalLiveWeights.clear()")
    box = page.get_by_role("textbox", name="Your sentence")
    box.fill("The striker scored twice in the final")
    box.press("Control+Enter")
    page.wait_for_function(f"() => document.querySelector('{LIVE}')?.dalLive?.tokens"
                           ".includes('striker')", timeout=60_000)  # fmt: skip
    wait_for_app(page)
    want = retrained("dot").explain("The striker scored twice in the final", temperature=tau)
    assert np.allclose(page.evaluate(READ)["probs"], want.trace.probs[0].numpy(), atol=1e-4)


def test_a_long_input_gets_a_caption_not_a_live_view(monkeypatch) -> None:
    """Past MAX_TOKENS (MiniLM's 512, the cap on any input) a caption: the steps still follow."""
    from pagetest import open_page

    from dense_attention.ui import live_view as ui_live_view

    assert ui_live_view.MAX_TOKENS == 512
    monkeypatch.setattr(ui_live_view, "MAX_TOKENS", 5)
    at = open_page()
    assert "text_live_view" not in [c.key for c in at.get("bidi_component")]
    assert any("live view is drawn for inputs of up to 5 tokens" in c.value for c in at.caption)
    monkeypatch.setattr(ui_live_view, "MAX_TOKENS", 512)  # its own value
    at = open_page()
    others = (state.OVERVIEW_TEXT, state.TEXT_VIEWPORT)  # the overview, ui.lazy's viewport
    keys = [c.key for c in at.get("bidi_component") if c.key not in others]
    assert keys == ["text_live_view"]


def test_a_variant_that_fails_to_load_leaves_the_live_view_not_the_page(monkeypatch) -> None:
    """A broken similarities/dot checkpoint: the home page still draws, with its live view,
    which leaves dot out."""
    import importlib

    from pagetest import open_page

    sidebar = importlib.import_module("dense_attention.ui.sidebar")  # ui.sidebar: a function
    real = sidebar.load_checkpoint

    def broken(path: str, stamp: int):
        if "similarities/dot" in path.replace("\\", "/"):
            raise checkpoint.CheckpointError(f"{path}: damaged")
        return real(path, stamp)

    monkeypatch.setattr(sidebar, "load_checkpoint", broken)
    at = open_page()
    assert not at.error and not at.exception
    (live,) = [c for c in at.get("bidi_component") if c.key == "text_live_view"]
    similarities = json.loads(live.proto.json)["input"]["similarities"]
    assert "dot" not in similarities and {"cosine", "scaled_dot"} <= set(similarities)


@pytest.mark.browser
def test_the_first_view_selects_the_strongest_link_and_a_click_selects_another(
    page: Page, app_url: str, wait_for_app, text_model
) -> None:
    """The home page opens on the default example's strongest link between two different
    tokens (largest alpha_i a_ij, i != j, from the model's numbers); a click on a cell of the
    live matrix selects that cell for the formula panel (the link's cell=i,j follows)."""
    page.goto(app_url)
    wait_for_app(page)
    trace = text_model.explain(EXAMPLE).trace
    i, j = attention_work.lesson_cell(trace.attn[0], trace.alpha[0])
    assert i != j
    page.wait_for_url(re.compile(rf"cell={i + 1}(%2C|,){j + 1}\b"), timeout=10_000)
    tokens = text_model.explain(EXAMPLE).tokens
    said = (f"token {i + 1} “{tokens[i]}” gives a = {float(trace.attn[0, i, j]):.2f} of its "
            f"attention to token {j + 1} “{tokens[j]}”")  # fmt: skip
    assert said in page.inner_text("body")
    live = page.locator(LIVE)
    scroll_to_live(page, wait_for_app)
    g = page.evaluate(READ)["geometry"]
    pick = (2, 0) if (i, j) != (2, 0) else (0, 1)
    x, y = g["labelW"] + (pick[1] + 0.5) * g["cell"], (pick[0] + 0.5) * g["cell"]
    live.locator("canvas").click(position={"x": x, "y": y})
    page.wait_for_url(re.compile(rf"cell={pick[0] + 1}(%2C|,){pick[1] + 1}\b"), timeout=20_000)
    wait_for_app(page)
    assert f"token {pick[0] + 1} “{tokens[pick[0]]}” gives a = " in page.inner_text("body")


WORDS = ["the", "market", "team", "said", "the", "new", "film", "and", "the", "game", "were",
         "good", "news", "for", "the", "city"]  # fmt: skip
LONG_TEXT = " ".join(WORDS * 13)  # 208 words, one token each


@pytest.fixture(scope="module")
def long_model_url(tmp_path_factory) -> tuple:
    """A server of its own whose only checkpoint is a shaken text model (additive, d = 16) that
    reads up to 256 tokens (the shipped ones stop at 128); yields (url, its model)."""
    from conftest import AppServer
    from tiny import shaken

    from dense_attention.inputs.classifier import Classifier, ClassifierConfig
    from dense_attention.inputs.text_encoder import TextConfig

    root = tmp_path_factory.mktemp("long")
    torch.manual_seed(7)
    cfg = ClassifierConfig(
        model=ModelConfig(input_dim=12, hidden_dim=16, num_classes=3, similarity="additive"),
        classes=("business", "sport", "tech"),
        text=TextConfig("learned", max_len=256, embed_dim=8, pos_dim=4),
    )
    model = shaken(Classifier(cfg).eval(), 0.5)
    meta = {"dataset": "bbc-topics", "split_seed": 0, "limit": None}
    checkpoint.save(root / "checkpoints" / "long-texts", model, metadata=meta)
    server = AppServer(root / "data", root / "server.log")
    server.env["DENSE_ATTENTION_CHECKPOINTS"] = str(root / "checkpoints")
    server.start()
    yield server.url, checkpoint.load(root / "checkpoints" / "long-texts")
    server.stop()


@pytest.mark.browser
def test_the_text_page_draws_the_live_view_of_a_200_token_input(
    page: Page, long_model_url: tuple, wait_for_app, screenshot_dir
) -> None:
    """Past the old 128-token cap: the browser computes a 210-token input's scores from h and
    draws the matrix the server's trace has, in its column, under additive (the model's) and
    under bilinear picked in the sidebar."""
    url, model = long_model_url
    page.goto(url)
    wait_for_app(page)
    box = page.get_by_role("textbox", name="Your sentence")
    box.fill(LONG_TEXT)
    box.press("Control+Enter")
    page.wait_for_function(f"() => document.querySelector('{LIVE}')?.dalLive?.tokens.length > 200",
                           timeout=60_000)  # fmt: skip
    wait_for_app(page)
    want = model.explain(LONG_TEXT)
    n = len(want.tokens)
    assert 200 < n <= 256
    live = page.evaluate(READ)
    assert live["settings"]["similarity"] == "additive"
    assert np.array(live["attn"]).shape == (n, n)
    assert np.allclose(live["attn"], want.trace.attn[0].numpy(), atol=1e-4)
    assert np.allclose(live["probs"], want.trace.probs[0].numpy(), atol=1e-4)
    overflow = page.evaluate(
        """(live) => document.querySelector(`${live} canvas`).getBoundingClientRect().right
             - document.querySelector(live).getBoundingClientRect().right""",
        LIVE,
    )
    assert overflow <= 0  # the matrix stays inside the live view
    pick_option(page, "Similarity", "bilinear")
    page.wait_for_function(f"() => document.querySelector('{LIVE}').dataset.settings"
                           ".startsWith('bilinear|')", timeout=10_000)  # fmt: skip
    live = page.evaluate(READ)
    want = model.explain(LONG_TEXT, similarity="bilinear")
    assert np.allclose(live["attn"], want.trace.attn[0].numpy(), atol=1e-4)
    assert not np.allclose(live["attn"], model.explain(LONG_TEXT).trace.attn[0].numpy(), atol=1e-3)
    wait_for_app(page)
    page.evaluate(f"() => document.querySelector('{LIVE}').scrollIntoView()")
    page.screenshot(path=screenshot_dir / "live-view-long.png")
