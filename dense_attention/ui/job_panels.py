"""A background job's controls (Start, Stop) and live panel, and a training run's progress,
result and comparison with another run."""

from __future__ import annotations

import math
from collections.abc import Callable

import streamlit as st

from ..core.i18n import tr
from ..figures import trace_plots, training_plots
from ..server import jobs, metrics
from ..server.jobs import JobKind
from . import browser, state
from .styles import md
from .train_time import eta, seconds_left, training

# How often a running job's panel refreshes. Each refresh rebuilds the curves and the live
# attention, ships them and the browser redraws them, on the CPUs the training worker shares:
# digits with the train page's defaults took 2-5x the CLI's time at 0.7 s; measured in
# Chromium against the CLI on this 2-core machine: 1.20-1.33x at 2.5 s, 1.13-1.20x at 4 s,
# 1.13x at 10 s.
JOB_POLL_S = 4.0
# Near its end (under NEAR_END_S left at the current pace, or past training: testing and the
# baseline) the panel polls every JOB_FAST_POLL_S, so the result shows soon after it exists
# instead of up to JOB_POLL_S later.
NEAR_END_S = 5.0  # at least JOB_POLL_S: a slow poll does not step over the window
JOB_FAST_POLL_S = 1.0
STOPPED_AT_MOST = 0.99  # a stopped job's bar: it did not do all it was asked
CURVE_POINTS = 300  # batch losses drawn at most (every k-th one of a long run)


def running(slot: JobKind) -> jobs.Job | None:
    """This browser's job in `slot` (train | sweep | tune) while it runs, else None."""
    job = browser.workspace().jobs.get(slot)
    return job if job is not None and not job.finished else None


def start_job(slot: JobKind, start: Callable[[], jobs.Job]) -> None:
    """Start a job in `slot` unless one runs there (a double click starts one job). The job is
    this browser's: it runs at most one job at a time, so it cannot hold every slot."""
    space = browser.workspace()
    if running(slot) is None:
        with jobs.owned_by(space):
            space.jobs[slot] = start()
        browser.workspaces().record_jobs(space)  # shown as interrupted if the server dies
        browser.watch(space, space.jobs[slot])


def job_controls(
    slot: JobKind, label: str, start: Callable[[], jobs.Job], ready: bool = True
) -> None:
    """Start and Stop buttons for the job in `slot`.

    Start is read in the page run (not as an on_click callback): a callback would get the
    request built in the previous run, before the user's latest change of a setting.
    """
    job = running(slot)
    left, right = st.columns([1, 1])
    if left.button(
        label, type="primary", icon=":material/play_arrow:", disabled=job is not None or not ready,
        key=f"{slot}_start",
    ):  # fmt: skip
        start_job(slot, start)
        st.rerun()
    right.button(
        tr("Stop (keeps the best so far)") if slot == JobKind.TRAIN else tr("Stop"),
        icon=":material/stop:", disabled=job is None, key=f"{slot}_stop",
        on_click=job.stop if job is not None else None,
    )  # fmt: skip


def job_panel(slot: JobKind, draw: Callable[[jobs.Job], None]) -> None:
    """The job in `slot`: progress bar, then `draw(job)`; refreshed every JOB_POLL_S seconds
    while it runs (every JOB_FAST_POLL_S near its end; a fragment: only this panel reruns),
    then once more as a whole page."""
    job = browser.workspace().jobs.get(slot)
    if job is None:
        if (message := browser.interrupted(slot)) is not None:
            st.warning(md(message), icon=":material/restart_alt:")
        return
    seen = f"{slot}{state.FINISHED_SEEN}"
    fast = _near_end(job)

    @st.fragment(run_every=None if job.finished else JOB_FAST_POLL_S if fast else JOB_POLL_S)
    def live() -> None:
        if not fast and not job.finished and _near_end(job):
            st.rerun()  # the whole page: the panel is drawn again, polling fast
        done = shown_progress(job)
        percent = math.floor(done * 100)  # rounded down: a run not done never shows 100%
        st.progress(done, text=f"{md(job.title)}: {tr(job.phase)} ({percent:d}%)")
        if job.error:
            st.error(
                tr("{title} failed: {error}", title=md(job.title), error=md(job.error)),
                icon=":material/error:",
            )
        draw(job)
        if job.finished and st.session_state.get(seen) != job.id:
            st.session_state[seen] = job.id
            browser.collect_finished()
            st.rerun()  # the whole page: Start comes back, the model joins the picker

    live()


