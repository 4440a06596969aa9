"""explain/permutation.py: Jain & Wallace's permutation test on the pooling weights α."""

from dataclasses import replace

import numpy as np
import pytest
import tiny

from dense_attention.explain import permutation
from dense_attention.explain.faithfulness import FaithfulnessError
from dense_attention.inputs.classifier import Classifier


def test_two_classes_tv_is_the_change_of_p_and_bins_cover_every_input():
    model = tiny.shaken(tiny.image_classifier(), 0.5).eval()
    found = permutation.permute_alpha(model, tiny.image_dataset().test, None, draws=30)
    assert len(found.abs_delta) == 10
    assert found.tv == pytest.approx(found.abs_delta, abs=1e-6)  # C = 2: TV = |Δp|
    assert found.abs_delta.max() > 0  # a learned α over different v_i: shuffling it matters
    block = found.to_dict()
    assert sum(b["inputs"] for b in block["by_max_alpha"].values()) == 10
    assert block["median_abs_delta"] == pytest.approx(np.median(found.abs_delta), rel=1e-3)


def test_uniform_pooling_is_unmoved_by_any_permutation():
    shaken = tiny.shaken(tiny.image_classifier(), 0.5)
    config = replace(shaken.config, model=replace(shaken.config.model, pooling="mean"))
    model = Classifier(config)
    model.load_state_dict(shaken.state_dict(), strict=False)
    found = permutation.permute_alpha(model.eval(), tiny.image_dataset().test, 6, draws=10)
    assert found.abs_delta == pytest.approx(0, abs=1e-6)
    assert found.flip_rate.max() == 0


def test_bad_draws_are_refused():
    with pytest.raises(FaithfulnessError, match="draws"):
        permutation.permute_alpha(tiny.image_classifier(), tiny.image_dataset().test, 2, draws=0)
