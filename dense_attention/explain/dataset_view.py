"""The dataset view: a model run over a test split, one row per input (prediction, the verdict,
the ablation deltas, attention entropy, whether attention disagrees with the gradients), and the
slices, per-slice accuracy and confusion matrix the page draws from the rows.

The sample is a seeded random stratified one (never the first N: a split may be sorted by
label), or the whole split. Everything runs on the model as trained (no live settings).
Per row: the uniform-attention, identity and uniform-α deltas come from the batched figures of
`attention_work.example_figures` (plus one batched uniform-α pass); the verdict is
`verdict.judge`'s headline over `faithfulness.ablations_of` of that input, the very ablations
the walk-through's badge quotes, so a row and its input's badge say the same words.
"Attention disagrees with gradients": Kendall τ-b between α_i and gradient × input
(‖∂p/∂x_j ⊙ x_j‖, the attention page's definition) is under DISAGREE_TAU; τ is undefined (None,
never flagged) for a one-token input or a method that scores every token the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ..core.model import DenseAttention
from ..data.dataset import DataError, Split
from ..inputs.classifier import Classifier
from ..inputs.splits import TensorSplit
from ..training.train import subsample
from . import attention_work, faithfulness, verdict
from .faithfulness import FaithfulnessError, TrainingMeans

SAMPLE_SIZE = 500  # inputs in the default sample (the whole split when it is smaller)
# α and gradient x input "disagree" on an input when their Kendall tau-b is under this: Jain &
# Wallace 2019 found 0.1-0.4 between attention and gradients for a BiLSTM, so under 0.2 their
# token rankings share little more than chance would.
DISAGREE_TAU = 0.2
ALL, CORRECT, WRONG = "all", "correct", "wrong"  # the outcome filter

Progress = Callable[[int, int], None]  # (inputs done, inputs in all)


@dataclass(frozen=True)
class DatasetView:
    """One row per input of the sample (`rows`), and what the rows were made of."""

    rows: pd.DataFrame  # columns: COLUMNS (see `_row`); row k is the input items[k]
    classes: tuple[str, ...]  # the model's classes
    kind: str  # "text" | "image"
    items: list[str] | np.ndarray  # the sampled inputs, in the rows' order
    split_size: int  # inputs in the whole split
    seed: int  # the sample's seed
    pooling_learned: bool  # whether the model has a learned α (else no uniform-α column)

    @property
    def whole(self) -> bool:
        return len(self.rows) == self.split_size

    def item(self, k: int) -> Any:
        """The raw input of row k (a text, or an image (H, W, C) in [0, 1])."""
        return self.items[k]

    def picture(self, k: int) -> Image.Image:
        """Row k's picture (an image model's) as a PIL image, L or RGB."""
        pixels = np.round(np.asarray(self.items[k]) * 255).astype(np.uint8)
        return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def sample_index(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Indices (ascending) of at most `limit` of the split, classes in proportion, seeded: the
    stratified rule of `train.subsample`, which the attention figures' samples use too."""
    index = torch.arange(len(labels))
    kept = subsample(TensorSplit((index,), torch.as_tensor(labels)), limit, seed).inputs[0]
    return np.sort(kept.numpy())


def aligned_labels(labels: np.ndarray, classes: Sequence[str], model: Sequence[str]) -> np.ndarray:
    """A dataset's labels as indices into the model's classes (matched by name). Raises
    DataError naming the dataset's classes the model does not know."""
    unknown = [name for name in classes if name not in model]
    if unknown:
        raise DataError(
            f"the data's classes {', '.join(map(repr, unknown))} are not among the model's "
            f"({', '.join(map(repr, model))}): pick data labelled with the model's classes"
        )
    lookup = np.array([list(model).index(name) for name in classes], dtype=np.int64)
    return lookup[np.asarray(labels, dtype=np.int64)]


def _grad_x_input(core: DenseAttention, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, N) ‖∂p/∂x_j ⊙ x_j‖ of each example's predicted class p (0 on padding)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        probs = torch.softmax(core(x, mask), dim=-1)
        p = probs.gather(1, probs.argmax(dim=-1, keepdim=True)).sum()
        (grad,) = torch.autograd.grad(p, x)
    return ((grad * x).norm(dim=-1) * mask.float()).detach()


def _tau(alpha: np.ndarray, grad_x: np.ndarray) -> float | None:
    return faithfulness.kendall_pairs({"alpha": alpha, "grad": grad_x})[("alpha", "grad")]


def _verdict(
    core: DenseAttention, x: torch.Tensor, mask: torch.Tensor, diagonal: float,
    means: TrainingMeans | None, classes: tuple[str, ...],
) -> str:  # fmt: skip
    """The headline of one input's verdict, from the badge's own ablations."""
    ablations = faithfulness.ablations_of(core, x, mask, means)
    return verdict.judge(ablations, diagonal, core.config, classes).headline