def shown_progress(job: jobs.Job) -> float:
    """The share of the job done, as its bar shows it: a stopped training run's share of its
    optimiser steps (its worker reports 1.0 once it tests the model), and a stopped job never
    at 100%; the percentage is floored, so 99.6% does not read 100% either."""
    if job.state != jobs.STOPPED:
        return job.progress
    done = job.progress
    if job.kind == "train" and job.steps_per_epoch:
        done = len(job.steps) / (job.steps_per_epoch * job.request.train_config.epochs)
    return min(done, STOPPED_AT_MOST)


def _near_end(job: jobs.Job) -> bool:
    """Whether `job` is about to publish its result: a training run with under NEAR_END_S left,
    or one past its training phase (testing, the baseline). Once near, it stays so (the time
    left can rise between progress reports: the panel would switch back and forth)."""
    near = st.session_state.setdefault(state.JOBS_NEAR_END, set())
    if job.finished or job.id in near:
        return not job.finished
    if job.progress <= 0:
        return False
    if training(job):
        times = seconds_left(job)
        found = times is not None and times[1] < NEAR_END_S
    else:
        found = job.progress >= 0.99
    if found:
        near.add(job.id)
    return found


def _live_attention(job: jobs.Job) -> None:
    """The attention of the first probe at the latest snapshot, while training runs."""
    snaps, probes = list(job.snapshots), list(job.probes)
    if not (snaps and probes):
        return
    n = len(probes[0].tokens)
    title = tr("Attention now (step {step})", step=snaps[-1].step)
    fig = trace_plots.attention_heatmap(snaps[-1].attn[0][:n, :n], probes[0].tokens, title=title)
    st.plotly_chart(fig, width="stretch", key=f"live_attn_{job.id}")
    st.caption(
        tr(
            "A validation example (true class {label}): its attention changes as the "
            "model learns. The full replay comes when training ends.",
            label=md(probes[0].label),
        )
    )


def _baseline_metric(result: metrics.TrainedModel, finished: bool) -> tuple[str, str]:
    """The baseline's value and its help: measuring while the job runs, else why it is absent."""
    if result.baseline_accuracy is not None:
        return f"{result.baseline_accuracy:.1%}", result.baseline_name
    if not finished:
        return tr("measuring…"), result.baseline_name
    return tr(
        "not measured"
    ), f"{result.baseline_name}: {result.baseline_note or tr('not asked for')}"


def _result_metrics(result: metrics.TrainedModel, finished: bool) -> None:
    acc, base = result.test_accuracy, result.baseline_accuracy
    cols = st.columns(3)
    delta = None if base is None else tr("{value:+.1%} vs baseline", value=acc - base)
    cols[0].metric(tr("Test accuracy"), f"{acc:.1%}", delta)
    value, about = _baseline_metric(result, finished)
    cols[1].metric(tr("Baseline"), value, help=about)
    if result.stopped_by_user:
        cols[2].metric(
            tr("Stopped"),
            tr("during epoch {history}", history=len(result.history)),
            help=result.run_summary(),
        )
    else:
        cols[2].metric(
            tr("Best epoch"),
            f"{result.best_epoch} of {len(result.history)}",
            help=f"{result.run_summary()}; {result.seconds:.1f} s on {result.device}",
        )
    if result.stopped_by_user:
        st.warning(stopped_note(result), icon=":material/stop_circle:")


