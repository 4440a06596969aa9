"""training_plots: curves, the replay, the sweep and the search carry their numbers."""

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from dense_attention.figures import heatmaps, training_plots


def data(fig: go.Figure) -> list[dict]:
    """The figure as the browser gets it (plain JSON)."""
    return json.loads(fig.to_json())["data"]


def test_training_curves_carry_the_history_side_by_side():
    from dense_attention.training.train import EpochRecord

    history = [
        EpochRecord(e, 1.0 / e, 0.5 + e / 10, 1.2 / e, 0.4 + e / 10, float(e)) for e in (1, 2, 3)
    ]
    fig = training_plots.training_curves(
        history, steps=[(1, 2.0), (2, 1.5), (3, 1.0)], steps_per_epoch=1
    )
    traces = {(t["name"], t.get("xaxis", "x")): t for t in data(fig)}
    np.testing.assert_allclose(traces[("training", "x")]["y"], [1.0, 0.5, 1 / 3])
    np.testing.assert_allclose(traces[("validation", "x2")]["y"], [0.5, 0.6, 0.7])
    assert traces[("batch loss", "x")]["y"] == [2.0, 1.5, 1.0]


def test_attention_replay_has_one_frame_per_snapshot():
    frames = [np.full((3, 3), 1 / 3), np.eye(3)]
    fig = training_plots.attention_replay(frames, ["step 0", "step 9"], ["a", "b", "c"])
    spec = json.loads(fig.to_json())
    assert len(spec["frames"]) == 2 and spec["frames"][1]["data"][0]["z"] == np.eye(3).tolist()
    np.testing.assert_allclose(spec["data"][0]["z"], frames[0])  # it opens on step 0
    assert [s["label"] for s in spec["layout"]["sliders"][0]["steps"]] == ["step 0", "step 9"]
    with pytest.raises(ValueError, match="no snapshots"):
        training_plots.attention_replay([], [], ["a"])


def test_sweep_chart_and_tune_history_show_the_tables():
    import pandas as pd

    table = pd.DataFrame(
        {
            "similarity": ["dot", "cosine"],
            "test_accuracy": [0.9, 0.95],
            "train_seconds": [1.0, 2.0],
            "attention_entropy": [0.1, 1.0],
        }
    )
    bars = data(training_plots.sweep_chart(table))
    assert bars[0]["x"] == ["dot", "cosine"] and bars[0]["y"] == [0.9, 0.95]
    assert bars[0]["marker"]["color"] == [heatmaps.MUTED, heatmaps.HIGHLIGHT]  # the best stands out
    trials = pd.DataFrame(
        {
            "number": [0, 1, 2],
            "value": [0.5, None, 0.7],
            "similarity": ["dot", "dot", "cosine"],
            "state": ["COMPLETE", "PRUNED", "COMPLETE"],
            "hidden_dim": [16, 32, 64],
        }
    )
    best = next(t for t in data(training_plots.tune_history(trials)) if t["name"] == "best so far")
    assert best["y"] == [0.5, 0.5, 0.7]


def test_the_replay_slider_has_a_row_of_its_own_under_play_and_pause():
    """Beside the buttons, the slider's value label would run into Pause."""
    fig = training_plots.attention_replay(
        [np.eye(3), np.eye(3)], ["step 0", "step 9"], ["a", "b", "c"]
    )
    (menu,), (slider,) = fig.layout.updatemenus, fig.layout.sliders
    assert slider.x == 0 and slider.pad.t >= menu.pad.t + 40  # a button is ~35 px high
    assert fig.layout.margin.b >= slider.pad.t + 60  # and the slider fits in the figure
