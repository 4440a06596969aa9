"""Train a model in the browser and watch its attention learn; compare similarities; auto-tune."""

from dataclasses import replace

import streamlit as st

from dense_attention import SIMILARITIES, ui
from dense_attention.server import jobs, metrics, work
from dense_attention.server.jobs import JobKind

TRAIN, SWEEP, TUNE = (
    ui.N_("Train one model"),
    ui.N_("Compare the six similarities"),
    ui.N_("Tune automatically"),
)
MODE = ui.TRAIN_MODE


def train_best(tuned: jobs.Job, epochs: int) -> None:
    """on_click of "Train the best configuration": a full run of the best trial."""
    options, config = tuned.result.best_configs(epochs)
    request = work.TrainRequest(tuned.request.data, options, replace(config, probes=4))
    ui.start_job(JobKind.TRAIN, lambda: jobs.train_job(request))
    st.session_state[MODE] = TRAIN


st.title(ui.tr("Train a model and watch attention learn"))
st.caption(
    ui.tr(
        "Training runs in the background on this server: the page stays usable, and "
        "other visitors never see your models. A finished model joins the model picker "
        "on every page."
    )
)
choice, kind = ui.data_choice()
with st.expander(ui.tr("Model and training settings"), expanded=True):
    options, config = ui.training_settings(choice, kind)
mode = st.segmented_control(
    ui.tr("What to run"),
    [TRAIN, SWEEP, TUNE],
    format_func=lambda v: ui.md(ui.tr(v)),
    default=TRAIN,
    key=MODE,
)

if mode == SWEEP:
    chosen = st.multiselect(
        ui.tr("Similarities"), list(SIMILARITIES), list(SIMILARITIES), key=ui.SWEEP_SIMILARITIES
    )
    request = work.SweepRequest(choice, options, config, tuple(chosen))
    st.caption(
        ui.tr("Each similarity trains from the same seed, on the same split, for the same epochs.")
    )
    ui.job_controls(
        JobKind.SWEEP,
        ui.tr("Train {chosen} models", chosen=len(chosen)),
        lambda: jobs.sweep_job(request),
        ready=bool(chosen),
    )
    ui.job_panel(JobKind.SWEEP, ui.sweep_progress)
elif mode == TUNE:
    left, right = st.columns(2)
    trials = left.slider(ui.tr("Trials"), 3, 100, 20, key=ui.TUNE_TRIALS)
    minutes = right.slider(ui.tr("Time limit (minutes)"), 1, 60, 5, key=ui.TUNE_MINUTES)
    st.caption(
        ui.tr(
            "Optuna searches hidden size, similarity, temperature, activation, pooling, "
            "learning rate, dropout and L1/L2 (the settings above give the data, encoder, "
            "epochs per trial and seed); poor trials are pruned early."
        )
    )
    base = replace(config, probes=0, epochs=min(config.epochs, 15))
    encoder = {k: v for k, v in options.items() if k in ("text", "image")}
    request = work.TuneRequest(choice, encoder, base, trials, timeout=minutes * 60.0)
    ui.job_controls(JobKind.TUNE, ui.tr("Start the search"), lambda: jobs.tune_job(request))
    ui.job_panel(JobKind.TUNE, ui.tune_progress)
    tuned = ui.workspace().jobs.get(JobKind.TUNE)
    if (
        tuned is not None
        and tuned.finished
        and getattr(tuned.result, "best_number", None) is not None
    ):
        st.button(
            ui.tr("Train the best configuration in full"), key=ui.TUNE_BEST,
            type="secondary" if tuned.result.shortfall() else "primary",  # not a better model
            on_click=train_best, args=(tuned, config.epochs), icon=":material/model_training:",
            disabled=ui.running(JobKind.TRAIN) is not None,
        )  # fmt: skip
else:
    request = work.TrainRequest(choice, options, config)
    ui.job_controls(JobKind.TRAIN, ui.tr("Start training"), lambda: jobs.train_job(request))
    ui.time_estimate(request)
    ui.job_panel(JobKind.TRAIN, ui.train_progress)
    job = ui.workspace().jobs.get(JobKind.TRAIN)
    if job is not None and job.finished and isinstance(job.result, metrics.TrainedModel):
        ui.replay(job.result)
        ui.trained_download(job.result, key=ui.TRAIN_ZIP)
    ui.compare_runs()

st.divider()
st.subheader(ui.tr("Explore a checkpoint"), divider="gray")
ui.checkpoint_upload(key=ui.TRAIN_CHECKPOINT_UPLOAD)
