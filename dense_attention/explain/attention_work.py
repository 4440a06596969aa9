"""Does token-to-token attention do the work? Four figures over a sample, and the criterion.

Over a seeded random stratified sample of a split (never its first N: a split may be sorted by
label), batched: the uniform ablation (a_ij = 1/n over the n real keys) and the identity ablation
(a_ij = [i = j], so v_i = h_i: "no attention"), each as a flip rate and a mean |delta p| of the
predicted class; the mean attention a token keeps for itself (mean over real rows of a_ii); the
mean row entropy / ln n. Examples with fewer than 2 real tokens have no token-to-token attention
and are left out of all four.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ..core.model import DenseAttention
from ..core.trace import attention_entropy, head_distance, to_numpy
from ..data.dataset import Split
from ..inputs.classifier import Classifier
from ..inputs.splits import TensorSplit
from .faithfulness import identity_attention, sample_split, uniform_attention

HEADS_KEY = "heads"  # the block of metrics.json on a model's several heads (heads_block)
SAMPLE_SIZE = 1000  # examples in the default sample (the whole split when it is smaller)
METRICS_KEY = "attention_work"  # the block of a checkpoint's metrics.json that holds the figures
# The criterion: attention does the work when, over the sample, both ablations move the
# prediction (flip rate >= MIN_FLIP_RATE or mean |delta p| >= MIN_ABS_DELTA), a token keeps at
# most MAX_DIAGONAL of its attention for itself, and rows are peaked (entropy <= MAX_ENTROPY_RATIO
# of ln n, 1 = uniform).
MIN_FLIP_RATE = 0.10
MIN_ABS_DELTA = 0.15
MAX_DIAGONAL = 0.5
MAX_ENTROPY_RATIO = 0.8


@dataclass(frozen=True)
class AttentionWork:
    """The four figures over E examples (those of the sample with at least 2 real tokens)."""

    examples: int  # E
    uniform_flip_rate: float  # share of predictions that change under a_ij = 1/n
    uniform_abs_delta: float  # mean |p_new - p_0| of the predicted class under a_ij = 1/n
    identity_flip_rate: float  # the same under v_i = h_i
    identity_abs_delta: float
    mean_diagonal: float  # mean over examples of the mean over real rows of a_ii
    entropy_ratio: float  # mean over examples of the mean row entropy / ln n
    sampled: int = 0  # examples drawn (E leaves out those with fewer than 2 real tokens)
    split: str = "test"  # which split the sample came from
    seed: int = 0  # the sample's seed

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttentionWork:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class Verdict:
    """Whether attention does the work, and each failed part in words (empty when it does)."""

    does_work: bool
    failures: tuple[str, ...]


def moves(flip_rate: float, abs_delta: float) -> bool:
    """An ablation moves the prediction: flips >= MIN_FLIP_RATE or mean |dp| >= MIN_ABS_DELTA."""
    return flip_rate >= MIN_FLIP_RATE or abs_delta >= MIN_ABS_DELTA


def criterion(work: AttentionWork) -> Verdict:
    """The criterion of this module's docstring applied to the four figures."""
    failures = []
    if not moves(work.uniform_flip_rate, work.uniform_abs_delta):
        failures.append(f"uniform attention flips {work.uniform_flip_rate:.1%} and moves p by "
                        f"{work.uniform_abs_delta:.3f} (needs {MIN_FLIP_RATE:.0%} or "
                        f"{MIN_ABS_DELTA})")  # fmt: skip
    if not moves(work.identity_flip_rate, work.identity_abs_delta):
        failures.append(f"the identity (v_i = h_i) flips {work.identity_flip_rate:.1%} and moves "
                        f"p by {work.identity_abs_delta:.3f} (needs {MIN_FLIP_RATE:.0%} or "
                        f"{MIN_ABS_DELTA})")  # fmt: skip
    if work.mean_diagonal > MAX_DIAGONAL:
        failures.append(f"mean diagonal attention {work.mean_diagonal:.2f} > {MAX_DIAGONAL}")
    if work.entropy_ratio > MAX_ENTROPY_RATIO:
        failures.append(f"row entropy {work.entropy_ratio:.2f} log N > {MAX_ENTROPY_RATIO} log N")
    return Verdict(not failures, tuple(failures))


