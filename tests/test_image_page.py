"""The image page under streamlit.testing: its pictures and matrices are the model's numbers."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from pagetest import decode
from PIL import Image
from streamlit.testing.v1 import AppTest

from dense_attention.core.errors import UNEXPECTED_MESSAGE
from dense_attention.data import images
from dense_attention.explain import diagonal, faithfulness, familiarity, formulas, verdict
from dense_attention.storage import checkpoint
from dense_attention.ui.styles import md

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "views" / "image.py")
APP = str(ROOT / "app.py")
DIGITS = ROOT / "assets" / "checkpoints" / "digits"


@pytest.fixture(scope="module")
def digits():
    return checkpoint.load(DIGITS)


@pytest.fixture(scope="module")
def examples():
    meta = checkpoint.read_metadata(DIGITS)
    return images.test_examples("digits", 20, seed=meta["split_seed"], limit=meta["limit"])


@pytest.fixture
def at() -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def charts(at: AppTest) -> dict[str, dict]:
    """Every plotly figure on the page as the browser gets it, by title (last one wins)."""
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs}


def attention_matrices(at: AppTest) -> list[np.ndarray]:
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    return [
        np.array(spec["data"][0]["z"], dtype=float)
        for spec in specs
        if spec["layout"]["title"]["text"].startswith("Attention a<sub>ij")
    ]


def on_patches(weights, boxes, size: int) -> np.ndarray:
    """Per-patch weights painted on their pixel boxes (NaN elsewhere), computed here by hand."""
    out = np.full((size, size), np.nan)
    for w, (top, left, bottom, right) in zip(weights, boxes, strict=True):
        out[top:bottom, left:right] = w
    return out


def overlay(at: AppTest, prefix: str) -> np.ndarray:
    (spec,) = [s for title, s in charts(at).items() if title.startswith(prefix)]
    image, heat = spec["data"]
    assert image["type"] == "image" and heat["type"] == "heatmap"
    return np.array(heat["z"], dtype=float)  # JSON null (no patch) becomes NaN


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def assert_shows(at: AppTest, digits, image: Image.Image, **overrides) -> None:
    """The page's matrices and overlays are `digits.explain(image)`'s, patch by patch."""
    assert not at.exception, [e.message for e in at.exception]
    trace = digits.explain(image, **overrides).trace
    attn = trace.attn[0].numpy()
    matrices = attention_matrices(at)
    assert len(matrices) == 2  # the attention step and the formula panel's clickable matrix
    for z in matrices:
        np.testing.assert_allclose(z, attn, atol=1e-6)
    spec = charts(at)["Attention a<sub>ij</sub> (row i: query, column j: key)"]
    assert spec["layout"]["xaxis"]["ticktext"] == digits.encoder.patch_labels()
    assert spec["layout"]["yaxis"]["ticktext"] == digits.encoder.patch_labels()
    boxes = digits.encoder.patch_boxes()
    alpha = trace.alpha[0].numpy()
    np.testing.assert_allclose(overlay(at, "Pooling weights α<sub>i</sub> on"),
                               on_patches(alpha, boxes, 8), atol=1e-6)  # fmt: skip
    i = at.selectbox(key="image_query").value
    np.testing.assert_allclose(overlay(at, "Attention row"),
                               on_patches(attn[i], boxes, 8), atol=1e-6)  # fmt: skip
    grid = charts(at)["The 8×8 input, cut into 4 patches"]["data"][0]
    seen = images.resized_input(digits, image)[..., 0] * 255
    np.testing.assert_allclose(np.array(grid["z"])[..., 0], seen, atol=0.5)
    winner = digits.classes[int(trace.probs[0].argmax())]
    assert any(f"Prediction: **{winner}**" in m.value for m in at.markdown)


def test_a_test_set_example_by_default(at, digits, examples):
    assert at.title[0].value == "Your picture, one formula at a time"
    assert at.radio(key="image_source").value == "Test-set example"
    assert_shows(at, digits, examples[0].image)
    assert any(m.value == f"True label: **{examples[0].label}**" for m in at.markdown)
    assert not at.info  # no "photo" disclaimer for the model's own kind of data
    assert len(at.latex) >= 10 + 6  # every step's formula and the formula with numbers

    at.selectbox(key="image_example").set_value(7).run()
    assert_shows(at, digits, examples[7].image)


def test_a_demo_photo_with_an_honest_note(at, digits):
    at.radio(key="image_source").set_value("Demo photo").run()
    at.selectbox(key="image_photo").set_value("chelsea").run()
    assert_shows(at, digits, images.demo_images()["chelsea"])
    assert "not a meaningful label" in at.info[0].value
    assert any("padded" in c.value for c in at.caption)  # 451x300: not square


def test_a_picture_the_model_is_unsure_of_gets_the_caution_beside_its_prediction(at, digits):
    """Issue #26.5: a demo photo under digits' held-out floor (metrics.json) gets the caution,
    with its numbers; one above the floor does not."""
    floor = familiarity.from_metrics(json.loads((DIGITS / "metrics.json").read_text())).floor
    sure = {
        name: float(digits.explain(picture).trace.probs[0].max())
        for name, picture in images.demo_images().items()
    }
    unsure = min(sure, key=sure.get)
    confident = max(sure, key=sure.get)
    assert sure[unsure] < floor <= sure[confident]  # the premise: one on each side
    at.radio(key="image_source").set_value("Demo photo").run()
    at.selectbox(key="image_photo").set_value(unsure).run()
    (note,) = [w.value for w in at.warning if "may be unlike the digits data" in w.value]
    assert f"{sure[unsure]:.1%} sure of its top class" in note and f"{floor:.1%}" in note
    at.selectbox(key="image_photo").set_value(confident).run()
    assert not any("may be unlike" in w.value for w in at.warning)


def test_the_query_patch_follows_the_formula_panel(at, digits, examples):
    at.selectbox(key="image_query").set_value(3).run()
    assert at.selectbox(key="cell_i").value == 3  # the formula panel uses the same query
    assert_shows(at, digits, examples[0].image)
    assert "where patch 4 (r1c1) looks" in next(t for t in charts(at) if "row" in t)
    at.selectbox(key="cell_i").set_value(0).run()  # and the other way round
    assert at.selectbox(key="image_query").value == 0
    assert_shows(at, digits, examples[0].image)


@pytest.mark.parametrize(("similarity", "temperature"), [("dot", 0.01), ("cosine", 100.0)])
def test_extreme_temperatures_show_finite_numbers(at, digits, similarity, temperature):
    at.radio(key="image_source").set_value("Demo photo").run()
    at.selectbox(key="sidebar_similarity").set_value(similarity).run()
    at.select_slider(key="sidebar_temperature").set_value(temperature).run()
    photo = images.demo_images()["astronaut"]
    assert_shows(at, digits, photo, similarity=similarity, temperature=temperature)
    for title, spec in charts(at).items():
        for trace in spec["data"]:
            for field in ("z", "y"):
                values = decode(trace.get(field) or [])  # token x feature z: binary
                assert not np.isinf(values).any(), title
                if trace["type"] != "heatmap" or "on the picture" not in title:
                    assert not np.isnan(values).any(), title  # overlays: NaN only off-patch
    assert not any("nan" in latex.value.lower() for latex in at.latex)


def upload(at: AppTest, name: str, raw: bytes, mime: str = "image/png") -> AppTest:
    at.radio(key="image_source").set_value("Upload").run()
    assert "Upload a picture" in at.info[0].value  # a prompt before any file
    at.file_uploader(key="image_file").set_value((name, raw, mime)).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_uploading_a_png_shows_its_overlays(at, digits):
    picture = Image.fromarray(np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1)))
    upload(at, "ramp.png", png(picture))
    assert not at.error
    assert_shows(at, digits, picture)
    assert "not a meaningful label" in at.info[0].value


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("notes.png", b"this is a text file, not a picture\n", "notes.png: not an image"),
        ("cut.png", png(Image.effect_noise((300, 300), 60))[:5000],
         "cut.png: corrupt or truncated image"),
        ("empty.png", b"", "empty.png is empty"),
    ],
    ids=["not-an-image", "truncated-png", "empty-file"],
)  # fmt: skip
def test_bad_uploads_show_a_clear_error_not_a_traceback(at, name, raw, message):
    upload(at, name, raw)
    assert md(message) in at.error[0].value  # the file's name, escaped
    assert not at.get("plotly_chart")  # the page stops at the message


def jpeg_40mp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8000, 5000), (30, 90, 200)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "note"),
    [
        ("dot.png", lambda: png(Image.new("L", (1, 1), 200)), "enlarged"),
        ("huge.jpg", jpeg_40mp, "Your 8000×5000 image (40.0 megapixels) was downscaled"),
    ],
    ids=["1x1", "40-megapixels"],
)
def test_odd_sizes_are_resized_with_a_note(at, digits, name, make, note):
    upload(at, name, make(), "image/jpeg" if name.endswith("jpg") else "image/png")
    assert not at.error
    assert any(note in c.value for c in at.caption)
    shown = images.upload_to_image(make(), name)  # what the page decoded
    assert_shows(at, digits, shown)


def test_the_app_serves_the_image_page(digits, examples):
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("views/image.py").run()
    assert at.title[0].value == "Your picture, one formula at a time"
    assert_shows(at, digits, examples[0].image)


@pytest.fixture
def big_model_dir(tmp_path, monkeypatch, request):
    """A shipped-like 28 x 28 checkpoint (49 patches), the only one the sidebar offers."""
    from dense_attention.core.config import ModelConfig
    from dense_attention.data.builtin import FASHION_CLASSES
    from dense_attention.inputs.classifier import Classifier, ClassifierConfig
    from dense_attention.inputs.image_encoder import ImageConfig

    image = ImageConfig(size=28, channels=request.param, patch=4, pos_dim=8)
    model_cfg = ModelConfig(input_dim=image.input_dim, hidden_dim=16, num_classes=10)
    model = Classifier(ClassifierConfig(model=model_cfg, classes=FASHION_CLASSES, image=image))
    meta = {"dataset": "fashion-mnist", "split_seed": 0, "limit": None}
    checkpoint.save(tmp_path / "fashion-mnist", model, metadata=meta)
    monkeypatch.setenv("DENSE_ATTENTION_CHECKPOINTS", str(tmp_path))
    return tmp_path / "fashion-mnist"


@pytest.mark.parametrize("big_model_dir", [1, 3], indirect=True, ids=["gray", "rgb"])
def test_a_28x28_model_with_49_patches(big_model_dir):
    model = checkpoint.load(big_model_dir)
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    if at.error:  # Fashion-MNIST is optional (Debian's dataset-fashion-mnist)
        assert "Fashion-MNIST not found" in at.error[0].value
    at.radio(key="image_source").set_value("Demo photo").run()
    at.selectbox(key="image_photo").set_value("coffee").run()
    assert not at.exception, [e.message for e in at.exception]
    photo = images.demo_images()["coffee"]
    trace = model.explain(photo).trace
    (matrix, _) = attention_matrices(at)
    np.testing.assert_allclose(matrix, trace.attn[0].numpy(), atol=1e-6)
    alpha = overlay(at, "Pooling weights α<sub>i</sub> on")
    assert alpha.shape == (28, 28)
    np.testing.assert_allclose(
        alpha, on_patches(trace.alpha[0].numpy(), model.encoder.patch_boxes(), 28), atol=1e-6
    )
    grid = charts(at)["The 28×28 input, cut into 49 patches"]["data"][0]
    seen = images.resized_input(model, photo)
    np.testing.assert_allclose(np.array(grid["z"]), np.broadcast_to(seen, (28, 28, 3)) * 255,
                               atol=0.5)  # fmt: skip
    cfg = model.config.image
    features = f"{cfg.patch_dim} {'colour values' if cfg.channels == 3 else 'gray levels'}"
    assert any(features in c.value for c in at.caption)


def test_the_verdict_and_why_diagonal_of_a_digit(at, digits, examples):
    """The image page speaks the library's verdict of its picture (the same words as the text
    page's) and, when a patch keeps most attention for itself, says why beside the matrix."""
    image = examples[0].image
    features = faithfulness.features_of(digits, image)
    found = verdict.judge_input(digits, features, faithfulness.stored_means(DIGITS))
    badges = [m.value for m in at.markdown if "badge[" in m.value]
    assert badges and md(found.headline) in badges[0]
    assert md(found.text) in [c.value for c in at.caption]
    explanation = digits.explain(image)
    row = at.selectbox(key="cell_i").value
    note = diagonal.why_diagonal(explanation.trace, explanation.tokens, row,
                                 found.effects["mixing"])  # fmt: skip
    panels = [e.markdown[0].value for e in at.expander if e.label.startswith("Why is my")]
    expected = [] if note is None else ["\n".join(f"- {md(x)}" for x in note.lines)]
    assert panels == expected


