"""Does attention matter? Ablations, token importances, their agreement and deletion curves.

For one input of a DenseAttention model, with p the probability of the predicted class: ablations
replace one intermediate (a, alpha, h_o or c) and report the new probabilities, delta p and whether
the prediction flips; five methods score the tokens; Kendall tau compares them; deletion curves and
AOPC test them. Everything works on the model's input x (B, N, D) with the input's real tokens only
(padding is cropped away first), so a text's frozen MiniLM features are computed once per input.
Pure torch / numpy / scipy.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.errors import DenseAttentionError
from ..core.model import DenseAttention
from ..core.trace import attention_entropy, to_numpy
from ..data.dataset import Dataset, Split
from ..inputs.classifier import Classifier
from ..training.train import TensorSplit, subsample
from . import eraser

METHODS = ("alpha", "received", "grad_x_input", "integrated_gradients", "occlusion")
ABLATIONS = ("uniform", "permuted", "no_attention", "uniform_alpha", "h_o_mean", "h_o_zero",
             "c_mean")  # fmt: skip
RANDOM = eraser.RANDOM  # the deletion curve of random orders, the baseline every method should beat
# One head at a time (ModelConfig.heads > 1): head k's a^k replaced, the other heads untouched.
HEAD_ABLATIONS = ("uniform", "no_attention")
IG_BASELINE = "zero input x = 0 (also what the text encoder gives a [PAD] position)"
METRICS_KEY = "faithfulness"  # the block of a checkpoint's metrics.json written by the CLI


class FaithfulnessError(DenseAttentionError):
    """An input or a setting the analysis cannot use; the message says why."""


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class TrainingMeans:
    """Mean h_o and c over training examples: what the no-h_o / no-c ablations put in."""

    h_o: np.ndarray  # (d,) mean of h_o = masked mean of h_i, over the examples
    c: np.ndarray  # (d,) mean of c = sigma(sum_i alpha_i v_i)
    examples: int  # training examples averaged (a stratified sample of at most max_examples)
    split: str  # "train" or "train+val": what the model was fit on

    def to_dict(self) -> dict[str, Any]:
        return {"h_o": [round(float(v), 6) for v in self.h_o],
                "c": [round(float(v), 6) for v in self.c],
                "examples": self.examples, "split": self.split}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingMeans:
        h_o, c = (np.asarray(data[k], dtype=np.float32) for k in ("h_o", "c"))
        return cls(h_o=h_o, c=c, examples=int(data["examples"]), split=str(data["split"]))


@dataclass(frozen=True)
class Ablation:
    """One ablation of one input; `permuted` averages over its draws, the others have one."""

    name: str  # one of ABLATIONS
    probs: np.ndarray  # (C,) new class probabilities (mean over draws)
    delta: float  # mean of p_new - p_0 for the originally predicted class
    abs_delta: float  # mean of |p_new - p_0|
    delta_std: float  # standard deviation of p_new - p_0 over draws (0 for one draw)
    flip_rate: float  # fraction of draws whose predicted class differs (0 or 1 for one draw)

    @property
    def flipped(self) -> bool:
        return self.flip_rate >= 0.5


@dataclass(frozen=True)
class KnockOut:
    """Each real token j masked in turn (B = N copies of the input)."""

    probs: np.ndarray  # (N, C) probabilities with token j masked
    delta: np.ndarray  # (N,) p_new - p_0 of the predicted class
    flipped: np.ndarray  # (N,) bool, the predicted class changed


@dataclass(frozen=True)
class DeletionCurve:
    """p of the predicted class as tokens are masked in one method's order, most important first."""

    method: str  # one of METHODS, or RANDOM (mean over random orders)
    removed: np.ndarray  # (K,) int tokens masked, 0 .. N
    fractions: np.ndarray  # (K,) removed / N
    probs: np.ndarray  # (K,) p(predicted class) after masking them
    aopc: float  # mean over the K points of (p_0 - p_k); higher = a more faithful order


