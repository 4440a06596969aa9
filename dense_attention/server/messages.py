"""The messages a job's worker sends its server, one frozen dataclass per kind: reports while the
work runs (`Report`, applied to the server's Job by `jobs.apply`), then one outcome (`Outcome`).

Each is a module-level dataclass, so it pickles by reference across a spawned process and a Ray
task (`executor.dumps`); its fields travel by value (tensors and arrays included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..training.train import EpochRecord, Snapshot
from ..training.tune import TrialRecord
from .metrics import Probe


class Patch(Protocol):
    """A change to a published result (module-level and picklable, like the messages)."""

    def apply(self, result: Any) -> None:
        """Make the change on `result` (in the worker, then on the server's copy)."""


# ---------------------------------------------------------------------------------------------
# Reports: progress while the work runs


@dataclass(frozen=True, slots=True)
class Progress:
    """How far the job is (0..1, clipped by the Job) and/or what it does now, in words."""

    progress: float | None = None
    phase: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One optimiser step of the current run and its batch loss."""

    step: int
    loss: float


@dataclass(frozen=True, slots=True)
class EpochEnded:
    """One epoch of the current run ended: its record joins the job's history."""

    record: EpochRecord


@dataclass(frozen=True, slots=True)
class RunStarted:
    """A new run of a sweep starts: the history shown is that run's, from empty."""


@dataclass(frozen=True, slots=True)
class SnapshotTaken:
    """The probes' attention at one step (train jobs)."""

    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class ProbesChosen:
    """The validation examples the snapshots follow (train jobs)."""

    probes: tuple[Probe, ...]


@dataclass(frozen=True, slots=True)
class StepsPerEpoch:
    """Optimiser steps in one epoch of the current run (train jobs)."""

    steps: int


@dataclass(frozen=True, slots=True)
class TrialFinished:
    """One finished tuning trial (tune jobs)."""

    record: TrialRecord


@dataclass(frozen=True, slots=True)
class Published:
    """The job's result, before the work ends (usable while more is measured)."""

    result: Any


@dataclass(frozen=True, slots=True)
class Amended:
    """A change to the published result (e.g. its baseline, once measured)."""

    patch: Patch


Report = (
    Progress | Step | EpochEnded | RunStarted | SnapshotTaken | ProbesChosen | StepsPerEpoch
    | TrialFinished | Published | Amended
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Outcomes: the last message of a job


@dataclass(frozen=True, slots=True)
class Done:
    """The work returned `result`."""

    result: Any


@dataclass(frozen=True, slots=True)
class DonePublished:
    """The work returned the result it had published (not sent twice)."""


@dataclass(frozen=True, slots=True)
class Failed:
    """The work failed, or its worker did: `message` says why, for the user."""

    message: str


Outcome = Done | DonePublished | Failed
Message = Report | Outcome
OUTCOMES = (Done, DonePublished, Failed)  # for isinstance


def is_outcome(message: Message) -> bool:
    """Whether `message` is the last one of its job."""
    return isinstance(message, OUTCOMES)