def metrics_block(work: AttentionWork) -> dict[str, Any]:
    """What metrics.json keeps under METRICS_KEY: the figures, the criterion and its failures."""
    verdict = criterion(work)
    failures = list(verdict.failures)
    return {**work.to_dict(), "criterion_met": verdict.does_work, "failures": failures}


@dataclass(frozen=True)
class ExampleFigures:
    """Per example of one batch of B: its prediction and the figures above, before averaging."""

    probs: torch.Tensor  # (B, C) class probabilities as trained
    uniform_flipped: torch.Tensor  # (B,) 1.0 where a_ij = 1/n changes the predicted class
    uniform_delta: torch.Tensor  # (B,) p_new - p_0 of the predicted class under a_ij = 1/n
    identity_flipped: torch.Tensor  # (B,) the same under v_i = h_i
    identity_delta: torch.Tensor  # (B,)
    diagonal: torch.Tensor  # (B,) mean over real rows of a_ii
    entropy_ratio: torch.Tensor  # (B,) mean row entropy / ln n (0 for n = 1: see `tokens`)
    tokens: torch.Tensor  # (B,) n, the real tokens


def _moved(base: torch.Tensor, new: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per example: flipped (0/1) and delta p of base's predicted class; probs (B, C)."""
    predicted = base.argmax(dim=-1, keepdim=True)
    flipped = (new.argmax(dim=-1, keepdim=True) != predicted).float()
    return flipped[:, 0], (new.gather(1, predicted) - base.gather(1, predicted))[:, 0]


@torch.no_grad()
def example_figures(core: DenseAttention, x: torch.Tensor, mask: torch.Tensor) -> ExampleFigures:
    """The figures of each example of a batch x (B, N, D), mask (B, N), on the CPU."""
    t = core.trace(x, mask)
    uniform = core.trace(x, mask, attn_override=uniform_attention(mask)).probs
    identity = core.trace(x, mask, attn_override=identity_attention(mask)).probs
    n = mask.sum(dim=1).float()  # (B,) real tokens
    diagonal = (t.attn.diagonal(dim1=-2, dim2=-1) * mask.float()).sum(dim=1) / n.clamp_min(1)
    entropy = torch.as_tensor(attention_entropy(t.attn, mask), dtype=torch.float32)
    ratio = entropy.to(n.device).sum(dim=1) / n.clamp_min(1) / n.clamp_min(2).log()
    figures = (t.probs, *_moved(t.probs, uniform), *_moved(t.probs, identity), diagonal, ratio, n)
    return ExampleFigures(*(f.float().cpu() for f in figures))


def _batch(classifier: Classifier, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """(B, 6) per example: uniform flip, |dp|, identity flip, |dp|, diagonal, entropy ratio,
    and a 7th column: 1 when the example has at least 2 real tokens."""
    with torch.no_grad():
        f = example_figures(classifier.core, *classifier.features(*inputs))
    columns = [f.uniform_flipped, f.uniform_delta.abs(), f.identity_flipped,
               f.identity_delta.abs(), f.diagonal, f.entropy_ratio]  # fmt: skip
    return torch.stack([*columns, (f.tokens >= 2).float()], dim=1)


def measure(
    classifier: Classifier, split: Split, limit: int | None = SAMPLE_SIZE, seed: int = 0,
    split_name: str = "test", batch_size: int = 64,
) -> AttentionWork:  # fmt: skip
    """The four figures over a seeded random stratified sample of at most `limit` of `split`."""
    tensors = classifier.tensors(sample_split(split, limit, seed))
    return measure_tensors(classifier, tensors, split_name, seed, batch_size)


def measure_tensors(
    classifier: Classifier, tensors: TensorSplit, split_name: str = "test", seed: int = 0,
    batch_size: int = 64,
) -> AttentionWork:  # fmt: skip
    """`measure` on a sample already made tensors (`classifier.tensors`): models that read the
    same features (a model's similarity variants) share one MiniLM pass."""
    classifier.eval()
    device = next(classifier.parameters()).device
    rows = [
        _batch(classifier, tensors.take(slice(start, start + batch_size)).to(device).inputs)
        for start in range(0, len(tensors), batch_size)
    ]
    table = torch.cat(rows).numpy()
    table = table[table[:, -1] > 0]
    means = table[:, :-1].mean(axis=0) if len(table) else np.full(6, np.nan)
    figures = (float(v) for v in means)
    return AttentionWork(len(table), *figures, sampled=len(tensors), split=split_name, seed=seed)


@torch.no_grad()
def _head_rows(classifier: Classifier, inputs: tuple[torch.Tensor, ...]) -> dict[str, Any]:
    """One batch: each head's attention (B, H, N, N), its mask, and per head the |delta p| and
    flips of the uniform and identity ablations of that head alone."""
    x, mask = classifier.features(*inputs)
    core = classifier.core
    t = core.trace(x, mask)
    moved = []
    for k in range(t.heads):
        for replacement in (uniform_attention(mask), identity_attention(mask)):
            attn = t.head_attn.clone()
            attn[:, k] = replacement.to(attn)
            flipped, delta = _moved(t.probs, core.trace(x, mask, attn_override=attn).probs)
            moved.append(torch.stack([flipped, delta.abs()]))
    return {"attn": t.head_attn.cpu(), "mask": mask.cpu(), "moved": torch.stack(moved).cpu()}


def heads_block(
    classifier: Classifier, split: Split, limit: int | None = SAMPLE_SIZE, seed: int = 0,
    split_name: str = "test",
) -> dict[str, Any]:  # fmt: skip
    """How different a several-head model's heads are, and what each does, over the same
    sample as `measure`: the mean Jensen-Shannon divergence (nats) between two heads' rows of
    the same query (H x H and the mean over pairs), each head's mean row entropy / ln n, and
    each head's uniform / identity ablation alone (flip rate, mean |delta p|)."""
    tensors = classifier.tensors(sample_split(split, limit, seed))
    classifier.eval()
    device = next(classifier.parameters()).device
    parts = [_head_rows(classifier, tensors.take(slice(s, s + 64)).to(device).inputs)
             for s in range(0, len(tensors), 64)]  # fmt: skip
    attn = torch.cat([p["attn"] for p in parts])
    mask = torch.cat([p["mask"] for p in parts])
    moved = torch.cat([p["moved"] for p in parts], dim=-1).numpy()  # (2H, 2, B)
    heads = attn.shape[1]
    jsd = head_distance(attn, mask)
    n = mask.sum(dim=1, keepdim=True).clamp_min(2).double()
    entropy = attention_entropy(attn, mask[:, None].expand(-1, heads, -1)).sum(-1)
    ratio = (torch.as_tensor(entropy) / n / n.log()).mean(dim=0)
    pairs = [jsd[k, m] for k in range(heads) for m in range(k + 1, heads)]
    per_head = [{"head": k + 1, "entropy_ratio": round(float(ratio[k]), 4),
                 "uniform_flip_rate": round(float(moved[2 * k, 0].mean()), 4),
                 "uniform_abs_delta": round(float(moved[2 * k, 1].mean()), 4),
                 "identity_flip_rate": round(float(moved[2 * k + 1, 0].mean()), 4),
                 "identity_abs_delta": round(float(moved[2 * k + 1, 1].mean()), 4)}
                for k in range(heads)]  # fmt: skip
    return {"heads": heads, "split": split_name, "examples": len(tensors), "seed": seed,
            "mean_pairwise_jsd": round(float(np.mean(pairs)), 4) if pairs else 0.0,
            "pairwise_jsd": np.round(jsd, 4).tolist(), "per_head": per_head}  # fmt: skip


def lesson_cell(
    attn: torch.Tensor | np.ndarray, alpha: torch.Tensor | np.ndarray
) -> tuple[int, int]:
    """The link a first view points at: the cell (i, j), i != j, of one input's attention (N, N)
    with the largest a_ij weighted by the pooling weight alpha_i (N,) of its query: a token that
    counts, looking at another. (0, 0) for a single token."""
    a = np.asarray(to_numpy(attn), dtype=np.float64).reshape(attn.shape[-2:])
    weights = np.asarray(to_numpy(alpha), dtype=np.float64).reshape(-1)
    if a.shape[0] < 2:
        return 0, 0
    link = weights[:, None] * a
    np.fill_diagonal(link, -np.inf)
    i, j = np.unravel_index(int(np.argmax(link)), link.shape)
    return int(i), int(j)
