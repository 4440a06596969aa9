"""Cross-validation on digits' train + val: how the shipped digits checkpoint was chosen.

Run: python bench/bench_cv.py [--folds 5] [--epochs 60] [--candidates base smooth-0.05 ...]
The test split is never touched. Each candidate trains on k-1 folds of train + val for all
epochs, keeping the last (as `python -m dense_attention train --refit` does), and is scored on
the held-out fold. Logistic regression on raw pixels, fit on the same folds in the same run, is
the baseline. The winner is then refit on all of train + val and tested once (see metrics.json).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_attention.core.config import TrainConfig  # noqa: E402
from dense_attention.core.seeding import init_parameters  # noqa: E402
from dense_attention.data.baselines import baseline_accuracy  # noqa: E402
from dense_attention.data.builtin import load_dataset  # noqa: E402
from dense_attention.data.dataset import Dataset, Split  # noqa: E402
from dense_attention.inputs.classifier import build_classifier  # noqa: E402
from dense_attention.inputs.image_encoder import ImageConfig  # noqa: E402
from dense_attention.training.train import evaluate, train  # noqa: E402

BASE = dict(hidden_dim=256, activation="gelu", image=ImageConfig(8, 1, 4, 32))
CANDIDATES: dict[str, tuple[dict, dict]] = {  # name: (build_classifier options, TrainConfig fields)
    "base": (BASE, {}),  # the previous digits checkpoint's settings
    "patch-2": ({**BASE, "image": ImageConfig(8, 1, 2, 32)}, {}),
    "hidden-128": ({**BASE, "hidden_dim": 128}, {}),
    "dropout-h-0.1": ({**BASE, "dropout_h": 0.1}, {}),
    "smooth-0.05": (BASE, {"label_smoothing": 0.05}),
    "smooth-0.1": (BASE, {"label_smoothing": 0.1}),
    "smooth-0.2": (BASE, {"label_smoothing": 0.2}),
}


def fold_score(ds: Dataset, fit: Split, held: Split, options: dict, fields: dict, epochs: int):
    """Correct predictions on `held` of a model trained on `fit` (all epochs, last kept)."""
    model = init_parameters(build_classifier(replace(ds, train=fit), **options), seed=0)
    cfg = TrainConfig(epochs=epochs, batch_size=32, lr=1e-2, seed=0, probes=0, keep="last",
                      **fields)  # fmt: skip
    held_tensors = model.tensors(held)
    train(model, model.tensors(fit), held_tensors.take(slice(0, 8)), cfg)
    return round(evaluate(model, held_tensors)[1] * len(held))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--candidates", nargs="+", choices=CANDIDATES, default=list(CANDIDATES))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_dataset("digits")
    pool = ds.train_and_val()
    items, labels = np.asarray(pool.items), pool.labels
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=0).split(items, labels)
    parts = [(Split(items[a], labels[a]), Split(items[b], labels[b])) for a, b in folds]
    print(f"{args.folds}-fold CV on digits train + val ({len(pool)} images), {args.epochs} epochs")
    none = Split(items[:0], labels[:0])  # baseline_accuracy fits on train + val: val is empty
    baseline = sum(
        round(baseline_accuracy(replace(ds, train=f, val=none, test=h)) * len(h)) for f, h in parts
    )
    print(f"{'logistic regression':<16} {baseline / len(pool):.4f}  ({baseline}/{len(pool)})")
    for name in args.candidates:
        options, fields = CANDIDATES[name]
        start = time.perf_counter()
        correct = [fold_score(ds, f, h, options, fields, args.epochs) for f, h in parts]
        seconds, total = time.perf_counter() - start, sum(correct)
        print(f"{name:<16} {total / len(pool):.4f}  ({total}/{len(pool)}; folds {correct}; "
              f"{seconds:.0f} s; ratio to baseline {total / baseline:.3f})",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
