"""The attention replay of a finished run: how a few validation examples' attention, α and
prediction changed over the training snapshots."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from ..core.i18n import tr
from ..figures import image_plots, trace_plots, training_plots
from ..inputs.pictures import patch_boxes
from ..server import metrics
from .cache import cached
from .styles import md


def _frame_name(snap: Any) -> str:
    return tr("step {step} · epoch {epoch:.1f}", step=snap.step, epoch=snap.epoch)


def _alpha_figure(trained: metrics.TrainedModel, k: int, alpha: Any) -> go.Figure:
    """α of probe k: an overlay on its picture, or a bar per token."""
    probe = trained.probes[k]
    if probe.image is None:
        return trace_plots.alpha_bar(alpha, probe.tokens)
    height, width = probe.image.shape[:2]
    boxes = patch_boxes(height, width, trained.model.config.image.patch)
    title = tr("Pooling weights α on the picture")
    return image_plots.patch_overlay(probe.image, alpha, boxes, title, probe.tokens, name="α")


def _at_step(trained: metrics.TrainedModel, k: int, names: list[str], key: str) -> None:
    """A step slider, and α, the attention matrix and the prediction of probe k at that step."""
    snaps, probe = trained.snapshots, trained.probes[k]
    n = len(probe.tokens)
    t = st.select_slider(
        tr("Training step"),
        range(len(snaps)),
        len(snaps) - 1,
        format_func=lambda f: names[f],
        key=f"{key}_step",
    )
    alpha, probs = snaps[t].alpha[k][:n], snaps[t].probs[k]
    predicted = trained.classes[int(probs.argmax())]
    mark = "✓" if predicted == probe.label else "✗"
    st.markdown(
        tr(
            "At {names}: predicts **{predicted}** ({max:.1%}) {mark}",
            names=names[t],
            predicted=md(predicted),
            max=float(probs.max()),
            mark=mark,
        )
    )
    st.plotly_chart(_alpha_figure(trained, k, alpha), width="stretch", key=f"{key}_alpha")
    title = tr("Attention a<sub>ij</sub> at {names}", names=names[t])
    fig = trace_plots.attention_heatmap(snaps[t].attn[k][:n, :n], probe.tokens, title=title)
    st.plotly_chart(fig, width="stretch", key=f"{key}_matrix")
    fig = trace_plots.probs_bar(probs, trained.classes)
    st.plotly_chart(fig, width="stretch", key=f"{key}_probs")


def replay(trained: metrics.TrainedModel, key: str = "replay") -> None:
    """Attention replay over the training snapshots: an animation of the attention matrix (play
    button and slider in the browser), and α and the prediction at a chosen step."""
    snaps, probes = trained.snapshots, trained.probes
    if not snaps or not probes:
        st.info(tr("This run kept no snapshots to replay."), icon=":material/history:")
        return
    st.subheader(tr("Attention replay"), divider="gray")
    k = st.radio(
        tr("Example"),
        range(len(probes)),
        horizontal=True,
        key=f"{key}_probe",
        format_func=lambda p: tr(
            "{value} · true class {label}", value=p + 1, label=md(probes[p].label)
        ),
    )
    n = len(probes[k].tokens)
    frames = [s.attn[k][:n, :n] for s in snaps]
    names = [_frame_name(s) for s in snaps]
    left, right = st.columns(2)
    with left:
        fig = cached(training_plots.attention_replay, frames, names, probes[k].tokens)
        st.plotly_chart(fig, width="stretch", key=f"{key}_animation")
        st.caption(tr("Press ▶ Play: attention goes from nearly uniform (step 0) to focused."))
    with right:
        _at_step(trained, k, names, key)
