"""familiarity: the held-out floor of a model's top probability and the caution under it."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from dense_attention.data.builtin import load_dataset
from dense_attention.explain import familiarity
from dense_attention.inputs.classifier import build_classifier
from dense_attention.inputs.image_encoder import ImageConfig
from dense_attention.storage import catalog, checkpoint

ROOT = catalog.REPO_ROOT / "assets" / "checkpoints"
# Written for this test, not taken from BBC News.
IN_DOMAIN = (
    "Liverpool beat Everton 3-1 in Saturday's derby, with two late goals from their striker "
    "sealing the win in front of a full stadium.",
    "Shares in the bank fell 6% on the stock market after it warned that profits would be "
    "lower this year, and investors sold in a hurry.",
    "The opposition leader said his party would win the general election, as voters prepare "
    "to choose a new government and prime minister.",
)
OUT_OF_DOMAIN = (
    "asdkjh qwpoeiru zxmcnv blorp",
    "Le gouvernement a annoncé hier une nouvelle réforme des retraites qui suscite la colère "
    "des syndicats.",
    "😀🎉🦄🍕🔥🌈",
)


@pytest.fixture(scope="module")
def home():
    """The home page's model (bbc-topics) and the floor stored in its metrics.json."""
    folder = ROOT / "bbc-topics"
    metrics = json.loads((folder / checkpoint.METRICS_FILE).read_text())
    return checkpoint.load(folder), familiarity.from_metrics(metrics)


@pytest.mark.parametrize("text", OUT_OF_DOMAIN)
def test_gibberish_french_and_emoji_get_the_caution_on_the_home_model(home, text):
    model, found = home
    p = familiarity.top_probability(model, text)
    note = familiarity.caution(p, found, "text")
    assert p < found.floor and note is not None
    assert f"{p:.1%}" in note and f"{found.floor:.1%}" in note and "bbc-topics" in note


@pytest.mark.parametrize("text", IN_DOMAIN)
def test_news_sentences_written_here_do_not(home, text):
    model, found = home
    p = familiarity.top_probability(model, text)
    assert p >= found.floor and familiarity.caution(p, found, "text") is None


def test_the_home_floor_is_measured_on_test_data_it_was_not_fit_on(home):
    """bbc-topics was refit on train + val: its floor comes from half the test split."""
    _, found = home
    assert "half of the test split" in found.split
    assert found.examples + found.test_examples == 444 and abs(found.examples - 222) <= 1
    assert 0.0 < found.test_share < 0.15 and 0.3 < found.floor < 1.0


def test_the_stored_digits_floor_is_what_measuring_again_gives():
    folder = ROOT / "digits"
    stored = familiarity.from_metrics(json.loads((folder / "metrics.json").read_text()))
    model = checkpoint.load(folder)
    ds = load_dataset("digits", seed=0)
    test = model.tensors(ds.test)
    first, second = familiarity._halves(len(test))
    with torch.no_grad():
        p = model(*test.inputs).softmax(-1).amax(-1).numpy()
    floor = np.percentile(p[first.numpy()], 5)
    assert stored.floor == pytest.approx(floor, abs=1e-4)
    assert stored.test_share == pytest.approx(np.mean(p[second.numpy()] < stored.floor), abs=1e-4)
    assert familiarity.calibrate_checkpoint(folder) == stored


def test_a_model_fit_on_train_alone_takes_its_floor_from_the_validation_split():
    ds = load_dataset("digits", limit=200)
    model = build_classifier(ds, image=ImageConfig(8, 1, 4, 8), hidden_dim=8).eval()
    found = familiarity.calibrate(model, ds, fit_on="train")
    p = familiarity.max_probabilities(model, model.tensors(ds.val))
    assert found.split == "validation split" and found.examples == len(ds.val)
    assert found.floor == pytest.approx(np.percentile(p, 5), abs=1e-4)
    assert found.test_examples == len(ds.test)


def test_the_caution_is_worded_from_its_numbers_and_only_under_the_floor():
    found = familiarity.Familiarity(0.8, 5.0, "validation split", 40, "my-data", 0.05, 80)
    assert familiarity.caution(0.8, found, "text") is None
    assert familiarity.caution(0.95, found, "image") is None
    assert familiarity.caution(0.5, None, "text") is None
    note = familiarity.caution(0.61, found, "image", settings_changed=True)
    assert note.startswith("This picture may be unlike the my-data data")
    assert "61.0% sure of its top class with its trained settings" in note
    assert "95% of 40 held-out my-data examples" in note and "80.0%" in note


def test_a_malformed_block_reads_as_none():
    good = familiarity.Familiarity(0.8, 5.0, "validation split", 40, "d", None)
    assert familiarity.from_metrics({"familiarity": good.to_dict()}) == good
    assert familiarity.from_metrics({}) is None and familiarity.from_metrics(None) is None
    assert familiarity.from_metrics({"familiarity": {"floor": 0.8}}) is None
    assert familiarity.from_metrics({"familiarity": {**good.to_dict(), "floor": 3.0}}) is None
    assert familiarity.from_metrics({"familiarity": replace(good, floor="x").to_dict()}) is None
