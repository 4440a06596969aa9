"""Why is my attention diagonal? For one query row: its own score against the row's next best,
why this similarity puts a token's own score first, and which setting changes that."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from ..core.i18n import N_, tr
from ..core.trace import Trace
from .verdict import DIAGONAL, Effect, mean_diagonal

__all__ = ["SELF_REASONS", "DiagonalNote", "why_diagonal"]

# Why s(h_i, h_i) comes first, per similarity ({tau} and {top} are filled in: top = 1/τ).
SELF_REASONS = {
    "cosine": N_(
        "cos(h_i, h_i) = 1 is the largest value cosine similarity can "
        "take, so at τ = {tau:g} every token scores itself 1/τ = "
        "{top:.1f} and no other token can score higher."
    ),
    "neg_euclidean": N_(
        "−‖h_i − h_i‖² = 0 is the largest value this similarity can "
        "take: no token scores higher against token i than token i "
        "itself."
    ),
    "dot": N_(
        "h_i·h_i = ‖h_i‖² is at least h_i·h_j for every h_j no longer "
        "than h_i (Cauchy–Schwarz): without separate query and key "
        "projections a token tends to score itself highest."
    ),
    "scaled_dot": N_(
        "h_i·h_i/√d = ‖h_i‖²/√d is at least h_i·h_j/√d for every h_j no "
        "longer than h_i (Cauchy–Schwarz): without separate query and "
        "key projections a token tends to score itself highest."
    ),
    "additive": N_(
        "Additive similarity has its own weights W_q, W_k and w: nothing "
        "in its form makes a token's own score the largest; here its "
        "weights do."
    ),
    "bilinear": N_(
        "Bilinear similarity h_iᵀ W_s h_j has its own weight W_s: "
        "nothing in its form makes h_iᵀ W_s h_i the largest; here its "
        "weights do."
    ),
}
PROJECTED = ("additive", "bilinear")  # similarities with their own query/key weights


@dataclass(frozen=True)
class DiagonalNote:
    """The numbers and the words of "why is my attention diagonal?" for query row `row`."""

    diagonal: float  # mean a_ii over the real query rows
    row: int  # the query token i (0-based)
    self_score: float  # s_ii = s(h_i, h_i) / τ
    other: int  # the key j ≠ i with the row's largest score
    other_score: float  # s_ij of that key
    self_weight: float  # a_ii
    lines: tuple[str, ...]  # plain sentences (not escaped: tokens are user text)


def _row_line(note: DiagonalNote, tokens: Sequence[str]) -> str:
    i, j = note.row, note.other
    fields = {
        "row": i + 1, "token": tokens[i], "own": note.self_score, "other": note.other_score,
        "j": j + 1, "other_token": tokens[j], "weight": note.self_weight,
    }  # fmt: skip
    if note.self_score >= note.other_score:
        return tr(
            "Row {row} ('{token}'): its own score s_ii = {own:.2f}, the row's next best "
            "{other:.2f} (j = {j}, '{other_token}'); so a_ii = {weight:.2f}.",
            **fields,
        )
    return tr(
        "Row {row} ('{token}'): its own score s_ii = {own:.2f}, but this row's largest is "
        "{other:.2f} (j = {j}, '{other_token}'); a_ii = {weight:.2f}.",
        **fields,
    )


def _identity_line(mixing: Effect) -> str:
    what = {
        "barely": N_("what the matrix adds beyond the diagonal does not decide."),
        "a little": N_("what the matrix adds beyond the diagonal moves p a little."),
        "decides": N_("what the matrix adds beyond the diagonal still decides."),
    }[mixing.level]
    return tr("Replacing the attention by the identity (v_i = h_i) {moves}: {what}",
              moves=mixing.moves(), what=tr(what))  # fmt: skip


def _options_line(similarity: str, temperature: float, gap: float) -> str:
    hotter = 2 * temperature
    tau = tr("A higher temperature τ divides every score: at τ = {hotter:g} the gap between "
             "s_ii and s_ij, {gap:.2f} now, halves to {half:.2f}.", hotter=hotter, gap=gap,
             half=gap / 2)  # fmt: skip
    if similarity in PROJECTED:
        return tau
    return tr("{tau} A similarity with separate query and key weights, bilinear (h_iᵀ W_s h_j) "
              "or additive, need not score a token highest against itself (a model trained with "
              "it).", tau=tau)  # fmt: skip


def why_diagonal(
    trace: Trace, tokens: Sequence[str], row: int, mixing: Effect | None = None
) -> DiagonalNote | None:
    """Why example 0 of a cropped trace keeps attention on the diagonal, for query row `row`;
    None unless the diagonal holds most of the attention (mean a_ii > DIAGONAL) and N ≥ 2.
    `mixing` (the verdict's identity ablation) says what the off-diagonal part does."""
    scores, attn = trace.scores[0].float(), trace.attn[0].float()  # (N, N)
    n = scores.shape[-1]
    diagonal = mean_diagonal(trace)
    if n < 2 or diagonal <= DIAGONAL or not 0 <= row < n:
        return None
    others = scores[row].clone()
    others[row] = -torch.inf
    j = int(others.argmax())
    note = DiagonalNote(
        diagonal, row, float(scores[row, row]), j, float(scores[row, j]),
        float(attn[row, row]), (),
    )  # fmt: skip
    tau = float(trace.temperature)
    reason = tr(SELF_REASONS[trace.similarity], tau=tau, top=1 / tau) if (
        trace.similarity in SELF_REASONS) else ""  # fmt: skip
    lines = [
        tr(
            "{share:.0%} of the attention sits on the diagonal: each token mostly looks at itself.",
            share=diagonal,
        ),  # fmt: skip
        reason,
        _row_line(note, tokens),
    ]
    if mixing is not None:
        lines.append(_identity_line(mixing))
    gap = note.self_score - note.other_score
    lines.append(_options_line(trace.similarity, tau, abs(gap)))
    return replace(note, lines=tuple(line for line in lines if line))
