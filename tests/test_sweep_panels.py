"""The sweep and tuning panels, drawn from hand-made results (no training): the sample picture
marks each model's prediction right or wrong; a search that did not beat the defaults says so."""

import json
from types import SimpleNamespace

import numpy as np
from streamlit.testing.v1 import AppTest

from dense_attention.core.config import TrainConfig
from dense_attention.training.sweep import SweepResult, SweepRun
from dense_attention.training.tune import TrialRecord, TuneResult
from dense_attention.ui.styles import md

CLASSES = ("cat", "dog", "owl")


def _run(similarity: str, probs: list[float]) -> SweepRun:
    return SweepRun(similarity, 0.5, 1.0, 0.5, 1.0, 10, 0.5, 1, 1, "completed", (),
                    np.full((2, 2), 0.5), np.array(probs))  # fmt: skip


def _panel(panel: str, result: object) -> AppTest:
    def script(panel: str, job: object) -> None:
        from dense_attention import ui

        getattr(ui, panel)(job)

    job = SimpleNamespace(id="j1", result=result, history=[], trials=getattr(result, "trials", ()))
    at = AppTest.from_function(script, args=(panel, job), default_timeout=30).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_sweeps_sample_marks_each_models_prediction_right_or_wrong():
    runs = (_run("dot", [0.1, 0.8, 0.1]), _run("cosine", [0.7, 0.2, 0.1]))  # true class: dog
    result = SweepResult("pets", runs, 0, ("a", "b"), "dog", CLASSES, float(np.log(2)), False)
    assert result.probe_prediction(runs[0]) == ("dog", True)
    assert result.probe_prediction(runs[1]) == ("cat", False)
    at = _panel("sweep_progress", result)
    layouts = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart")]
    titles = [layout.get("title", {}).get("text") for layout in layouts]
    assert "dot → dog ✓" in titles and "cosine → cat ✗" in titles


def test_a_search_that_did_not_beat_the_defaults_gets_a_warning_not_a_trophy():
    trial = TrialRecord(0, "COMPLETE", 0.771, {"hidden_dim": 16}, 1.0, (0.771,))
    result = TuneResult("pets", (trial,), 0, 0.771, {"hidden_dim": 16}, 0, TrainConfig(),
                        default_value=0.961, baseline_value=0.5)  # fmt: skip
    at = _panel("tune_progress", result)
    said = result.shortfall()
    assert "not beaten the default settings (96.1%)" in said
    assert [w.value for w in at.warning] == [md(said)]  # shown escaped
    assert not at.success and "validation accuracy 77.1%" in at.info[0].value
    beaten = TuneResult("pets", (trial,), 0, 0.771, {"hidden_dim": 16}, 0, TrainConfig(),
                        default_value=0.7, baseline_value=0.5)  # fmt: skip
    at = _panel("tune_progress", beaten)
    assert not at.warning and "It beats default settings 70.0%, classic baseline 50.0%" in (
        at.success[0].value
    )
