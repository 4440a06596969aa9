"""Tests for explain.study: a dataset-level faithfulness study and its means."""

import json

import numpy as np
import pytest
from tiny import image_classifier, image_dataset

from dense_attention.explain import faithfulness as fa
from dense_attention.explain import study

d = 8


def _tiny_dataset():
    return image_dataset()


def _image_classifier():
    return image_classifier(d)


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