@dataclass(frozen=True)
class Faithfulness:
    """Everything measured on one input (N real tokens, C classes)."""

    tokens: tuple[str, ...]  # (N,) labels of the real tokens (words or patch names)
    classes: tuple[str, ...]  # (C,)
    predicted: int  # argmax of probs
    probs: np.ndarray  # (C,) the model's probabilities
    ablations: dict[str, Ablation]  # by name, ABLATIONS order (h_o_mean / c_mean need means)
    knockout: KnockOut
    importance: dict[str, np.ndarray]  # method -> (N,) score per token, METHODS order
    ig_delta: float  # Captum's convergence delta: sum(attr) - (f(x) - f(baseline))
    kendall: dict[tuple[str, str], float | None]  # tau per pair; None if undefined (ties only)
    deletion: dict[str, DeletionCurve]  # METHODS and RANDOM
    # Mean over the query rows of H_i / ln N (trace.attention_entropy): 0 = every row on one key,
    # 1 = uniform attention; NaN when N < 2 (one token cannot attend anywhere else)
    entropy_ratio: float = float("nan")
    grid: tuple[int, int] | None = None  # (rows, cols) of image patches; None for text
    ig_baseline: str = IG_BASELINE
    eraser: eraser.Eraser | None = None  # comprehensiveness / sufficiency; None when N < 2
    # One entry per head (models with heads > 1; empty with one head): HEAD_ABLATIONS by name,
    # each with only that head's attention replaced (ablate_heads)
    heads: tuple[dict[str, Ablation], ...] = ()

    def importance_grid(self, method: str) -> np.ndarray:
        """An image's importances as its (rows, cols) patch grid, for an overlay."""
        if self.grid is None:
            raise FaithfulnessError("importance_grid is for images; this input is text")
        return self.importance[method].reshape(self.grid)

    def tau_matrix(self) -> np.ndarray:
        """(M, M) Kendall tau between METHODS for a heatmap; 1 on the diagonal, NaN if undefined."""
        out = np.eye(len(METHODS))
        for (a, b), tau in self.kendall.items():
            i, j = METHODS.index(a), METHODS.index(b)
            out[i, j] = out[j, i] = np.nan if tau is None else tau
        return out


def entropy_ratio(attn: torch.Tensor | np.ndarray, mask: torch.Tensor | None = None) -> float:
    """One input's attention (N, N) or (1, N, N), mask (N,) or (1, N) (None: all real) -> the
    mean over real query rows of entropy / ln n, n real tokens: 0 = each row on one key,
    1 = uniform. NaN when n < 2."""
    a = to_numpy(attn)
    a = a.reshape(a.shape[-2:])
    keep = np.ones(a.shape[0], bool) if mask is None else to_numpy(mask).reshape(-1) > 0
    n = int(keep.sum())
    if n < 2:
        return float("nan")
    return float(attention_entropy(a[keep][:, keep]).mean() / np.log(n))


# ---------------------------------------------------------------------------------------------
# Replacement attention and pooling weights (mask (B, N) bool, True = real token)


def uniform_attention(mask: torch.Tensor) -> torch.Tensor:
    """(B, N, N): a_ij = 1/n over the n real keys j of each real query i; padding rows 0."""
    keep = (mask[:, :, None] & mask[:, None, :]).float()
    return keep / keep.sum(dim=-1, keepdim=True).clamp_min(1.0)


def identity_attention(mask: torch.Tensor) -> torch.Tensor:
    """(B, N, N): a_ii = 1 for real i, so v_i = h_i ("no attention")."""
    return torch.diag_embed(mask.float())


def uniform_alpha(mask: torch.Tensor) -> torch.Tensor:
    """(B, N): alpha_i = 1/n over the n real tokens."""
    weights = mask.float()
    return weights / weights.sum(dim=1, keepdim=True).clamp_min(1.0)


def permuted_attention(attn: torch.Tensor, draws: int, generator: torch.Generator) -> torch.Tensor:
    """(draws, ..., n, n): each row of a (1, n, n), or of each head of a (1, H, n, n), all tokens
    real, shuffled independently per draw."""
    shape = (draws, *attn.shape[1:])
    order = torch.rand(shape, generator=generator).argsort(dim=-1)
    return attn.expand(shape).gather(-1, order.to(attn.device))


def one_head_replaced(
    head_attn: torch.Tensor, head: int, replacement: torch.Tensor
) -> torch.Tensor:
    """(B, H, N, N): `head_attn` with head `head` replaced by `replacement` (B, N, N)."""
    if not 0 <= head < head_attn.shape[1]:
        raise FaithfulnessError(f"head {head + 1} is outside the model's {head_attn.shape[1]}")
    out = head_attn.clone()
    out[:, head] = replacement
    return out


# ---------------------------------------------------------------------------------------------
# One input