def _rows(
    classifier: Classifier, tensors: TensorSplit, means: TrainingMeans | None
) -> list[dict[str, Any]]:
    """The rows of one batch (on the classifier's device): everything but index and input."""
    core, classes = classifier.core, classifier.classes
    with torch.no_grad():
        x, mask = classifier.features(*tensors.inputs)
        f = attention_work.example_figures(core, x, mask)
        alpha = core.trace(x, mask).alpha.float().cpu()
        uniform_alpha = core.trace(x, mask, alpha_override=faithfulness.uniform_alpha(mask))
    grad_x = _grad_x_input(core, x, mask).float().cpu()
    rows = []
    for b, label in enumerate(tensors.labels.tolist()):
        n, predicted = int(f.tokens[b]), int(f.probs[b].argmax())
        real = mask[b].cpu()
        alpha_dp = float(uniform_alpha.probs[b, predicted].cpu() - f.probs[b, predicted])
        tau = _tau(alpha[b][real].numpy(), grad_x[b][real].numpy()) if n >= 2 else None
        rows.append({
            "label": classes[label], "prediction": classes[predicted],
            "correct": predicted == label, "confidence": float(f.probs[b, predicted]),
            "verdict": _verdict(core, x[b], mask[b], float(f.diagonal[b]), means, classes),
            "uniform_dp": float(f.uniform_delta[b]), "identity_dp": float(f.identity_delta[b]),
            "uniform_alpha_dp": alpha_dp if core.config.pooling == "learned" else None,
            "uniform_flips": bool(f.uniform_flipped[b]), "tokens": n,
            "entropy": float(f.entropy_ratio[b]) if n >= 2 else None, "tau": tau,
            "disagrees": tau is not None and tau < DISAGREE_TAU,
        })  # fmt: skip
    return rows


def run(
    classifier: Classifier,
    split: Split,
    limit: int | None = SAMPLE_SIZE,
    seed: int = 0,
    means: TrainingMeans | None = None,
    batch_size: int = 64,
    on_progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DatasetView | None:
    """The dataset view of `classifier` over a seeded stratified sample of at most `limit`
    inputs of `split` (None: all of it), labels already in the model's classes. `means`: the
    training means the verdict's h_o ablation uses (None: h_o := 0, as the badge does then).
    None when `should_stop` turned true before the end."""
    if len(split) == 0:
        raise FaithfulnessError("the split has no input to run the model on")
    index = sample_index(split.labels, limit, seed)
    array = isinstance(split.items, np.ndarray)
    items = split.items[index] if array else [split.items[i] for i in index]
    tensors = classifier.tensors(Split(items, np.asarray(split.labels)[index]))
    classifier.eval()
    device = next(classifier.parameters()).device
    rows: list[dict[str, Any]] = []
    for start in range(0, len(tensors), batch_size):
        if should_stop is not None and should_stop():
            return None
        part = tensors.take(slice(start, start + batch_size)).to(device)
        rows += _rows(classifier, part, means)
        if on_progress is not None:
            on_progress(len(rows), len(tensors))
    table = pd.DataFrame(rows)
    text = classifier.config.kind == "text"
    shown = [str(t) for t in items] if text else [f"picture #{i + 1}" for i in index]
    table.insert(0, "input", shown)
    table.insert(0, "index", index + 1)  # 1-based, as the page shows it
    return DatasetView(table, classifier.classes, classifier.config.kind, items, len(split),
                       seed, classifier.config.model.pooling == "learned")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Slices


def filtered(
    rows: pd.DataFrame,
    classes: Sequence[str] = (),
    outcome: str = ALL,
    disagrees: bool = False,
    uniform_flips: bool = False,
) -> pd.DataFrame:
    """The rows whose true class is in `classes` (empty: any), correct or wrong (`outcome`),
    and, when asked, where attention disagrees with gradients / uniform attention flips it."""
    if outcome not in (ALL, CORRECT, WRONG):
        raise FaithfulnessError(f"outcome must be {ALL!r}, {CORRECT!r} or {WRONG!r}")
    keep = np.ones(len(rows), dtype=bool)
    if classes:
        keep &= rows["label"].isin(list(classes)).to_numpy()
    if outcome != ALL:
        keep &= rows["correct"].to_numpy() == (outcome == CORRECT)
    if disagrees:
        keep &= rows["disagrees"].to_numpy(dtype=bool)
    if uniform_flips:
        keep &= rows["uniform_flips"].to_numpy(dtype=bool)
    return rows[keep]


def accuracy(rows: pd.DataFrame) -> float | None:
    """Share of correct predictions; None for no row (never NaN)."""
    return float(rows["correct"].mean()) if len(rows) else None


SLICES = {  # name -> filter of the rows
    "all inputs": {},
    "attention disagrees with gradients": {"disagrees": True},
    "uniform attention flips it": {"uniform_flips": True},
}


def slice_table(rows: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Per slice (SLICES, then each class): its inputs and its accuracy (None when empty)."""
    slices = {name: filtered(rows, **rule) for name, rule in SLICES.items()}
    slices |= {f"class {name}": filtered(rows, classes=[name]) for name in classes}
    return pd.DataFrame(
        [{"slice": name, "inputs": len(part), "accuracy": accuracy(part)}
         for name, part in slices.items()]
    )  # fmt: skip


def confusion(rows: pd.DataFrame, classes: Sequence[str]) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    position = {name: k for k, name in enumerate(classes)}
    out = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for true, predicted in zip(rows["label"], rows["prediction"], strict=True):
        out[position[true], position[predicted]] += 1
    return out
