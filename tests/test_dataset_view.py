"""explain/dataset_view: each row against an independent per-input computation, the sample,
the slices, the confusion matrix, and the bad inputs (one token, an empty slice, one class)."""

import math

import numpy as np
import pytest
import tiny
import torch
from scipy.stats import kendalltau

from dense_attention import ModelConfig
from dense_attention.data.dataset import DataError, Split
from dense_attention.explain import dataset_view as dv
from dense_attention.explain import faithfulness, verdict
from dense_attention.explain.faithfulness import FaithfulnessError
from dense_attention.inputs.classifier import Classifier, ClassifierConfig
from dense_attention.inputs.image_encoder import ImageConfig

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away"]


def texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, rng.integers(1, 9))) for _ in range(n)]


@pytest.fixture(scope="module")
def text_view():
    clf = tiny.text_classifier()
    split = Split(texts(60), np.arange(60) % 3)
    return clf, split, dv.run(clf, split, limit=30, seed=1, batch_size=8)


@torch.no_grad()
def test_rows_match_a_per_input_computation(text_view):
    clf, split, view = text_view
    assert len(view.rows) == 30 and view.split_size == 60 and not view.whole
    for k, row in view.rows.iterrows():
        text = split.items[row["index"] - 1]
        assert row["input"] == text == view.item(k)
        f = faithfulness.features_of(clf, text)
        probs = clf.core.trace(f.x, f.mask).probs[0]
        predicted = int(probs.argmax())
        assert row["prediction"] == clf.classes[predicted]
        assert row["label"] == clf.classes[split.labels[row["index"] - 1]]
        assert row["correct"] == (row["prediction"] == row["label"])
        assert row["confidence"] == pytest.approx(float(probs[predicted]), abs=1e-5)
        # the ablations of the attention page, one input at a time
        ablations = faithfulness.ablations_of(clf.core, f.x, f.mask)
        assert row["uniform_dp"] == pytest.approx(ablations["uniform"].delta, abs=1e-5)
        assert row["identity_dp"] == pytest.approx(ablations["no_attention"].delta, abs=1e-5)
        assert row["uniform_alpha_dp"] == pytest.approx(ablations["uniform_alpha"].delta, abs=1e-5)
        assert row["uniform_flips"] == ablations["uniform"].flipped
        # the badge's verdict of this input, word for word
        assert row["verdict"] == verdict.judge_input(clf, f).headline
        n = int(f.mask.sum())
        assert row["tokens"] == n
        attn = clf.core.trace(f.x, f.mask).attn[0].numpy()
        rows_entropy = [-(a[a > 0] * np.log(a[a > 0])).sum() for a in attn]
        assert row["entropy"] == pytest.approx(np.mean(rows_entropy) / math.log(n), abs=1e-4)


def test_tau_is_kendall_between_alpha_and_the_attention_pages_grad_x_input(text_view):
    clf, split, view = text_view
    checked = 0
    for _, row in view.rows.iterrows():
        f = faithfulness.features_of(clf, split.items[row["index"] - 1])
        result = faithfulness.analyze_features(clf.core, f.x, f.mask, ig_steps=2)
        alpha, grad = result.importance["alpha"], result.importance["grad_x_input"]
        expected = kendalltau(alpha, grad).statistic
        if row["tau"] is None or (isinstance(row["tau"], float) and math.isnan(row["tau"])):
            assert not np.isfinite(expected) or np.ptp(alpha) == 0 or np.ptp(grad) == 0
            assert not row["disagrees"]
            continue
        assert row["tau"] == pytest.approx(expected, abs=1e-6)
        assert row["disagrees"] == (expected < dv.DISAGREE_TAU)
        checked += 1
    assert checked >= 20


def test_the_sample_is_seeded_stratified_and_not_the_first_n():
    labels = np.repeat(np.arange(3), 100)  # sorted by label, as a split may be
    index = dv.sample_index(labels, 30, seed=0)
    assert len(index) == 30 and list(index) == sorted(index)
    assert np.bincount(labels[index]).tolist() == [10, 10, 10]  # not the first 30 (all 0s)
    assert list(dv.sample_index(labels, 30, seed=0)) == list(index)
    assert list(dv.sample_index(labels, 30, seed=1)) != list(index)
    assert len(dv.sample_index(labels, None, seed=0)) == 300


