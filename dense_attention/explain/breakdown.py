"""Why token i attends to token j: the score s_ij / τ split into parts that sum to it, one per
dimension of h (one per hidden unit of additive attention), and the diagonal cell beside it; with
several heads, head k's score s^k_ij / τ over head k's slice of them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.model import DenseAttention
from ..core.similarity import SimilarityParams
from ..core.trace import Trace
from .formulas import heaviest_head

__all__ = [
    "ScoreBreakdown",
    "breakdown",
    "cell_breakdown",
    "diagonal_sentence",
    "head_slice",
    "part_label",
    "position_carries",
    "score_parts",
]

# A dimension of h "carries" position when at least this share of its input W_d·x comes from
# the position channels of x (for both tokens of the pair, averaged); pixels below 1 - this.
POSITION_SHARE = 0.6


def head_slice(width: int, heads: int, head: int) -> slice:
    """Head `head`'s (0-based) equal slice of `width` units (all of them with one head)."""
    if not 0 <= head < heads:
        raise ValueError(f"head {head} of {heads}: choose 0 to {heads - 1}")
    step = width // heads
    return slice(head * step, (head + 1) * step)


@torch.no_grad()
def score_parts(
    h_i: torch.Tensor,
    h_j: torch.Tensor,
    similarity: str,
    params: SimilarityParams,
    temperature: float,
    heads: int = 1,
    head: int = 0,
) -> torch.Tensor:
    """The terms of s(h_i, h_j) / τ, (d,) (additive: (a,), one per hidden unit), in float64;
    they sum to the score. h_i, h_j: (d,). The additive and bilinear weights have no bias, so
    no term stands apart from the sum. With `heads` > 1, head `head`'s score over its slice
    (d/H,) of h (scaled_dot: ÷ sqrt(d/H)), of h_i W_s (bilinear) or of the hidden units
    (additive), as core.similarity.head_scores computes it."""
    q, k = h_i.double(), h_j.double()
    if heads == 1:
        return _parts(q, k, similarity, params, temperature)
    cut = head_slice(q.shape[-1], heads, head)
    if similarity == "bilinear":  # (h_i W_s)^k_d · h^k_j,d
        return (q @ params.bilinear.double())[cut] * k[cut] / temperature
    if similarity == "additive":  # w^k_u · tanh(W_q^k h_i + W_k^k h_j)_u
        hidden = params.additive_query.double() @ q + params.additive_key.double() @ k
        parts = params.additive_vector.double()[cut] * torch.tanh(hidden[cut])
        return parts / temperature
    return _parts(q[cut], k[cut], similarity, params, temperature)


def _parts(
    q: torch.Tensor, k: torch.Tensor, similarity: str, params: SimilarityParams, temperature: float
) -> torch.Tensor:
    if similarity == "dot":
        parts = q * k
    elif similarity == "scaled_dot":
        parts = q * k / math.sqrt(q.shape[-1])
    elif similarity == "cosine":  # the model's own normalisation (eps 1e-8)
        parts = F.normalize(q, dim=-1, eps=1e-8) * F.normalize(k, dim=-1, eps=1e-8)
    elif similarity == "neg_euclidean":
        parts = -(q - k).square()
    elif similarity == "bilinear":  # h_i,d · (W_s h_j)_d
        parts = q * (params.bilinear.double() @ k)
    elif similarity == "additive":  # w_k · tanh(W_q h_i + W_k h_j)_k
        hidden = params.additive_query.double() @ q + params.additive_key.double() @ k
        parts = params.additive_vector.double() * torch.tanh(hidden)
    else:
        raise ValueError(f"unknown similarity {similarity!r}")
    return parts / temperature


def part_label(similarity: str) -> str:
    """What one part is: a dimension d of h, or a hidden unit k of the additive layer."""
    return "hidden unit" if similarity == "additive" else "dimension"


@dataclass(frozen=True)
class ScoreBreakdown:
    """Cell (i, j)'s score s_ij = s(h_i, h_j) / τ as the sum of `parts` (0-based i, j); with
    several heads, head `head`'s score s^k_ij / τ over its slice of the units."""

    i: int
    j: int
    similarity: str
    temperature: float
    parts: torch.Tensor  # (K,) float64, each already divided by τ; sum = s_ij (head's: s^k_ij)
    carries: tuple[str, ...] = ()  # per part, what it carries ("" where nothing); () if unknown
    head: int = 0  # 0-based head whose score this is (0 with one head)
    heads: int = 1  # H, the model's number of heads

    @property
    def offset(self) -> int:
        """The index in h (or in the additive hidden units) of part 0: head k's slice starts
        at k · d/H."""
        return self.head * len(self.parts)

    @property
    def score(self) -> float:
        return float(self.parts.sum())

    @property
    def symbol(self) -> str:
        """The score's name in plain text: "s", or "s^k" for head k (1-based) of several."""
        return "s" if self.heads == 1 else f"s^{self.head + 1}"

    @property
    def unit(self) -> str:
        return part_label(self.similarity)

    def order(self) -> list[int]:
        """The parts' indices, largest contribution first (most positive to most negative)."""
        return torch.argsort(self.parts, descending=True, stable=True).tolist()

    def top(self, k: int = 3) -> list[int]:
        """The k parts of largest size |part|, largest first."""
        return torch.argsort(self.parts.abs(), descending=True, stable=True)[:k].tolist()

    def name(self, k: int) -> str:
        """Part k named by index (1-based, as on the chart) and, where known, what it carries."""
        what = self.carries[k] if self.carries else ""
        return f"{self.unit} {self.offset + k + 1}" + (f" ({what})" if what else "")


