"""Wiegreffe & Pinter's seed variance (2019, test 2): one recipe trained with k seeds, and per
input how far each seed's α and attention rows sit from their mean (JSD) beside how far its
predictions do. Is an input's attention stable while its prediction is?

Notation: k seeds, E inputs, N tokens, C classes. For a distribution q_s per seed (α, a row a_i
of the attention, or the output p), its spread is the mean over seeds of JSD(q_s, q̄) with q̄ the
mean over seeds (natural log: 0 for identical seeds, at most ln 2). The split of the data, and
so every test input, is the same for all seeds; only the initial weights, the data order and
dropout change with the seed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.config import TrainConfig
from ..core.errors import DenseAttentionError
from ..core.i18n import tr
from ..core.seeding import init_parameters
from ..data.builtin import DATASETS, load_dataset
from ..data.dataset import Dataset
from ..inputs.classifier import Classifier, ClassifierConfig
from ..inputs.splits import TensorSplit
from ..storage import checkpoint
from ..training.train import StepEvent, evaluate, train
from .adversarial import LN2, jsd
from .faithfulness import sample_split

SAMPLE_SIZE = 200  # test inputs the dataset-level spread is measured on (a stratified sample)
MAX_SEEDS = 10


class SeedVarianceError(DenseAttentionError):
    """A recipe, a seed list or an input the seed-variance test cannot use; the message says
    why."""


@dataclass(frozen=True)
class Recipe:
    """How a model was trained: what the seeds repeat."""

    config: ClassifierConfig  # the architecture and encoder (a learned vocabulary included)
    training: TrainConfig  # the training settings; `seed` is replaced by each run's
    fit_on: str = "train"  # "train", or "train+val" for a refit on train + validation
    dataset: str = ""  # a built-in dataset's name ("" or another name: the caller's data)
    split_seed: int = 0  # the split's seed: the same for every run
    limit: int | None = None  # built-in: at most this many examples, chosen before splitting
    data_path: str | None = None  # Fashion-MNIST's folder, when it is not the default

    def load_data(self) -> Dataset:
        """The recipe's built-in dataset, split as it was for training."""
        if self.dataset not in DATASETS:
            raise SeedVarianceError(
                f"the model was trained on {self.dataset!r}, not a built-in dataset: its "
                "training data is not kept, so it cannot be trained again"
            )
        return load_dataset(self.dataset, seed=self.split_seed, limit=self.limit,
                            path=self.data_path)  # fmt: skip


def checkpoint_recipe(directory: str | Path) -> Recipe:
    """The recipe of a checkpoint folder: config.json's model, metrics.json's training."""
    directory = Path(directory)
    header = checkpoint.read_header(directory)
    path = directory / checkpoint.METRICS_FILE
    try:
        metrics = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError) as err:
        raise SeedVarianceError(f"{path} cannot be read: {err}") from err
    if not isinstance(metrics, dict) or not isinstance(metrics.get("train_config"), dict):
        raise SeedVarianceError(f"{path} holds no train_config: the recipe is unknown")
    if header["kind"] != "Classifier":
        raise SeedVarianceError(f"{directory} holds a bare model, not a classifier")
    meta = header.get("metadata", {})
    return Recipe(
        config=ClassifierConfig.from_dict(header["config"]),
        training=TrainConfig.from_dict(metrics["train_config"]),
        fit_on=metrics.get("fit_on") or "train", dataset=str(meta.get("dataset", "")),
        split_seed=int(meta.get("split_seed", 0)), limit=meta.get("limit"),
        data_path=meta.get("data_path"),
    )  # fmt: skip


def check_seeds(seeds: Sequence[int]) -> tuple[int, ...]:
    """The seeds as a tuple: at least 2, at most MAX_SEEDS, no repeats."""
    seeds = tuple(int(s) for s in seeds)
    if not 2 <= len(seeds) <= MAX_SEEDS:
        raise SeedVarianceError(f"give 2 to {MAX_SEEDS} seeds (got {len(seeds)}): one seed has "
                                "no spread")  # fmt: skip
    if len(set(seeds)) != len(seeds):
        raise SeedVarianceError(f"the seeds repeat: {list(seeds)}")
    return seeds