@dataclass(frozen=True)
class _One:
    core: DenseAttention
    x: torch.Tensor  # (1, n, D) real tokens only
    mask: torch.Tensor  # (1, n) all True
    probs: torch.Tensor  # (C,)
    predicted: int
    settings: dict[str, Any]  # live similarity / temperature / pooling (empty: as trained)

    @property
    def n(self) -> int:
        return self.x.shape[1]

    @property
    def p0(self) -> float:
        return float(self.probs[self.predicted])

    @torch.no_grad()
    def run(self, mask: torch.Tensor | None = None, k: int = 1, **overrides: Any) -> torch.Tensor:
        """Probabilities (K, C) of K copies of x, under masks (K, n) or overrides batched to K."""
        k = mask.shape[0] if mask is not None else k
        mask = self.mask.expand(k, -1) if mask is None else mask
        x = self.x.expand(k, -1, -1)
        return self.core.trace(x, mask, **self.settings, **overrides).probs.float()

    @torch.no_grad()
    def trace(self) -> Any:
        """The trace of the input under the live settings."""
        return self.core.trace(self.x, **self.settings)

    def p_fn(self, x: torch.Tensor) -> torch.Tensor:
        """p(predicted class) (K,) for inputs x (K, n, D): what IG and gradients explain."""
        logits = self.core(x, self.mask.expand(x.shape[0], -1), **self.settings)
        return torch.softmax(logits, dim=-1)[:, self.predicted]


def _prepare(
    core: DenseAttention,
    x: torch.Tensor,
    mask: torch.Tensor | None,
    settings: dict[str, Any] | None = None,
) -> _One:
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3 or x.shape[0] != 1:
        raise FaithfulnessError(f"x must be one input, (N, D) or (1, N, D); got {tuple(x.shape)}")
    mask = torch.ones(x.shape[:2], dtype=torch.bool) if mask is None else mask.reshape(1, -1)
    mask = mask.to(device=x.device, dtype=torch.bool)
    if not bool(mask.any()):
        raise FaithfulnessError("the input has no real token (its mask is all False)")
    x = x[:, mask[0]].detach()  # (1, n, D) real tokens only
    core.eval()
    with torch.no_grad():
        probs = core.trace(x, **(settings or {})).probs[0].float()
    if not bool(torch.isfinite(probs).all()):
        raise FaithfulnessError("the model gives non-finite probabilities for this input")
    return _One(core, x, torch.ones(x.shape[:2], dtype=torch.bool, device=x.device), probs,
                int(probs.argmax()), dict(settings or {}))  # fmt: skip


def _ablation(name: str, one: _One, probs: torch.Tensor) -> Ablation:
    """Summarise K draws of new probabilities (K, C)."""
    delta = (probs[:, one.predicted] - one.p0).cpu().numpy()
    flips = (probs.argmax(dim=-1) != one.predicted).float().cpu().numpy()
    return Ablation(name=name, probs=probs.mean(dim=0).cpu().numpy(),
                    delta=float(delta.mean()), abs_delta=float(np.abs(delta).mean()),
                    delta_std=float(delta.std()), flip_rate=float(flips.mean()))  # fmt: skip


def ablate(
    one: _One, means: TrainingMeans | None, permutations: int = 20, seed: int = 0
) -> dict[str, Ablation]:
    """Every ablation of ABLATIONS; h_o_mean and c_mean only when `means` are given."""
    dev, mask, k = one.x.device, one.mask, permutations
    attn = one.trace().head_attn  # (1, H, n, n): permuted head by head
    gen = torch.Generator().manual_seed(seed)
    runs: dict[str, Callable[[], torch.Tensor]] = {
        "uniform": lambda: one.run(attn_override=uniform_attention(mask)),
        "permuted": lambda: one.run(k=k, attn_override=permuted_attention(attn, k, gen)),
        "no_attention": lambda: one.run(attn_override=identity_attention(mask)),
        "uniform_alpha": lambda: one.run(alpha_override=uniform_alpha(mask)),
        "h_o_zero": lambda: one.run(h_o_override=torch.zeros(one.core.config.hidden_dim)),
    }
    if means is not None:
        runs["h_o_mean"] = lambda: one.run(h_o_override=torch.as_tensor(means.h_o, device=dev))
        runs["c_mean"] = lambda: one.run(c_override=torch.as_tensor(means.c, device=dev))
    return {name: _ablation(name, one, runs[name]()) for name in ABLATIONS if name in runs}


