"""Is an input like the data a model was trained on? Its top probability against the 5th
percentile of held-out examples' (stored in metrics.json), and the caution worded from them."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.i18n import tr
from ..data.builtin import DATASETS, load_dataset
from ..data.dataset import DataError, Dataset
from ..inputs.classifier import Classifier
from ..inputs.splits import TensorSplit
from ..storage import checkpoint

__all__ = [
    "KEY",
    "PERCENTILE",
    "Familiarity",
    "calibrate",
    "calibrate_checkpoint",
    "calibrate_tensors",
    "caution",
    "from_metrics",
    "max_probabilities",
    "top_probability",
]

KEY = "familiarity"  # its field in metrics.json (and in a trained model's metadata)
PERCENTILE = 5.0  # an input less sure than this share of held-out examples gets the caution
HALF_SEED = 0  # the permutation that halves the test split of a model refit on train + val


@dataclass(frozen=True)
class Familiarity:
    """How sure a model is of held-out examples: the floor under which an input is unusual."""

    floor: float  # the PERCENTILE-th percentile of the top probability over `split`
    percentile: float
    split: str  # the held-out examples it was measured on, in words ("validation split", ...)
    examples: int  # how many
    dataset: str
    test_share: float | None  # share of other held-out examples (test) under the floor
    test_examples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_metrics(metrics: Any) -> Familiarity | None:
    """The Familiarity stored under KEY in a metrics.json or metadata dict; None when absent or
    malformed."""
    block = metrics.get(KEY) if isinstance(metrics, dict) else None
    if not isinstance(block, dict):
        return None
    try:
        found = Familiarity(**block)
    except TypeError:
        return None
    ok = isinstance(found.floor, (int, float)) and 0.0 <= found.floor <= 1.0
    return found if ok else None


@torch.no_grad()
def max_probabilities(model: Classifier, split: TensorSplit, batch_size: int = 256) -> np.ndarray:
    """The top class probability (n,) of every example of `split`, under the trained settings."""
    was_training, device = model.training, next(model.parameters()).device
    model.eval()
    found = []
    for start in range(0, len(split), batch_size):
        part = split.take(slice(start, start + batch_size)).to(device)
        found.append(model(*part.inputs).float().softmax(-1).amax(-1).cpu())
    model.train(was_training)
    return torch.cat(found).numpy() if found else np.zeros(0, dtype=np.float32)


def calibrate_tensors(
    model: Classifier,
    held_out: TensorSplit,
    dataset: str,
    split: str = "validation split",
    test: TensorSplit | None = None,
) -> Familiarity | None:
    """The floor from `held_out` (examples the model was not fit on), and the share of `test`
    under it. None without held-out examples."""
    if len(held_out) == 0:
        return None
    floor = float(np.percentile(max_probabilities(model, held_out), PERCENTILE))
    share, n_test = None, 0
    if test is not None and len(test):
        share, n_test = float(np.mean(max_probabilities(model, test) < floor)), len(test)
    return Familiarity(round(floor, 4), PERCENTILE, split, len(held_out), dataset,
                       None if share is None else round(share, 4), n_test)  # fmt: skip


def _halves(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(HALF_SEED))
    return order[::2], order[1::2]


def calibrate(model: Classifier, ds: Dataset, fit_on: str = "train") -> Familiarity | None:
    """The model's Familiarity on `ds`: the floor from its validation split, and the test share
    under it. A model refit on train + val saw the validation split (more sure of it than of new
    data): its floor comes from half the test split, the share from the other half."""
    test = model.tensors(ds.test)
    if fit_on != "train+val":
        return calibrate_tensors(model, model.tensors(ds.val), ds.name, test=test)
    first, second = _halves(len(test))
    split = tr("half of the test split (the model was fit on train + validation)")
    return calibrate_tensors(model, test.take(first), ds.name, split, test.take(second))


def calibrate_checkpoint(folder: str | Path) -> Familiarity | None:
    """Familiarity of a checkpoint folder trained on a built-in dataset (its metadata names it,
    its metrics.json says what it was fit on); None for another dataset."""
    folder = Path(folder)
    meta = checkpoint.read_metadata(folder)
    metrics = _metrics(folder)
    if meta.get("dataset") not in DATASETS:
        return None
    ds = load_dataset(meta["dataset"], seed=meta.get("split_seed", 0), limit=meta.get("limit"))
    model = checkpoint.load(folder)
    return calibrate(model, ds, metrics.get("fit_on", "train"))


def _metrics(folder: Path) -> dict[str, Any]:
    try:
        found = json.loads((folder / checkpoint.METRICS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


@torch.no_grad()
def top_probability(model: Classifier, item: Any) -> float:
    """The top class probability of one raw input (a text or an image), trained settings."""
    device = next(model.parameters()).device
    inputs = [t.to(device) for t in model.prepare([item])]
    return float(model(*inputs).float().softmax(-1).amax())


def caution(
    p: float, familiarity: Familiarity | None, kind: str, settings_changed: bool = False
) -> str | None:
    """The words beside a prediction whose top probability `p` (under the trained settings, as
    the floor was measured) is under the floor; None when it is not, or without a floor.
    `settings_changed`: the page shows the prediction under other settings (say so)."""
    if familiarity is None or not math.isfinite(p) or p >= familiarity.floor:
        return None
    noun = "text" if kind == "text" else "picture"
    share = 100 - familiarity.percentile
    how = tr(" with its trained settings") if settings_changed else ""
    return tr(
        "This {noun} may be unlike the {dataset} data the model was trained on: "
        "it is {p:.1%} sure of its top class{how}, less than for {share:.0f}% of "
        "{examples} held-out {dataset} examples (their {percentile:.0f}th "
        "percentile is {floor:.1%}). Read the prediction with caution.",
        noun=noun,
        dataset=familiarity.dataset,
        p=p,
        how=how,
        share=share,
        examples=familiarity.examples,
        percentile=familiarity.percentile,
        floor=familiarity.floor,
    )


def _write(folder: Path) -> str:
    found = calibrate_checkpoint(folder)
    if found is None:
        return f"{folder}: not a built-in dataset's checkpoint, left as it is"
    metrics = {**_metrics(folder), KEY: found.to_dict()}
    data = json.dumps(metrics, indent=2).encode()  # as the CLI writes it
    checkpoint.write_atomic(folder / checkpoint.METRICS_FILE, data)
    share = "n/a" if found.test_share is None else f"{found.test_share:.1%}"
    return (
        f"{folder}: floor {found.floor:.4f} from {found.examples} examples ({found.split}); "
        f"{share} of {found.test_examples} test examples under it"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m dense_attention.explain.familiarity FOLDER...`: measure each checkpoint's
    Familiarity and store it in its metrics.json."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("folders", nargs="+", type=Path, help="checkpoint folders")
    args = parser.parse_args(argv)
    for folder in args.folders:
        try:
            print(_write(folder))
        except (OSError, DataError, checkpoint.CheckpointError) as err:
            print(f"{folder}: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
