"""A dataset-level faithfulness study: `analyze_features` over a stratified sample of a split,
and the means over its examples (flip rates, |delta p|, Kendall tau, AOPC) that the CLI prints and
writes into a checkpoint's metrics.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..data.dataset import Split
from ..inputs.classifier import Classifier
from .faithfulness import (
    ABLATIONS,
    Faithfulness,
    FaithfulnessError,
    TrainingMeans,
    analyze_features,
    sample_split,
)


def study(
    classifier: Classifier, split: Split, means: TrainingMeans | None, limit: int | None = None,
    seed: int = 0, on_example: Callable[[int, int], None] | None = None, **options: Any,
) -> list[Faithfulness]:  # fmt: skip
    """`analyze_features` of each example of a stratified sample of at most `limit` of split;
    on_example(done, total) after each (a progress bar)."""
    sample = sample_split(split, limit, seed)
    tensors = classifier.tensors(sample)  # frozen MiniLM features computed once, in batches
    device = next(classifier.parameters()).device
    grid = classifier.config.image.grid if classifier.config.kind == "image" else None
    results = []
    for i in range(len(tensors)):
        with torch.no_grad():
            x, mask = classifier.features(*tensors.take(slice(i, i + 1)).to(device).inputs)
        core, classes = classifier.core, classifier.classes
        results.append(analyze_features(core, x, mask, means, None, classes, grid, seed=seed,
                                        **options))  # fmt: skip
        if on_example:
            on_example(i + 1, len(tensors))
    return results


@dataclass(frozen=True)
class StudySummary:
    """Dataset-level means over E examples of `study`."""

    examples: int  # E
    flip_rate: dict[str, float]  # ablation -> mean flip rate (permuted: over its draws too)
    mean_abs_delta: dict[str, float]  # ablation -> mean |delta p|
    kendall: dict[str, float | None]  # "a~b" -> mean tau over the examples where it is defined
    kendall_defined: dict[str, int]  # "a~b" -> examples where it is defined
    aopc: dict[str, float]  # METHODS and RANDOM -> mean AOPC
    ig_abs_delta: float  # mean |IG convergence delta|
    # mean of the examples' entropy_ratio (mean row entropy / ln N; 1 = uniform attention) over
    # the examples with N >= 2; None when there are none
    entropy_ratio: float | None = None

    def to_dict(self) -> dict[str, Any]:
        r = lambda v: None if v is None else round(float(v), 4)  # noqa: E731
        return {"examples": self.examples,
                "flip_rate": {k: r(v) for k, v in self.flip_rate.items()},
                "mean_abs_delta": {k: r(v) for k, v in self.mean_abs_delta.items()},
                "kendall": {k: r(v) for k, v in self.kendall.items()},
                "kendall_defined": dict(self.kendall_defined),
                "aopc": {k: r(v) for k, v in self.aopc.items()},
                "ig_abs_delta": r(self.ig_abs_delta),
                "entropy_ratio": r(self.entropy_ratio)}  # fmt: skip

    def table(self) -> pd.DataFrame:
        """One row per ablation, method pair and method: section, name and its numbers."""
        rows = [
            {
                "section": "ablation",
                "name": k,
                "flip_rate": v,
                "mean_abs_dp": self.mean_abs_delta[k],
            }
            for k, v in self.flip_rate.items()
        ]
        rows += [
            {"section": "kendall", "name": k, "kendall_tau": v, "defined": self.kendall_defined[k]}
            for k, v in self.kendall.items()
        ]
        rows += [{"section": "aopc", "name": k, "aopc": v} for k, v in self.aopc.items()]
        columns = ["section", "name", "flip_rate", "mean_abs_dp", "kendall_tau", "defined", "aopc"]
        return pd.DataFrame(rows, columns=columns).astype({"defined": "Int64"})  # fmt: skip


def summarize(results: list[Faithfulness]) -> StudySummary:
    """Means over the examples of `study`: flip rates, |delta p|, Kendall tau and AOPC."""
    if not results:
        raise FaithfulnessError("no examples to summarise")
    names = [n for n in ABLATIONS if n in results[0].ablations]
    pairs = {f"{a}~{b}": (a, b) for a, b in results[0].kendall}
    taus = {
        k: [r.kendall[p] for r in results if r.kendall[p] is not None] for k, p in pairs.items()
    }
    return StudySummary(
        examples=len(results),
        flip_rate={n: float(np.mean([r.ablations[n].flip_rate for r in results])) for n in names},
        mean_abs_delta={n: float(np.mean([r.ablations[n].abs_delta for r in results]))
                        for n in names},
        kendall={k: float(np.mean(v)) if v else None for k, v in taus.items()},
        kendall_defined={k: len(v) for k, v in taus.items()},
        aopc={m: float(np.mean([r.deletion[m].aopc for r in results]))
              for m in results[0].deletion},
        ig_abs_delta=float(np.mean([abs(r.ig_delta) for r in results])),
        entropy_ratio=_mean_defined([r.entropy_ratio for r in results]),
    )  # fmt: skip


def _mean_defined(values: list[float]) -> float | None:
    """Mean of the values that are not NaN; None when every one is."""
    defined = [v for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else None
