"""The "Does attention matter?" page's rooms: the analysis of one input (cached for shipped
models), the ablation table, the five importance methods, the deletion curves and ERASER's
comprehensiveness and sufficiency (the verdict is ui/verdicts.py's)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import streamlit as st

from ..core.config import ModelConfig
from ..core.i18n import N_, tr
from ..data import images
from ..explain import eraser, faithfulness, verdict
from ..explain.faithfulness import METHODS, Faithfulness
from ..figures import export, faithfulness_plots, image_plots
from .cache import cached, checkpoints, shared_result, similarity_variants
from .charts import chart
from .language import tr_columns
from .sidebar import Settings
from .styles import md

ABLATION_COLUMNS = {
    "p_original_class": st.column_config.NumberColumn(N_("p(original class)"), format="%.3f"),
    "delta_p": st.column_config.NumberColumn(N_("Δp"), format="%+.3f"),
    "delta_p_std": st.column_config.NumberColumn(N_("± (draws)"), format="%.3f"),
    "flip_rate": st.column_config.NumberColumn(N_("flips"), format="percent"),
}


def own_folder(settings: Settings) -> Path | None:
    """The folder of the shipped checkpoint the page runs: the variant trained with the live
    similarity when the picked model has one (see ui.sidebar), else the picked folder; None
    for a model of this browser."""
    info = checkpoints().get(settings.model_name)
    if info is None:
        return None
    return similarity_variants(info).get(settings.trained.similarity, info).path


def training_means(settings: Settings) -> faithfulness.TrainingMeans | None:
    """The stored training means of h_o and c of the shipped checkpoint the page runs (its
    similarity variant's own, never the picked folder's); None for a model of this browser."""
    folder = own_folder(settings)
    return faithfulness.stored_means(folder) if folder is not None else None


def analysis(settings: Settings, item: Any) -> Faithfulness:
    """Ablations, importances, agreement and deletion curves of `item` under the live settings
    (shared by every session for a shipped model)."""
    means = training_means(settings)
    build = functools.partial(
        faithfulness.analyze, settings.model, item, means, settings=settings.overrides
    )
    with st.spinner(tr("Ablating, attributing and deleting…")):
        return shared_result("faithfulness", settings.cache_key, build, item, settings.overrides)


def ablations(result: Faithfulness, means_known: bool, config: ModelConfig | None = None) -> None:
    """Each ablation of a path the model has (`config`, live settings in) with its new
    prediction, p of the original class, Δp and flips, and its CSV."""
    st.subheader(tr("Ablations: replace one step, watch the output"), divider="gray")
    table = verdict.ablation_table(result, config)
    st.dataframe(
        table, hide_index=True, column_config=tr_columns(ABLATION_COLUMNS), key="matters_ablations"
    )
    st.download_button(
        tr("Ablations (CSV)"), data=lambda: export.safe_csv(table), file_name="ablations.csv",
        mime="text/csv", on_click="ignore", icon=":material/table:", key="matters_ablations_csv",
    )  # fmt: skip
    if not means_known:
        skip = config is None or verdict.model_has("skip", config)
        what = tr("h_o and c := training mean need") if skip else tr("c := training mean needs")
        st.caption(tr("{what} the training data: shipped models only.", what=what))


HEAD_ABLATION_COLUMNS = {
    "head": st.column_config.NumberColumn("head", format="%d"),
    "uniform_prediction": st.column_config.TextColumn("uniform: prediction"),
    "uniform_delta_p": st.column_config.NumberColumn("uniform: Δp", format="%+.3f"),
    "uniform_flips": st.column_config.CheckboxColumn("uniform: flips"),
    "identity_prediction": st.column_config.TextColumn("identity: prediction"),
    "identity_delta_p": st.column_config.NumberColumn("identity: Δp", format="%+.3f"),
    "identity_flips": st.column_config.CheckboxColumn("identity: flips"),
}


def head_ablations(result: Faithfulness) -> None:
    """With several heads, one row per head: its attention alone replaced by the uniform one
    and by the identity, the new prediction, Δp and whether it flips; nothing with one head."""
    if not result.heads:
        return
    heads = len(result.heads)
    st.subheader(f"One head at a time: each of the {heads} heads replaced", divider="gray")
    table = verdict.head_ablation_table(result)
    st.dataframe(
        table, hide_index=True, column_config=HEAD_ABLATION_COLUMNS, key="matters_head_ablations"
    )
    st.caption(
        f"Head k's attention alone is replaced, the other {heads - 1} heads keep theirs: uniform "
        "a^k_ij = 1/N, or the identity a^k_ii = 1 (v^k_i = h^k_i, no mixing in that head). Δp is "
        "the change of p(original class). A head whose rows move p matters to this input."
    )


def _importance_csv(result: Faithfulness) -> str:
    import pandas as pd  # only when the CSV is asked for

    frame = pd.DataFrame({m: result.importance[m] for m in METHODS})
    frame.insert(0, "token", [f"{k + 1}:{t}" for k, t in enumerate(result.tokens)])
    return export.safe_csv(frame)


def _overlays(result: Faithfulness, pixels: Any, boxes: list) -> None:
    """An image's five importances, each as a heat map over its patches (|score| scaled)."""
    columns = st.columns(len(METHODS))
    for column, method in zip(columns, METHODS, strict=True):
        scores = abs(result.importance[method])
        title = faithfulness_plots.METHOD_LABELS[method]
        fig = cached(image_plots.patch_overlay, pixels, scores, boxes, title, list(result.tokens))
        column.plotly_chart(fig, width="stretch", key=f"matters_overlay_{method}")