def ablate_heads(one: _One) -> tuple[dict[str, Ablation], ...]:
    """Per head k (none with one head): HEAD_ABLATIONS with a^k alone replaced by the uniform
    or the identity attention (v^k_i = h^k_i), the other heads' attention kept."""
    head_attn = one.trace().head_attn  # (1, H, n, n)
    if head_attn.shape[1] == 1:
        return ()
    by_name = {"uniform": uniform_attention(one.mask), "no_attention": identity_attention(one.mask)}
    return tuple(
        {name: _ablation(name, one, one.run(attn_override=one_head_replaced(
            head_attn, k, by_name[name].to(head_attn)))) for name in HEAD_ABLATIONS}
        for k in range(head_attn.shape[1])
    )  # fmt: skip


def knock_out(one: _One) -> KnockOut:
    """Mask each real token j in turn: new probabilities, delta p and flips, (N, ...)."""
    probs = one.run(mask=~torch.eye(one.n, dtype=torch.bool, device=one.x.device))  # (n, C)
    return KnockOut(probs=probs.cpu().numpy(),
                    delta=(probs[:, one.predicted] - one.p0).cpu().numpy(),
                    flipped=(probs.argmax(dim=-1) != one.predicted).cpu().numpy())  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Token importance


def _gradient(one: _One) -> torch.Tensor:
    """d p / d x, (n, D)."""
    x = one.x.clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(one.p_fn(x).sum(), x)
    return grad[0]


def integrated_gradients(one: _One, steps: int = 32) -> tuple[np.ndarray, float]:
    """Captum's Integrated Gradients of p from the baseline x = 0: the sum over features per
    token (n,) and the convergence delta sum(attr) - (p(x) - p(0))."""
    if steps < 2:
        raise FaithfulnessError(f"Integrated Gradients needs at least 2 steps, got {steps}")
    from captum.attr import IntegratedGradients  # ~0.7 s to import: not at the app's start

    ig = IntegratedGradients(one.p_fn)
    with torch.enable_grad():
        attr, delta = ig.attribute(one.x, baselines=torch.zeros_like(one.x), n_steps=steps,
                                   return_convergence_delta=True)  # fmt: skip
    return attr[0].sum(dim=-1).detach().cpu().numpy(), float(delta.reshape(-1)[0])


def token_importance(
    one: _One, knockout: KnockOut, ig_steps: int = 32
) -> tuple[dict[str, np.ndarray], float]:
    """The five METHODS' scores (n,) per token, higher = more important, and IG's delta.

    alpha_i; received r_j = sum_i alpha_i a_ij; gradient x input ||dp/dx_j * x_j|| (L2 over
    features); Integrated Gradients summed over features (signed); occlusion p_0 - p_(-j).
    """
    t = one.trace()
    alpha = t.alpha[0]  # (n,)
    received = alpha @ t.attn[0]  # (n,) r_j = sum_i alpha_i a_ij
    grad_x = (_gradient(one) * one.x[0]).norm(dim=-1)
    ig, delta = integrated_gradients(one, ig_steps)
    scores = {
        "alpha": alpha.float().cpu().numpy(),
        "received": received.float().cpu().numpy(),
        "grad_x_input": grad_x.float().cpu().numpy(),
        "integrated_gradients": ig,
        "occlusion": -knockout.delta,
    }
    return scores, delta


def kendall_pairs(importance: dict[str, np.ndarray]) -> dict[tuple[str, str], float | None]:
    """Kendall tau-b between every pair of methods; None where it is undefined (fewer than two
    tokens, or a method that scores every token the same)."""
    from scipy.stats import kendalltau  # ~0.6 s to import: not at the app's start

    out: dict[tuple[str, str], float | None] = {}
    for a, b in itertools.combinations(importance, 2):
        u, v = importance[a], importance[b]
        constant = len(u) < 2 or np.ptp(u) == 0 or np.ptp(v) == 0
        tau = None if constant else float(kendalltau(u, v).statistic)
        out[(a, b)] = None if tau is None or not np.isfinite(tau) else tau
    return out


# ---------------------------------------------------------------------------------------------
# Deletion curves


def deletion_points(n: int, steps: int = 20) -> np.ndarray:
    """Tokens removed at each point of a curve: 0 .. n in at most `steps` equal fractions."""
    return np.unique(np.round(np.linspace(0, n, min(n, steps) + 1)).astype(int))


