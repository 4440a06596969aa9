"""The one-screen overview's numbers: every step of one input's trace as small charts that share
one row per token (drawn and linked in the browser by ui/assets/linked.js), and what following
one token through them says."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.config import ModelConfig
from ..core.i18n import tr
from ..core.trace import Trace
from ..explain import words
from .trace_plots import robust_range

__all__ = ["PANELS", "follow_sentences", "overview_payload", "token_shares"]

# (key, kind) in page order. kind: "rows" a token x feature matrix, "matrix" token x token,
# "bars" one value per token, "strip" one d-vector, "classes" one bar per class.
PANELS = (
    ("x", "rows"), ("h", "rows"), ("scores", "matrix"), ("attn", "matrix"),
    ("values", "rows"), ("alpha", "bars"), ("share", "rows"), ("c", "strip"),
    ("probs", "classes"),
)  # fmt: skip


def _f32(values: np.ndarray) -> str:
    """An array as base64 of its little-endian float32 bytes, row-major (as the live view)."""
    array = np.ascontiguousarray(np.asarray(values, dtype="<f4"))
    return base64.b64encode(array.tobytes()).decode("ascii")


def token_shares(alpha: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(α_i v_i (N, d): each token's term of the pooled sum Σ α_i v_i, and each token's share
    of that sum's absolute mass Σ_k |α_i v_ik| (N,), summing to 1)."""
    terms = alpha[:, None] * values
    mass = np.abs(terms).sum(axis=1)
    return terms, mass / max(float(mass.sum()), 1e-30)


def follow_sentences(trace: Trace, tokens: Sequence[str]) -> list[str]:
    """One line per token i, from the trace's numbers (batch of one, real tokens): what it keeps
    for itself, where it looks most, its α and its share of c."""
    one = trace.example(0).numpy()
    attn, alpha = one["attn"][0].astype(np.float64), one["alpha"][0].astype(np.float64)
    _, share = token_shares(alpha, one["values"][0].astype(np.float64))
    lines = []
    for i, token in enumerate(tokens):
        row = attn[i].copy()
        keeps = row[i]
        row[i] = -1.0
        j = int(row.argmax())
        parts = [tr("keeps a = {keeps:.2f} for itself", keeps=keeps)]
        if len(tokens) > 1:
            parts.append(
                tr(
                    "looks most at {value} “{tokens}” (a = {attn:.2f})",
                    value=j + 1,
                    tokens=tokens[j],
                    attn=attn[i, j],
                )
            )
        parts += [f"α = {alpha[i]:.3f}", tr("{share:.0%} of c's sum Σ α v", share=share[i])]
        lines.append(f"{i + 1} “{token}”: " + "; ".join(parts))
    return lines


def _panel(key: str, kind: str, z: np.ndarray, title: str, **extra: Any) -> dict[str, Any]:
    rows, cols = z.shape if z.ndim == 2 else (1, z.shape[0])
    return dict(key=key, kind=kind, title=title, rows=rows, cols=cols, z=_f32(z), **extra)


def overview_payload(
    trace: Trace,
    tokens: Sequence[str],
    classes: Sequence[str],
    config: ModelConfig,
    hover: Sequence[str] | None = None,
) -> dict[str, Any]:
    """What linked.js draws for one input (batch of one, cropped to its real tokens): per panel
    its numbers (base64 float32, row-major), shape, title (words.overview_titles) and colour
    range; the tokens, their hover names, one follow sentence each, and the classes."""
    one = trace.example(0).numpy()
    n = one["attn"].shape[1]
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} tokens for a trace of {n}")
    values, alpha = one["values"][0], one["alpha"][0]
    terms, _ = token_shares(alpha.astype(np.float64), values.astype(np.float64))
    z = {
        "x": one["x"][0], "h": one["h"][0], "scores": one["scores"][0], "attn": one["attn"][0],
        "values": values, "alpha": alpha, "share": terms, "c": one["c"][0],
        "probs": one["probs"][0],
    }  # fmt: skip
    titles = words.overview_titles(config)
    panels = []
    for key, kind in PANELS:
        if kind in ("rows", "strip") or key == "scores":
            scale = dict(diverging=True, range=robust_range(z[key]) or 1.0)
        else:  # weights and probabilities: 0 to 1 (α to its largest)
            top = float(z[key].max(initial=0.0)) if key == "alpha" else 1.0
            scale = dict(diverging=False, range=top or 1.0)
        panels.append(_panel(key, kind, np.asarray(z[key]), titles[key], **scale))
    return dict(
        tokens=[str(t) for t in tokens],
        hover=[str(t) for t in (hover if hover is not None else tokens)],
        classes=[str(c) for c in classes],
        follow=follow_sentences(trace, [str(t) for t in tokens]),
        panels=panels,
    )