def test_image_rows_and_their_pictures():
    clf, ds = tiny.image_classifier(), tiny.image_dataset()
    view = dv.run(clf, ds.test, limit=None)
    assert view.whole and view.kind == "image" and len(view.rows) == len(ds.test)
    x = torch.as_tensor(ds.test.items).permute(0, 3, 1, 2)
    probs = clf.trace(x).probs
    assert [clf.classes[int(p)] for p in probs.argmax(dim=1)] == list(view.rows["prediction"])
    picture = np.asarray(view.picture(3), dtype=float) / 255
    assert np.abs(picture - ds.test.items[3][..., 0]).max() <= 0.5 / 255 + 1e-6


def test_one_token_inputs_have_no_tau_and_no_entropy_never_nan():
    torch.manual_seed(0)
    whole = ClassifierConfig(  # one 8x8 patch: every picture is one token
        model=ModelConfig(input_dim=68, hidden_dim=8, num_classes=2), classes=("a", "b"),
        image=ImageConfig(size=8, channels=1, patch=8, pos_dim=4),
    )  # fmt: skip
    clf, ds = Classifier(whole).eval(), tiny.image_dataset()
    view = dv.run(clf, ds.test, limit=None)
    assert (view.rows["tokens"] == 1).all()
    assert view.rows["tau"].isna().all() and view.rows["entropy"].isna().all()
    assert not view.rows["disagrees"].any()  # undefined tau never counts as disagreeing
    assert view.rows["verdict"].str.len().gt(0).all()
    for column in ("confidence", "uniform_dp", "identity_dp", "uniform_alpha_dp"):
        assert np.isfinite(view.rows[column].astype(float)).all()
    assert (view.rows["uniform_dp"].abs() < 1e-6).all()  # one token: nothing to spread


def test_filters_slices_and_confusion(text_view):
    _, _, view = text_view
    rows = view.rows
    wrong = dv.filtered(rows, outcome=dv.WRONG)
    assert len(wrong) == (~rows["correct"]).sum() and not wrong["correct"].any()
    both = dv.filtered(rows, classes=["a"], outcome=dv.CORRECT, disagrees=True)
    assert ((both["label"] == "a") & both["correct"] & both["disagrees"]).all()
    flips = dv.filtered(rows, uniform_flips=True)
    assert flips["uniform_flips"].all() and len(flips) == rows["uniform_flips"].sum()
    counts = dv.confusion(rows, view.classes)
    assert counts.sum() == len(rows)
    assert np.trace(counts) == rows["correct"].sum()
    assert counts[0].sum() == (rows["label"] == "a").sum()
    table = dv.slice_table(rows, view.classes).set_index("slice")
    assert table.loc["all inputs", "accuracy"] == pytest.approx(rows["correct"].mean())
    assert table.loc["class b", "inputs"] == (rows["label"] == "b").sum()
    with pytest.raises(FaithfulnessError, match="outcome"):
        dv.filtered(rows, outcome="maybe")


def test_an_empty_slice_has_no_accuracy_rather_than_nan(text_view):
    _, _, view = text_view
    nothing = dv.filtered(view.rows, classes=["a"], outcome=dv.CORRECT, uniform_flips=True,
                          disagrees=True)  # fmt: skip
    nothing = nothing.iloc[0:0]
    assert dv.accuracy(nothing) is None
    assert dv.confusion(nothing, view.classes).sum() == 0
    table = dv.slice_table(view.rows.iloc[0:0], view.classes)
    assert table["accuracy"].isna().all() and (table["inputs"] == 0).all()


def test_a_dataset_of_one_class():
    clf = tiny.text_classifier()
    view = dv.run(clf, Split(texts(12), np.zeros(12, dtype=np.int64)), limit=None)
    assert set(view.rows["label"]) == {"a"}
    counts = dv.confusion(view.rows, view.classes)
    assert counts[1:].sum() == 0 and counts[0].sum() == 12
    table = dv.slice_table(view.rows, view.classes).set_index("slice")
    assert table.loc["class a", "inputs"] == 12 and table.loc["class b", "inputs"] == 0
    assert table.loc["class b", "accuracy"] is None or math.isnan(table.loc["class b", "accuracy"])


def test_an_empty_split_is_refused():
    with pytest.raises(FaithfulnessError, match="no input"):
        dv.run(tiny.text_classifier(), Split([], np.zeros(0, dtype=np.int64)))


def test_labels_are_aligned_to_the_models_classes_by_name():
    labels = dv.aligned_labels(np.array([0, 1, 1]), ("c", "a"), ("a", "b", "c"))
    assert labels.tolist() == [2, 0, 0]
    with pytest.raises(DataError, match="'zebra'"):
        dv.aligned_labels(np.array([0]), ("zebra",), ("a", "b"))


def test_stopping_returns_nothing():
    clf = tiny.text_classifier()
    assert dv.run(clf, Split(texts(20), np.arange(20) % 3), should_stop=lambda: True) is None
