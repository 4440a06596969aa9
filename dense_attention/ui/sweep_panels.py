"""The live panels of the two search jobs: the similarity sweep and the Optuna tuning."""

from __future__ import annotations

import streamlit as st

from ..core.i18n import N_, tr
from ..figures import export, heatmaps, trace_plots, training_plots
from ..server import jobs
from ..training.tune import TuneResult, trials_table
from .cache import cached
from .charts import chart
from .language import tr_columns
from .styles import md

SWEEP_COLUMNS = {
    "test_accuracy": st.column_config.NumberColumn(N_("test accuracy"), format="percent"),
    "val_accuracy": st.column_config.NumberColumn(N_("val accuracy"), format="percent"),
    "train_seconds": st.column_config.NumberColumn(N_("train s"), format="%.1f"),
    "attention_entropy": st.column_config.NumberColumn(N_("entropy (nats)"), format="%.2f"),
    "test_loss": st.column_config.NumberColumn(N_("test loss"), format="%.3f"),
}
FIRST_COLUMNS = ("similarity", "val_accuracy", "test_accuracy")  # what picks, then what measures


def _sweep_probe_grid(job: jobs.Job) -> None:
    """The same test example's attention under each trained model, three to a row."""
    result = job.result
    st.markdown(
        tr(
            "**The same test example** (#{probe_index}, true class {probe_label}) "
            "under each trained model, its prediction ✓ right or ✗ wrong:",
            probe_index=result.probe_index,
            probe_label=md(result.probe_label),
        )
    )
    columns = st.columns(3)
    for k, run in enumerate(result.runs):
        predicted, right = result.probe_prediction(run)
        fig = cached(  # the page reruns on every setting change: build these once
            trace_plots.small_attention_heatmap,
            run.probe_attn,
            list(result.probe_tokens),
            f"{run.similarity} → {heatmaps.escape_label(predicted)} {'✓' if right else '✗'}",
        )
        columns[k % 3].plotly_chart(fig, width="stretch", key=f"sweep_attn_{job.id}_{k}")


def sweep_progress(job: jobs.Job) -> None:
    """The run in progress (its curves), then the sweep's table, chart and attention grid."""
    result = job.result
    if result is None:
        if job.history:
            fig = training_plots.training_curves(list(job.history))
            st.plotly_chart(fig, width="stretch", key=f"sweep_curves_{job.id}")
        return
    if not result.runs:
        st.warning(tr("The sweep stopped before any run finished."), icon=":material/stop:")
        return
    table = result.table()
    best = result.best()
    st.success(
        tr(
            "Best on {dataset}, by validation accuracy: **{similarity}** with "
            "{val_accuracy:.1%} validation accuracy; its test accuracy is "
            "{test_accuracy:.1%} (same seed, split and budget for all).",
            dataset=md(result.dataset),
            similarity=best.similarity,
            val_accuracy=best.val_accuracy,
            test_accuracy=best.test_accuracy,
        ),
        icon=":material/emoji_events:",
    )
    st.dataframe(
        table, hide_index=True, key=f"sweep_table_{job.id}",
        column_config=tr_columns(SWEEP_COLUMNS),
        column_order=[*FIRST_COLUMNS, *(c for c in table.columns if c not in FIRST_COLUMNS)],
    )  # fmt: skip
    st.caption(
        tr(
            "The best is picked on the validation split; the test split only "
            "measures it (picking by test accuracy would make that number "
            "optimistic).",
        )
    )
    st.caption(
        tr(
            "Attention entropy: 0 = each token attends to one other; "
            "{uniform_entropy:.2f} (log n) = uniform.",
            uniform_entropy=result.uniform_entropy,
        )
    )
    csv = lambda: export.safe_csv(table)  # noqa: E731 - made only when clicked
    chart(training_plots.sweep_chart(table), "sweep", csv, key=f"sweep_{job.id}")
    _sweep_probe_grid(job)


def _beaten(result: TuneResult) -> str:
    """What the best trial beat, on the same validation split ("" when nothing was measured)."""
    beaten = [f"{name} {value:.1%}" for name, value in result.references()]
    return tr(" It beats {join} (validation).", join=", ".join(beaten)) if beaten else ""


def tune_progress(job: jobs.Job) -> None:
    """The trials so far as a table and a plot; the best trial when the search ended."""
    trials = list(job.trials)
    if trials:
        table = trials_table(trials)
        st.plotly_chart(
            training_plots.tune_history(table), width="stretch", key=f"tune_plot_{job.id}"
        )
        value = st.column_config.NumberColumn(tr("val accuracy"), format="percent")
        st.dataframe(
            table, hide_index=True, key=f"tune_table_{job.id}", column_config={"value": value}
        )
    result = job.result
    if result is not None and result.best_number is None:
        st.warning(tr("No trial completed: raise the number of trials."), icon=":material/warning:")
    elif result is not None:
        params = ", ".join(
            f"{k} = {v:.3g}" if isinstance(v, float) else f"{k} = {v}"
            for k, v in result.best_params.items()
        )
        best = tr(
            "Best: trial {best_number}, validation accuracy {best_value:.1%}.",
            best_number=result.best_number,
            best_value=result.best_value,
        )
        if result.shortfall():  # not a better model: said first, and no trophy
            st.warning(md(result.shortfall()), icon=":material/warning:")
            st.info(f"{best} {md(params)}", icon=":material/info:")
        else:
            st.success(f"{best} {md(params)}{_beaten(result)}", icon=":material/emoji_events:")
