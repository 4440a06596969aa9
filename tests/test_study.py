"""Tests for explain.study: a dataset-level faithfulness study and its means."""

import json

import numpy as np
import pytest
import torch

from dense_attention import ModelConfig
from dense_attention.data.dataset import Dataset, Split
from dense_attention.explain import faithfulness as fa
from dense_attention.explain import study
from dense_attention.inputs.classifier import Classifier, ClassifierConfig
from dense_attention.inputs.image_encoder import ImageConfig

d = 8


def _tiny_dataset():
    rng = np.random.default_rng(0)
    images = rng.random((40, 8, 8, 1)).astype(np.float32)
    labels = np.arange(40) % 2
    split = Split(images, labels)
    return Dataset("tiny", "image", ("a", "b"), split, Split(images[:4], labels[:4]),
                   Split(images[:10], labels[:10]), seed=0)  # fmt: skip


def _image_classifier():
    torch.manual_seed(0)
    cfg = ClassifierConfig(model=ModelConfig(input_dim=20, hidden_dim=d, num_classes=2),
                           classes=("a", "b"),
                           image=ImageConfig(size=8, channels=1, patch=4, pos_dim=4))  # fmt: skip
    return Classifier(cfg).eval()


def test_study_and_summary():
    model, ds = _image_classifier(), _tiny_dataset()
    seen = []
    results = study.study(model, ds.test, fa.training_means(model, ds), limit=4,
                          on_example=lambda done, total: seen.append((done, total)),
                          ig_steps=4, permutations=3)  # fmt: skip
    assert len(results) == 4 and seen[-1] == (4, 4)
    s = study.summarize(results)
    assert s.examples == 4 and set(s.flip_rate) == set(fa.ABLATIONS)
    assert set(s.aopc) == {*fa.METHODS, fa.RANDOM} and len(s.kendall) == 10
    table = s.table()
    assert list(table.section.unique()) == ["ablation", "kendall", "aopc"]
    assert json.loads(json.dumps(s.to_dict()))["examples"] == 4
    assert s.to_dict()["entropy_ratio"] == round(s.entropy_ratio, 4)
    assert s.entropy_ratio == pytest.approx(np.mean([r.entropy_ratio for r in results]))


def test_summarize_refuses_no_examples():
    with pytest.raises(fa.FaithfulnessError):
        study.summarize([])
