"""Waiting on a background job in tests: until it finishes, or until it has some epochs."""

from __future__ import annotations

import time

from dense_attention.server import jobs


def finish(job: jobs.Job, timeout: float = 120) -> jobs.Job:
    job.join(timeout)
    assert job.finished, f"{job.title} still {job.state} after {timeout} s: {job.phase}"
    return job


def wait_for_history(job: jobs.Job, epochs: int = 1, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(job.history) < epochs and not job.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(job.history) >= epochs, (job.state, job.phase, job.error)