def test_every_word_is_true_to_the_digits_model(at, digits):
    """digits is trained with skip mean: its skip step says h_o goes beside c."""
    config = digits.config.model
    assert config.skip == "mean" and config.pool_activation == "tanh"
    shown = " ".join([m.value for m in at.markdown] + list(charts(at)))
    assert "goes to the output layer beside c" in shown and "not used" not in shown
    assert "reads c and h_o side by side" in shown and f"{config.num_classes} classes" in shown
    assert "4×4-pixel patch (16 numbers)" in shown and "σ" not in shown
    assert any(title.startswith("Pooled vector c = tanh(") for title in charts(at))


def _breakdown(at: AppTest) -> dict:
    return next(spec for title, spec in charts(at).items() if "Σ parts" in title)


def test_the_breakdown_of_a_multi_head_model_picks_a_head(at, examples):
    """Issue 22.3: on digits-heads the score breakdown is one head's: it starts on the head
    with the largest a^k_ij of the cell, its bars sum to that head's score, and another head
    or another cell gives that head's (and that cell's) own numbers."""
    from dense_attention.ui import state

    heads_dir = ROOT / "assets" / "checkpoints" / "digits-heads"
    assert checkpoint.read_metadata(heads_dir)["split_seed"] == 0  # the same test examples
    model = checkpoint.load(heads_dir)
    at.selectbox(key=state.MODEL_WIDGET).set_value("digits-heads").run()
    assert not at.exception, [e.message for e in at.exception]
    trace = model.explain(examples[0].image).trace
    i, j = at.selectbox(key="cell_i").value, at.selectbox(key="cell_j").value
    pick = at.selectbox(key=state.head_keys()[0])
    assert pick.value == int(trace.head_attn[0, :, i, j].argmax())
    spec = _breakdown(at)
    assert sum(spec["data"][0]["y"]) == pytest.approx(
        float(trace.head_scores[0, pick.value, i, j]), abs=1e-4
    )
    assert len(spec["data"][0]["y"]) == model.config.model.head_dim
    assert UNEXPECTED_MESSAGE not in [e.value for e in at.error]
    # the formulas above it are that head's: a^k_ij written out with its weight
    weight = formulas.fmt_number(float(trace.head_attn[0, pick.value, i, j]))
    head_tex = f"a^{{{pick.value + 1}}}_{{{i + 1},{j + 1}}}"
    assert any(head_tex in t.value and f"= {weight}" in t.value for t in at.latex)
    assert f"head {pick.value + 1} of 4" in spec["layout"]["title"]["text"]
    other = (pick.value + 1) % 4
    pick.set_value(other).run()
    spec = _breakdown(at)
    assert spec["layout"]["meta"]["head"] == other
    assert any(f"a^{{{other + 1}}}_{{{i + 1},{j + 1}}}" in t.value for t in at.latex)
    assert sum(spec["data"][0]["y"]) == pytest.approx(
        float(trace.head_scores[0, other, i, j]), abs=1e-4
    )
    lines = " ".join(m.value for m in at.markdown)
    assert "mean of the 4 heads' scores" in lines
    # a new cell: the picker starts again on that cell's heaviest head
    k = next(k for k in range(trace.head_attn.shape[-1]) if k not in (i, j))
    at.selectbox(key="cell_j").set_value(k).run()
    assert at.selectbox(key=state.head_keys()[0]).value == int(trace.head_attn[0, :, i, k].argmax())
    assert _breakdown(at)["layout"]["meta"]["j"] == k