def stopped_note(result: jobs.TrainedModel) -> str:
    """What a stopped run's numbers are: its test accuracy (always measured, on the weights it
    kept) and its baseline, measured or why not."""
    name, note = result.baseline_name, result.baseline_note or tr("not asked for")
    if result.baseline_accuracy is not None:
        baseline = tr(
            "the baseline ({name}) is {baseline_accuracy:.1%}",
            name=name,
            baseline_accuracy=result.baseline_accuracy,
        )
    else:
        baseline = tr("the baseline ({name}): {note}", name=name, note=note)
    weights = (
        tr("epoch {best_epoch}'s weights", best_epoch=result.best_epoch)
        if result.best_epoch
        else tr("its weights")
    )
    return tr(
        "This run was {run_summary}: its test accuracy, {test_accuracy:.1%}, is "
        "measured on the test split with {weights}, a model trained for part of "
        "the run; {baseline}. It joins your models but is not picked on the "
        "other pages until you pick it.",
        run_summary=result.run_summary(),
        test_accuracy=result.test_accuracy,
        weights=weights,
        baseline=baseline,
    )


def train_progress(job: jobs.Job) -> None:
    """Curves, the live attention of the first probe, and the result when there is one."""
    result: metrics.TrainedModel | None = job.result
    if result is None:
        eta(job)
    history = result.history if result else list(job.history)
    steps = list(job.steps)
    steps = steps[:: max(1, len(steps) // CURVE_POINTS)]  # a long run: every k-th batch loss
    if history or steps:
        fig = training_plots.training_curves(history, steps, job.steps_per_epoch)
        st.plotly_chart(fig, width="stretch", key=f"curves_{job.id}")
    if result is None:
        _live_attention(job)
    else:
        _result_metrics(result, job.finished)


def _run_summary(trained: metrics.TrainedModel) -> str:
    """One line of what a run changed against overfitting, e.g. "100 examples, dropout h 0.3"."""
    config, model = trained.train_config, trained.model.config.model
    parts = [
        tr("{max_train_examples} examples", max_train_examples=config.max_train_examples)
        if config.max_train_examples
        else "all"
    ]
    parts += [tr("dropout h {dropout_h:g}", dropout_h=model.dropout_h)] if model.dropout_h else []
    parts += (
        [tr("dropout attention {dropout_attn:g}", dropout_attn=model.dropout_attn)]
        if model.dropout_attn
        else []
    )
    parts += [f"L1 {config.l1:g}"] if config.l1 else []
    parts += [f"L2 {config.l2:g}"] if config.l2 else []
    parts += (
        [tr("label smoothing {label_smoothing:g}", label_smoothing=config.label_smoothing)]
        if config.label_smoothing
        else []
    )
    return ", ".join(parts)


def compare_runs(key: str = "compare_runs") -> None:
    """The curves of two runs of this browser side by side: does dropout, a penalty or more data
    close the gap between training and validation accuracy?"""
    runs = browser.workspace().results
    if len(runs) < 2:
        return
    names = list(runs)
    with st.expander(tr("Compare two runs: is it overfitting?"), icon=":material/compare_arrows:"):
        left, right = st.columns(2)
        for column, default, side in ((left, len(names) - 2, "a"), (right, len(names) - 1, "b")):
            with column:
                name = st.selectbox(tr("Run"), names, default, key=f"{key}_{side}")
                run = runs[name]
                st.caption(
                    tr(
                        "{run_summary} · test accuracy {test_accuracy:.1%}",
                        run_summary=_run_summary(run),
                        test_accuracy=run.test_accuracy,
                    )
                )
                gap = run.history[-1].train_accuracy - run.history[-1].val_accuracy
                st.markdown(tr("Train − validation accuracy at the end: **{gap:+.1%}**", gap=gap))
                fig = training_plots.training_curves(run.history)
                st.plotly_chart(fig, width="stretch", key=f"{key}_{side}_curves")
