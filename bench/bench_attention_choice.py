"""Choose a text checkpoint's settings on validation data: accuracy and whether attention decides.

Run: python bench/bench_attention_choice.py --dataset bbc-topics [--candidates ...]
Each candidate trains on the training split (validation picks the epoch, as the shipped
`python -m dense_attention train` does) and is scored on the validation split only: accuracy,
the mean attention-row entropy over log N (real query rows, `trace.attention_entropy`), and the
uniform-attention ablation (a_ij = 1/N: flip rate and mean |delta p| of the predicted class).
The test split is never touched. The frozen MiniLM features are computed once and kept in
--cache (a torch file under /tmp), so trying another candidate costs only its training.
A candidate "attends" when its validation numbers meet issue #13's criterion: flips >= 10% or
mean |delta p| >= 0.15, and entropy ratio <= 0.8.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_attention.core.config import TrainConfig  # noqa: E402
from dense_attention.core.trace import attention_entropy  # noqa: E402
from dense_attention.data.builtin import load_dataset  # noqa: E402
from dense_attention.data.dataset import Dataset  # noqa: E402
from dense_attention.explain.faithfulness import uniform_attention  # noqa: E402
from dense_attention.inputs.classifier import Classifier, build_classifier  # noqa: E402
from dense_attention.inputs.splits import TensorSplit  # noqa: E402
from dense_attention.inputs.text_encoder import TextConfig  # noqa: E402
from dense_attention.training.train import evaluate, train  # noqa: E402

SETUPS = {  # dataset: (max_len, TrainConfig fields) as in each shipped checkpoint's command
    "bbc-topics": (128, dict(epochs=15, patience=5, lr=3e-3, batch_size=64)),
    "tweet-sentiment": (64, dict(epochs=8, patience=3, lr=3e-3, batch_size=128)),
}
# name: build_classifier options (hidden_dim=64, activation="gelu" unless given); "train":
# TrainConfig fields beyond the dataset's
CANDIDATES: dict[str, dict] = {
    "shipped-cosine": dict(similarity="cosine"),
    "shipped-scaled_dot": dict(similarity="scaled_dot"),
    "none-cosine-t0.1": dict(similarity="cosine", temperature=0.1, skip="none"),
    "none-cosine-t0.05": dict(similarity="cosine", temperature=0.05, skip="none"),
    "none-cosine-t0.07": dict(similarity="cosine", temperature=0.07, skip="none"),
    "none-cosine-t0.05-d128": dict(
        similarity="cosine", temperature=0.05, skip="none", hidden_dim=128
    ),
    "none-cosine-t0.05-ls0.1": dict(
        similarity="cosine", temperature=0.05, skip="none", train={"label_smoothing": 0.1}
    ),
    "none-cosine-t0.07-ls0.1": dict(
        similarity="cosine", temperature=0.07, skip="none", train={"label_smoothing": 0.1}
    ),
    "none-cosine-t0.05-ls0.2": dict(
        similarity="cosine", temperature=0.05, skip="none", train={"label_smoothing": 0.2}
    ),
    "none-cosine-t0.05-d128-ls0.1": dict(
        similarity="cosine",
        temperature=0.05,
        skip="none",
        hidden_dim=128,
        train={"label_smoothing": 0.1},
    ),
    "none-cosine-t0.1-ls0.1": dict(
        similarity="cosine", temperature=0.1, skip="none", train={"label_smoothing": 0.1}
    ),
    "none-cosine-t0.05-drop0.2": dict(
        similarity="cosine", temperature=0.05, skip="none", dropout_h=0.2
    ),
    "none-cosine-t0.1-drop0.2-ls0.1": dict(
        similarity="cosine",
        temperature=0.1,
        skip="none",
        dropout_h=0.2,
        train={"label_smoothing": 0.1},
    ),
    "none-cosine-t0.03": dict(similarity="cosine", temperature=0.03, skip="none"),
    "none-cosine-t0.02": dict(similarity="cosine", temperature=0.02, skip="none"),
    "none-cosine-t0.05-mean": dict(
        similarity="cosine", temperature=0.05, skip="none", pooling="mean"
    ),
    "none-scaled_dot": dict(similarity="scaled_dot", skip="none"),
    "none-scaled_dot-t0.25": dict(similarity="scaled_dot", temperature=0.25, skip="none"),
    "none-dot": dict(similarity="dot", skip="none"),
    "none-cosine-t0.1-mean": dict(
        similarity="cosine", temperature=0.1, skip="none", pooling="mean"
    ),
}


def features(ds: Dataset, max_len: int, cache: Path) -> list[TensorSplit]:
    """train, val (and test, never scored here) as tensors, frozen MiniLM features cached."""
    if cache.is_file():
        return [TensorSplit(tuple(inputs), labels) for inputs, labels in torch.load(cache)]
    model = build_classifier(ds, text=TextConfig("minilm_contextual", max_len))
    splits = [model.tensors(s) for s in (ds.train, ds.val, ds.test)]
    torch.save([(list(s.inputs), s.labels) for s in splits], cache)
    return splits


@torch.no_grad()
def attention_numbers(model: Classifier, split: TensorSplit, batch: int = 128) -> dict:
    """Validation accuracy, mean entropy / log N and the uniform-attention ablation."""
    model.eval()
    ratios, flips, deltas, correct = [], [], [], 0
    for start in range(0, len(split), batch):
        part = split.take(slice(start, start + batch))
        t = model.trace(*part.inputs)
        mask = t.mask
        pred = t.probs.argmax(-1)
        u = model.trace(*part.inputs, attn_override=uniform_attention(mask)).probs
        p0, p1 = t.probs.gather(1, pred[:, None])[:, 0], u.gather(1, pred[:, None])[:, 0]
        flips += (u.argmax(-1) != pred).tolist()
        deltas += (p1 - p0).abs().tolist()
        correct += int((pred == part.labels).sum())
        entropy, n = attention_entropy(t.attn, mask), mask.sum(1).numpy()
        for b in np.flatnonzero(n > 1):
            ratios.append(entropy[b][mask[b].numpy()].mean() / np.log(n[b]))
    return dict(val_acc=correct / len(split), entropy_ratio=float(np.mean(ratios)),
                flip=float(np.mean(flips)), abs_dp=float(np.mean(deltas)))  # fmt: skip


def run(ds: Dataset, splits: list[TensorSplit], max_len: int, fields: dict, options: dict):
    torch.manual_seed(0)
    text = TextConfig("minilm_contextual", max_len)
    options = {"hidden_dim": 64, "activation": "gelu", **options}
    fields = {**fields, **options.pop("train", {})}
    model = build_classifier(ds, text=text, **options)
    result = train(model, splits[0], splits[1], TrainConfig(seed=0, **fields))
    numbers = attention_numbers(model, splits[1])
    numbers["best_epoch"], numbers["val_loss"] = result.best_epoch, evaluate(model, splits[1])[0]
    numbers["attends"] = numbers["entropy_ratio"] <= 0.8 and (
        numbers["flip"] >= 0.1 or numbers["abs_dp"] >= 0.15
    )
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=SETUPS, required=True)
    parser.add_argument("--candidates", nargs="+", choices=CANDIDATES, default=list(CANDIDATES))
    parser.add_argument("--cache", type=Path, default=None, help="default /tmp/dal-<dataset>.pt")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    max_len, fields = SETUPS[args.dataset]
    ds = load_dataset(args.dataset)
    start = time.perf_counter()
    splits = features(ds, max_len, args.cache or Path(f"/tmp/dal-{args.dataset}.pt"))
    print(f"{args.dataset}: features in {time.perf_counter() - start:.0f} s", flush=True)
    for name in args.candidates:
        start = time.perf_counter()
        n = run(ds, splits, max_len, fields, CANDIDATES[name])
        seconds = time.perf_counter() - start
        print(f"{name:<24} val_acc {n['val_acc']:.4f}  entropy/logN {n['entropy_ratio']:.3f}  "
              f"uniform flips {n['flip']:.3f} |dp| {n['abs_dp']:.3f}  attends {n['attends']}  "
              f"val_loss {n['val_loss']:.3f}  epoch {n['best_epoch']}  {seconds:.0f} s",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