def _curves(one: _One, orders: list[np.ndarray], removed: np.ndarray) -> np.ndarray:
    """p(predicted) (O, K) with the first removed[k] tokens of each order masked, one batch."""
    rank = np.empty((len(orders), one.n), dtype=int)
    for o, order in enumerate(orders):
        rank[o, order] = np.arange(one.n)
    keep = rank[:, None, :] >= removed[None, :, None]  # (O, K, n)
    masks = torch.as_tensor(keep.reshape(-1, one.n), device=one.x.device)
    return one.run(mask=masks)[:, one.predicted].cpu().numpy().reshape(len(orders), -1)


def deletion_curves(
    one: _One, importance: dict[str, np.ndarray], steps: int = 20, random_orders: int = 5,
    seed: int = 0,
) -> dict[str, DeletionCurve]:  # fmt: skip
    """A curve per method (most important token first) and RANDOM, the mean of random orders.

    AOPC = mean over the curve's points k of (p_0 - p_k), p_0 included (Samek et al. 2017).
    """
    removed = deletion_points(one.n, steps)
    rng = np.random.default_rng(seed)
    orders = [np.argsort(-s, kind="stable") for s in importance.values()]
    orders += [rng.permutation(one.n) for _ in range(random_orders)]
    probs = _curves(one, orders, removed)  # (O, K)
    curves = dict(zip(importance, probs, strict=False))
    curves[RANDOM] = probs[len(importance) :].mean(axis=0)
    return {m: DeletionCurve(method=m, removed=removed, fractions=removed / one.n, probs=p,
                             aopc=float(np.mean(one.p0 - p)))
            for m, p in curves.items()}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Entry points


def analyze_features(
    core: DenseAttention,
    x: torch.Tensor,
    mask: torch.Tensor | None = None,
    means: TrainingMeans | None = None,
    tokens: list[str] | None = None,
    classes: tuple[str, ...] | None = None,
    grid: tuple[int, int] | None = None,
    *,
    ig_steps: int = 32,
    permutations: int = 20,
    deletion_steps: int = 20,
    random_orders: int = 5,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
) -> Faithfulness:
    """Ablations, importances, agreement and deletion curves of one input x (N, D) or (1, N, D)
    with its mask (N,) or (1, N) (None: all real). Padding is dropped first; `tokens` label the
    real tokens (N of them, or one per real token). `settings` (similarity, temperature,
    pooling) override the trained config, as the app's live settings do."""
    one = _prepare(core, x, mask, settings)
    if min(permutations, random_orders, deletion_steps) < 1:
        raise FaithfulnessError("permutations, random_orders and deletion_steps must be >= 1")
    ablations = ablate(one, means, permutations, seed)
    knockout = knock_out(one)
    importance, delta = token_importance(one, knockout, ig_steps)
    labels = _labels(tokens, mask, one.n)
    with torch.no_grad():
        ratio = entropy_ratio(core.trace(one.x).attn)
    return Faithfulness(
        tokens=labels, classes=tuple(classes or (str(i) for i in range(len(one.probs)))),
        predicted=one.predicted, probs=one.probs.cpu().numpy(), ablations=ablations,
        knockout=knockout, importance=importance, ig_delta=delta,
        kendall=kendall_pairs(importance),
        deletion=deletion_curves(one, importance, deletion_steps, random_orders, seed),
        entropy_ratio=ratio, grid=grid,
        eraser=eraser.erase(core, one.x, importance, settings, seed=seed) if one.n > 1 else None,
        heads=ablate_heads(one),
    )  # fmt: skip


def ablations_of(
    core: DenseAttention,
    x: torch.Tensor,
    mask: torch.Tensor | None = None,
    means: TrainingMeans | None = None,
    settings: dict[str, Any] | None = None,
    *,
    permutations: int = 20,
    seed: int = 0,
) -> dict[str, Ablation]:
    """The ablations alone of one input x (N, D) or (1, N, D), as `analyze_features` computes
    them (same draws for the same seed), without the attributions: a few forward passes."""
    return ablate(_prepare(core, x, mask, settings), means, permutations, seed)


def head_ablations_of(
    core: DenseAttention,
    x: torch.Tensor,
    mask: torch.Tensor | None = None,
    settings: dict[str, Any] | None = None,
) -> tuple[dict[str, Ablation], ...]:
    """`ablate_heads` of one input x (N, D) or (1, N, D): each head's attention replaced alone."""
    return ablate_heads(_prepare(core, x, mask, settings))


