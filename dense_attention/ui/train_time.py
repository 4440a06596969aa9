"""How long a training run takes: an estimate before Start (a few timed steps) and the time left
while it runs (from its progress)."""

from __future__ import annotations

import time

import streamlit as st

from ..core.i18n import tr, use_language
from ..server import jobs, work
from ..training.estimate import Pace, estimate_training
from . import browser
from .errors import friendly_errors
from .state import TRAIN_ESTIMATE as ESTIMATE


def training(job: jobs.Job) -> bool:
    """Whether `job` is in its training phase ("Training: epoch 3 of 10"), in either language:
    the worker writes its phase in the session's language (server.executor.in_language)."""
    with use_language("en"):
        english = tr("Training")
    return job.phase.startswith((english, tr("Training")))


def _running(slot: jobs.JobKind) -> bool:
    job = browser.workspace().jobs.get(slot)
    return job is not None and not job.finished


def _duration(seconds: float) -> str:
    """63.2 -> "1 min 3 s", 12.4 -> "12 s", 0.44 -> "0.4 s"."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return tr("{minutes} min {rest} s", minutes=minutes, rest=rest) if minutes else f"{rest} s"


def _fingerprint(request: work.TrainRequest) -> str:
    data = request.data
    uploaded = None if data.uploaded is None else id(data.uploaded)
    return repr((data.name, data.limit, uploaded, request.model_options, request.train_config))


def time_estimate(request: work.TrainRequest) -> None:
    """Before Start: a button that times a few training steps of these very settings on this
    machine, and the estimate of the whole run it gives (kept until a setting changes)."""
    if _running(jobs.JobKind.TRAIN):
        return
    fingerprint = _fingerprint(request)
    if st.button(tr("Estimate the time"), icon=":material/timer:", key=f"{ESTIMATE}_button"):
        with st.spinner(tr("Timing a few training steps…")), friendly_errors(stop=False):
            ds = request.data.load()
            found = estimate_training(ds, request.model_options, request.train_config)
            st.session_state[ESTIMATE] = (fingerprint, found)
    saved = st.session_state.get(ESTIMATE)
    if saved is None or saved[0] != fingerprint:
        return
    found = saved[1]
    encode = (
        tr(" (encoding {duration})", duration=_duration(found.encode_seconds))
        if found.encode_seconds > 1
        else ""
    )
    st.caption(
        tr(
            "Estimate: about **{duration}** for all {epochs} epochs{encode}, "
            "{duration2} an epoch, timed on a few steps on this machine just now; "
            "early stopping may end sooner, and other work on the machine slows it.",
            duration=_duration(found.seconds),
            epochs=found.epochs,
            encode=encode,
            duration2=_duration(found.epoch_seconds),
        )
    )


def seconds_left(job: jobs.Job) -> tuple[float, float] | None:
    """(seconds training so far, seconds left at its pace): a Pace per job and browser, fed the
    job's progress and its last epoch's time; None outside the training phase or before any
    progress."""
    if not training(job):
        return None
    pace = st.session_state.setdefault(f"{ESTIMATE}_pace_{job.id}", Pace())
    history = list(job.history)
    return pace.observe(time.monotonic(), job.progress, history[-1].seconds if history else None)


def eta(job: jobs.Job) -> None:
    """Elapsed time and the time left at the pace since training began."""
    times = seconds_left(job)
    if times is None:
        return
    spent, left = times
    st.caption(
        tr(
            "{duration} training so far · about **{duration2} left** at this pace "
            "(at most: early stopping may end it sooner)",
            duration=_duration(spent),
            duration2=_duration(left),
        )
    )