def position_carries(
    x: torch.Tensor, weight: torch.Tensor, patch_dim: int, i: int, j: int
) -> tuple[str, ...]:
    """What each dimension d of h carries for the pair (i, j) of image patches whose x_i is
    [patch_dim pixel values; position]: the share of |W_d,pos x_pos| in |W_d,pix x_pix| +
    |W_d,pos x_pos|, averaged over tokens i and j. x: (N, D); weight: the dense layer's (d, D)."""
    w = weight.double()
    rows = x[[i, j]].double()  # (2, D)
    pixels = (rows[:, :patch_dim] @ w[:, :patch_dim].T).abs()  # (2, d)
    position = (rows[:, patch_dim:] @ w[:, patch_dim:].T).abs()
    share = (position / (pixels + position).clamp_min(1e-12)).mean(dim=0)  # (d,)
    return tuple(
        "position" if s >= POSITION_SHARE else "pixels" if s <= 1 - POSITION_SHARE else ""
        for s in share.tolist()
    )


def breakdown(
    trace: Trace,
    params: SimilarityParams,
    i: int,
    j: int,
    carries: Sequence[str] = (),
    head: int | None = None,
) -> ScoreBreakdown:
    """Cell (i, j) of example 0 of `trace`, under its own similarity and τ; with several heads,
    head `head`'s score (None: the head with the largest a^k_ij, formulas.heaviest_head).
    `carries`: one entry per dimension of h."""
    h, heads = trace.h[0], trace.heads
    head = (heaviest_head(trace, i, j) if head is None else head) if heads > 1 else 0
    parts = score_parts(h[i], h[j], trace.similarity, params, trace.temperature, heads, head)
    if carries and heads > 1:
        carries = tuple(carries)[head_slice(len(carries), heads, head)]
    return ScoreBreakdown(
        i, j, trace.similarity, float(trace.temperature), parts, tuple(carries), head, heads
    )


def cell_breakdown(
    model: DenseAttention,
    trace: Trace,
    i: int,
    j: int,
    patch_dim: int | None = None,
    head: int | None = None,
) -> ScoreBreakdown:
    """`breakdown` with the model's similarity weights; with `patch_dim` (image patches whose x
    ends with position channels) and no sequence encoder, each dimension says what it carries."""
    carries: tuple[str, ...] = ()
    position = patch_dim is not None and trace.x.shape[-1] > patch_dim
    if position and model.sequence_encoder is None and trace.similarity != "additive":
        carries = position_carries(trace.x[0], model.dense.weight, patch_dim, i, j)
    return breakdown(trace, model.similarity_params, i, j, carries, head)


def _gap_names(gap: torch.Tensor, chosen: ScoreBreakdown, k: int = 2) -> str:
    """The k parts that add most to the gap's sign, named with their share of it."""
    sign = 1.0 if float(gap.sum()) >= 0 else -1.0
    top = torch.argsort(sign * gap, descending=True, stable=True)[:k].tolist()
    names = [f"{chosen.name(d)} ({float(gap[d]):+.2f})" for d in top]
    return " and ".join(names)


def diagonal_sentence(
    chosen: ScoreBreakdown,
    diagonal: ScoreBreakdown,
    tokens: Sequence[str],
    exclude_self: bool = False,
) -> str:
    """One sentence comparing cell (i, j) with the diagonal cell (i, i), with numbers: which
    parts make token i's own score larger (or smaller) than the chosen key's. Under
    `exclude_self` a_ii is left out of the softmax, and the sentence says so instead of
    claiming that the row leans to (or away from) the diagonal."""
    i, j, s = chosen.i, chosen.j, chosen.symbol
    left_out = " (the model leaves a_ii out of the softmax, so it gets no weight)"
    if i == j:
        return (
            f"This is the diagonal cell: token {i + 1} ('{tokens[i]}') scored against itself, "
            f"{s}_ii = {chosen.score:.2f}{left_out if exclude_self else ''}."
        )
    gap = diagonal.parts - chosen.parts
    diff = float(gap.sum())
    own = f"Against itself, '{tokens[i]}' scores {s}_ii = {diagonal.score:.2f}"
    if exclude_self:
        more = f"{diff:.2f} more" if diff >= 0 else f"{-diff:.2f} less"
        return (
            f"{own}, {more} than {s}_ij = {chosen.score:.2f} for '{tokens[j]}', mostly from "
            f"{_gap_names(gap, chosen)}; but the model leaves a_ii out of the softmax, so the "
            "diagonal gets no weight however it scores."
        )
    if diff >= 0:
        return (
            f"{own}, {diff:.2f} more than {s}_ij = {chosen.score:.2f} for '{tokens[j]}': "
            f"{_gap_names(gap, chosen)} give most of the gap, which is why its row leans to "
            "the diagonal."
        )
    return (
        f"{own}, {-diff:.2f} less than {s}_ij = {chosen.score:.2f} for '{tokens[j]}': "
        f"{_gap_names(gap, chosen)} give most of the difference, so this key beats the diagonal."
    )