def _labels(tokens: list[str] | None, mask: torch.Tensor | None, n: int) -> tuple[str, ...]:
    if tokens is None:
        return tuple(str(i) for i in range(n))
    if len(tokens) != n and mask is not None:
        tokens = [t for t, keep in zip(tokens, mask.reshape(-1).tolist(), strict=True) if keep]
    if len(tokens) != n:
        raise FaithfulnessError(f"{len(tokens)} token labels for {n} real tokens")
    return tuple(tokens)


@dataclass(frozen=True)
class Features:
    """What a classifier's core reads for one raw input: x, its mask and the token labels."""

    x: torch.Tensor  # (1, N, D)
    mask: torch.Tensor  # (1, N) bool, True = real token
    tokens: list[str]  # (N,) display tokens (padding included for text: N = real here)
    grid: tuple[int, int] | None  # (rows, cols) of an image's patches; None for text


def features_of(classifier: Classifier, item: Any) -> Features:
    """The core's input for one raw input (a text or an image), computed once."""
    classifier.eval()
    device = next(classifier.parameters()).device
    if classifier.config.kind == "text":
        batch = classifier.encoder.tokenize([item])
        inputs, tokens, grid = (batch.ids, batch.mask), batch.tokens[0], None
    else:
        inputs = (classifier.encoder.prepare([item]),)
        tokens, grid = classifier.encoder.patch_labels(), classifier.config.image.grid
    with torch.no_grad():
        x, mask = classifier.features(*(t.to(device) for t in inputs))
    return Features(x, mask, list(tokens), grid)


def analyze(
    classifier: Classifier, item: Any, means: TrainingMeans | None = None, **options: Any
) -> Faithfulness:
    """`analyze_features` of one raw input (a text or an image) of `classifier`; options go to
    analyze_features (ig_steps, permutations, deletion_steps, random_orders, seed, settings)."""
    f = features_of(classifier, item)
    return analyze_features(classifier.core, f.x, f.mask, means, f.tokens, classifier.classes,
                            f.grid, **options)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Training-set means and the dataset-level study


def sample_split(split: Split, n: int | None, seed: int = 0) -> Split:
    """At most n examples of `split`, classes in proportion (train.subsample's rule)."""
    labels = torch.as_tensor(split.labels)
    index = subsample(TensorSplit((torch.arange(len(split)),), labels), n, seed).inputs[0].numpy()
    if isinstance(split.items, np.ndarray):
        return Split(split.items[index], split.labels[index])
    return Split([split.items[i] for i in index], split.labels[index])


@torch.no_grad()
def training_means(
    classifier: Classifier, dataset: Dataset, fit_on: str = "train", max_examples: int = 500,
    seed: int = 0, batch_size: int = 64,
) -> TrainingMeans:  # fmt: skip
    """Mean h_o and c over (a stratified sample of at most max_examples of) the data the model
    was fit on: dataset.train, or train + val when fit_on == "train+val" (a refit)."""
    if fit_on not in ("train", "train+val"):
        raise FaithfulnessError(f"fit_on must be 'train' or 'train+val', got {fit_on!r}")
    split = dataset.train_and_val() if fit_on == "train+val" else dataset.train
    tensors = classifier.tensors(sample_split(split, max_examples, seed))
    classifier.eval()
    device = next(classifier.parameters()).device
    h_o = c = 0.0
    for start in range(0, len(tensors), batch_size):
        part = tensors.take(slice(start, start + batch_size)).to(device)
        t = classifier.trace(*part.inputs)
        h_o, c = h_o + t.h_o.sum(dim=0), c + t.c.sum(dim=0)
    n = len(tensors)
    return TrainingMeans(h_o=(h_o / n).float().cpu().numpy(), c=(c / n).float().cpu().numpy(),
                         examples=n, split=fit_on)  # fmt: skip


def stored_block(checkpoint_dir: str | Path) -> dict[str, Any]:
    """The dataset-level study a checkpoint's metrics.json keeps under METRICS_KEY ({} if none)."""
    path = Path(checkpoint_dir) / "metrics.json"
    try:
        block = json.loads(path.read_text()).get(METRICS_KEY) if path.is_file() else None
    except (OSError, ValueError, AttributeError):  # unreadable or not a JSON object
        return {}
    return block if isinstance(block, dict) else {}


def stored_means(checkpoint_dir: str | Path) -> TrainingMeans | None:
    """The training means a checkpoint's metrics.json keeps under METRICS_KEY, if any."""
    block = stored_block(checkpoint_dir)
    return TrainingMeans.from_dict(block["training_means"]) if "training_means" in block else None