def importance(settings: Settings, item: Any, result: Faithfulness) -> None:
    """The five methods side by side (token bars, or overlays on an image) and their τ."""
    st.subheader(tr("Which tokens mattered? Five methods"), divider="gray")
    if settings.model.config.kind == "image":
        pixels = images.resized_input(settings.model, item)
        _overlays(result, pixels, settings.model.encoder.patch_boxes())
    else:
        fig = faithfulness_plots.importance_bars(result)
        chart(fig, "importance", functools.partial(_importance_csv, result), key="importance")
    st.caption(
        tr(
            "Integrated Gradients from {IG_BASELINE}, 32 steps (convergence delta "
            "{ig_delta:+.1e}). Leave one out: how much p drops when the token is "
            "masked.",
            IG_BASELINE=faithfulness.IG_BASELINE,
            ig_delta=result.ig_delta,
        )
    )
    chart(faithfulness_plots.tau_heatmap(result), "kendall_tau", key="kendall_tau")


def deletion(result: Faithfulness) -> None:
    """The deletion curves and their AOPC: which method's order removes p fastest?"""
    st.subheader(tr("Deletion curves"), divider="gray")
    chart(faithfulness_plots.deletion_chart(result), "deletion_curves", key="deletion")
    best = max(METHODS, key=lambda m: result.deletion[m].aopc)
    random = result.deletion[faithfulness.RANDOM].aopc
    st.caption(
        tr(
            "Most faithful order here: {METHOD_LABELS} (AOPC {aopc:.2f} vs "
            "{random:.2f} for random orders).",
            METHOD_LABELS=faithfulness_plots.METHOD_LABELS[best],
            aopc=result.deletion[best].aopc,
            random=random,
        )
    )


ERASER_COLUMNS = {
    "k_percent": st.column_config.NumberColumn(N_("top k%"), format="%d%%"),
    "tokens": st.column_config.NumberColumn(N_("tokens")),
    "comprehensiveness": st.column_config.NumberColumn(N_("comprehensiveness"), format="%+.3f"),
    "sufficiency": st.column_config.NumberColumn(N_("sufficiency"), format="%+.3f"),
}


def eraser_scores(result: Faithfulness) -> None:
    """ERASER's comprehensiveness and sufficiency per method and k, as a chart and a table."""
    st.subheader(tr("ERASER: comprehensiveness and sufficiency"), divider="gray")
    if result.eraser is None:
        st.info(md(eraser.TOO_SHORT))
        return
    table = result.eraser.table()
    table["method"] = table["method"].map(faithfulness_plots.METHOD_LABELS)
    chart(faithfulness_plots.eraser_chart(result.eraser), "eraser",
          lambda: export.safe_csv(table), key="eraser")  # fmt: skip
    st.caption(
        tr(
            "DeYoung et al. 2020. Comprehensiveness = p − p(without the method's top "
            "k% tokens): high when those tokens were needed. Sufficiency = p − "
            "p(with only them): low when they suffice alone. AOPC = the mean over k. "
            "{note}",
            note=md(result.eraser.note()),
        )
    )
    with st.expander(tr("ERASER table")):
        st.dataframe(
            table, hide_index=True, column_config=tr_columns(ERASER_COLUMNS), key="eraser_table"
        )
