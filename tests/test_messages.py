"""messages: one frozen dataclass per kind of worker message, picklable by reference (the bytes
a worker sends), outcomes told apart from reports."""

import dataclasses
import inspect
import pickle
import typing

import numpy as np
import pytest

from dense_attention.server import executor, messages, metrics, work
from dense_attention.training.train import EpochRecord, Snapshot
from dense_attention.training.tune import TrialRecord

SNAPSHOT = Snapshot(3, 0.5, np.full((1, 2, 2), 0.5), np.full((1, 2), 0.5), np.full((1, 3), 1 / 3))
EXAMPLES = [
    messages.Progress(0.25, "Training: epoch 1 of 3"),
    messages.Step(7, 0.125),
    messages.EpochEnded(EpochRecord(1, 0.9, 0.5, 0.8, 0.625, 1.5)),
    messages.RunStarted(),
    messages.SnapshotTaken(SNAPSHOT),
    messages.ProbesChosen((metrics.Probe(["a", "b"], "x", np.zeros((2, 2, 1))),)),
    messages.StepsPerEpoch(7),
    messages.TrialFinished(TrialRecord(0, "COMPLETE", 0.75, {"hidden_dim": 8}, 2.0, (0.75,))),
    messages.Published({"accuracy": 0.5}),
    messages.Amended(work.Baseline(accuracy=0.875)),
    messages.Done([1, 2]),
    messages.DonePublished(),
    messages.Failed("the worker stopped"),
]


def test_every_kind_has_an_example_here():
    kinds = {
        c
        for _, c in inspect.getmembers(messages, inspect.isclass)
        if c.__module__ == messages.__name__
    }
    assert {type(m) for m in EXAMPLES} == kinds - {messages.Patch}
    reports, outcomes = (
        set(typing.get_args(messages.Report)),
        set(typing.get_args(messages.Outcome)),
    )
    assert reports | outcomes == kinds - {messages.Patch} and not reports & outcomes


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_a_message_survives_the_bytes_a_worker_sends(message):
    data = executor.dumps(message)
    assert type(message).__name__.encode() in data  # the class goes by reference, by name
    again = pickle.loads(data)
    assert type(again) is type(message)
    assert messages.is_outcome(again) == isinstance(message, messages.OUTCOMES)
    if isinstance(message, messages.SnapshotTaken):  # arrays: compared by value
        np.testing.assert_array_equal(again.snapshot.attn, message.snapshot.attn)
    elif isinstance(message, messages.ProbesChosen):
        assert again.probes[0].tokens == ["a", "b"] and again.probes[0].image.shape == (2, 2, 1)
    else:
        assert again == message
    assert not hasattr(message, "__dict__")  # slots: no attribute can be added
    for field in dataclasses.fields(message):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(message, field.name, None)  # frozen: none can be changed