def train_seeds(
    recipe: Recipe, dataset: Dataset, seeds: Sequence[int], *, epochs: int | None = None,
    on_step: Callable[[int, StepEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Classifier]:  # fmt: skip
    """One classifier per seed, each trained by the recipe (its epochs, or `epochs`);
    on_step(run index, event) after every optimiser step. The encoder's tensors (frozen MiniLM
    features) are computed once for all runs."""
    seeds = check_seeds(seeds)
    fit = dataset.train_and_val() if recipe.fit_on == "train+val" else dataset.train
    first = Classifier(recipe.config)
    fit_t, val_t = first.tensors(fit), first.tensors(dataset.val)
    models = []
    for index, seed in enumerate(seeds):
        if should_stop is not None and should_stop():
            raise SeedVarianceError(f"stopped after {index} of {len(seeds)} runs")
        model = init_parameters(Classifier(recipe.config), seed)
        config = replace(recipe.training, seed=seed, epochs=epochs or recipe.training.epochs,
                         probes=0, max_seconds=None)  # fmt: skip
        step = None if on_step is None else lambda e, i=index: on_step(i, e)
        train(model, fit_t, val_t, config, on_step=step, should_stop=should_stop)
        models.append(model.cpu().eval())
    return models


# ---------------------------------------------------------------------------------------------
# The spread across seeds


def spread_to_mean(q: torch.Tensor) -> torch.Tensor:
    """(k, ...) distributions over the last dim -> (...): the mean over the k seeds of
    JSD(q_s, q̄), q̄ the mean over seeds; in [0, ln 2]."""
    return jsd(q, q.mean(dim=0, keepdim=True).expand_as(q)).mean(dim=0)


@dataclass(frozen=True)
class Spreads:
    """E inputs across k seeds: each one's spreads and its predictions."""

    alpha_jsd: np.ndarray  # (E,) spread of α
    row_jsd: np.ndarray  # (E,) spread of the attention rows a_i, averaged over real rows i
    output_jsd: np.ndarray  # (E,) spread of the class probabilities p
    majority: np.ndarray  # (E,) int: the class most seeds predict (ties: highest mean p)
    agreement: np.ndarray  # (E,) share of seeds that predict the majority class
    p_std: np.ndarray  # (E,) std over seeds of p(majority class)

    def __len__(self) -> int:
        return len(self.alpha_jsd)

    @staticmethod
    def concat(parts: Sequence[Spreads]) -> Spreads:
        fields = Spreads.__dataclass_fields__
        return Spreads(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


@torch.no_grad()
def spreads(
    alpha: torch.Tensor, attn: torch.Tensor, probs: torch.Tensor, mask: torch.Tensor
) -> Spreads:
    """alpha (k, E, N), attn (k, E, N, N), probs (k, E, C) of k seeds; mask (E, N) bool, True =
    real token (padding weighs 0 in α and in every row, and padding rows are left out)."""
    k = alpha.shape[0]
    alpha, attn, probs = alpha.double(), attn.double(), probs.double()
    rows = mask.to(alpha.device).double()  # (E, N): the real query rows
    row_jsd = (spread_to_mean(attn) * rows).sum(-1) / rows.sum(-1).clamp_min(1)
    votes = torch.nn.functional.one_hot(probs.argmax(-1), probs.shape[-1]).sum(0)  # (E, C)
    mean_p = probs.mean(dim=0)
    majority = (votes + mean_p / 2).argmax(-1)  # mean p < 1 breaks a tie of votes only
    p_major = probs.gather(-1, majority[None, :, None].expand(k, -1, 1))[..., 0]  # (k, E)
    agreement = votes.gather(-1, majority[:, None])[:, 0] / k
    out = (spread_to_mean(alpha), row_jsd, spread_to_mean(probs), majority, agreement,
           p_major.std(dim=0, unbiased=False))  # fmt: skip
    return Spreads(*(v.cpu().numpy() for v in out))


@torch.no_grad()
def measure(models: Sequence[Classifier], tensors: TensorSplit, batch_size: int = 64) -> Spreads:
    """The spreads of every input of `tensors` across `models` (the seeds)."""
    parts = []
    for start in range(0, len(tensors), batch_size):
        part = tensors.take(slice(start, start + batch_size))
        traces = [m.trace(*part.to(next(m.parameters()).device).inputs) for m in models]
        alpha, attn, probs = (torch.stack([getattr(t, name).float().cpu() for t in traces])
                              for name in ("alpha", "attn", "probs"))  # fmt: skip
        parts.append(spreads(alpha, attn, probs, traces[0].mask.cpu()))
    return Spreads.concat(parts)


# ---------------------------------------------------------------------------------------------
# A dataset's summary


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None


@dataclass(frozen=True)
class SeedVariance:
    """The seeds' models and the spreads over a test sample, with the summary the CLI prints."""

    dataset: str
    seeds: tuple[int, ...]
    epochs: int
    accuracies: tuple[float, ...]  # each seed's accuracy on the whole test split
    spreads: Spreads  # over the test sample
    train_seconds: float
    measure_seconds: float
    models: tuple[Classifier, ...] = ()  # the seeds' models (left out of to_dict)

    def summary(self) -> dict[str, Any]:
        """Medians of the spreads, the agreement of predictions, and the medians of α's spread
        apart for inputs whose prediction every seed shares and for the others."""
        s, r = self.spreads, lambda v: None if v is None else float(f"{v:.4g}")  # noqa: E731
        unanimous = s.agreement == 1.0
        return {
            "examples": len(s), "median_alpha_jsd": r(_median(s.alpha_jsd)),
            "median_row_jsd": r(_median(s.row_jsd)),
            "median_output_jsd": r(_median(s.output_jsd)),
            "mean_agreement": r(float(s.agreement.mean())),
            "unanimous_share": r(float(unanimous.mean())),
            "median_p_std": r(_median(s.p_std)),
            "median_alpha_jsd_unanimous": r(_median(s.alpha_jsd[unanimous])),
            "median_alpha_jsd_split": r(_median(s.alpha_jsd[~unanimous])),
        }  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "seeds": list(self.seeds), "epochs": self.epochs,
                "test_accuracy": [round(a, 4) for a in self.accuracies], **self.summary(),
                "train_seconds": round(self.train_seconds, 1),
                "measure_seconds": round(self.measure_seconds, 1)}  # fmt: skip

    def text(self) -> str:
        """The summary in lines for a terminal."""
        d = self.to_dict()
        f = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        return "\n".join([
            f"{d['dataset']}: {len(self.seeds)} seeds {list(self.seeds)}, {d['epochs']} epochs "
            f"each; test accuracy {', '.join(f'{a:.3f}' for a in self.accuracies)}",
            f"over {d['examples']} test inputs (JSD to the seeds' mean, ln 2 = {LN2:.3f} at most):",
            f"  median alpha JSD {f(d['median_alpha_jsd'])}, median attention-row JSD "
            f"{f(d['median_row_jsd'])}, median output JSD {f(d['median_output_jsd'])}",
            f"  prediction agreement {d['mean_agreement']:.1%} of seeds with the majority; all "
            f"seeds agree on {d['unanimous_share']:.1%} of inputs; median std of p "
            f"{f(d['median_p_std'])}",
            f"  median alpha JSD where all seeds agree {f(d['median_alpha_jsd_unanimous'])}, "
            f"where they do not {f(d['median_alpha_jsd_split'])}",
            f"  seconds: training {d['train_seconds']:.1f}, measuring {d['measure_seconds']:.1f}",
        ])  # fmt: skip


def run(
    recipe: Recipe, dataset: Dataset, seeds: Sequence[int], *, epochs: int | None = None,
    limit: int | None = SAMPLE_SIZE, sample_seed: int = 0,
    on_step: Callable[[int, StepEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SeedVariance:  # fmt: skip
    """Train the recipe once per seed, then measure the spreads over a stratified sample of at
    most `limit` test inputs and each seed's accuracy on the whole test split."""
    if len(dataset.test) == 0:
        raise SeedVarianceError(f"{dataset.name}: the test split is empty")
    start = time.perf_counter()
    models = train_seeds(recipe, dataset, seeds, epochs=epochs, on_step=on_step,
                         should_stop=should_stop)  # fmt: skip
    trained = time.perf_counter()
    test = models[0].tensors(dataset.test)
    sample = models[0].tensors(sample_split(dataset.test, limit, sample_seed))
    return SeedVariance(
        dataset=dataset.name, seeds=check_seeds(seeds), epochs=epochs or recipe.training.epochs,
        accuracies=tuple(evaluate(m, test)[1] for m in models), spreads=measure(models, sample),
        train_seconds=trained - start, measure_seconds=time.perf_counter() - trained,
        models=tuple(models),
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# One input


@dataclass(frozen=True)
class InputSpread:
    """One input across the seeds: each seed's α and p, and the spreads."""

    tokens: tuple[str, ...]  # (n,) the display tokens
    classes: tuple[str, ...]  # (C,)
    alpha: np.ndarray  # (k, n) each seed's α
    probs: np.ndarray  # (k, C) each seed's class probabilities
    spread: Spreads  # of this one input (length 1)

    @property
    def majority(self) -> str:
        return self.classes[int(self.spread.majority[0])]

    def percentile(self, sample: Spreads) -> float:
        """Share of the sample's inputs whose α spread is at most this input's."""
        return float((sample.alpha_jsd <= self.spread.alpha_jsd[0]).mean())


def input_spread(models: Sequence[Classifier], item: Any) -> InputSpread:
    """The spreads of one raw input (a text or a picture) across the seeds' models."""
    if len(models) < 2:
        raise SeedVarianceError("the spread needs at least two seeds' models")
    found = [m.explain(item) for m in models]
    n = len(found[0].tokens)
    stack = lambda name: torch.stack([getattr(e.trace, name)[0].float() for e in found])  # noqa: E731
    spread = spreads(stack("alpha")[:, None], stack("attn")[:, None], stack("probs")[:, None],
                     torch.ones(1, n, dtype=torch.bool))  # fmt: skip
    return InputSpread(tuple(found[0].tokens), tuple(found[0].classes),
                       stack("alpha").numpy(), stack("probs").numpy(), spread)  # fmt: skip


def answer(found: InputSpread, sample: Spreads | None = None) -> str:
    """Is this input's attention stable while its prediction is? In words, from the numbers."""
    s, k = found.spread, len(found.alpha)
    agree = round(float(s.agreement[0]) * k)
    votes = (tr("all {k} seeds predict {majority}", k=k, majority=found.majority) if agree == k
             else tr(
                 "{agree} of {k} seeds predict {majority}",
                 agree=agree, k=k, majority=found.majority,
             ))  # fmt: skip
    pred = tr(
        "{votes} (std of its p across seeds {p_std:.3f})", votes=votes, p_std=float(s.p_std[0])
    )
    alpha = (tr(
        "their α sit at Jensen–Shannon divergence {alpha_jsd:.3f} from the "
        "seeds' mean α ({value:.0%} of the largest, ln 2)",
        alpha_jsd=float(s.alpha_jsd[0]), value=float(s.alpha_jsd[0]) / LN2,
    ))  # fmt: skip
    if sample is None or len(sample) == 0:
        return f"{pred[0].upper()}{pred[1:]}; {alpha}."
    share = found.percentile(sample)
    steady = share <= 0.5
    inputs = tr("of the {sample} test inputs measured", sample=len(sample))
    where = (tr("steadier than {value:.0%} {inputs}", value=1 - share, inputs=inputs) if steady
             else tr("less steady than {share:.0%} {inputs}", share=share,
                     inputs=inputs))  # fmt: skip
    if agree < k:
        verdict = tr("No: the prediction itself changes with the seed")
    elif steady:
        verdict = tr(
            "Yes: the prediction is stable, and the attention moves less than for most inputs",
        )
    else:
        verdict = tr("The prediction is stable, but the attention moves more than for most inputs")
    return f"{verdict}. {pred[0].upper()}{pred[1:]}; {alpha}, {where}."
