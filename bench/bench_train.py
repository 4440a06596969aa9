"""Training throughput and time-to-accuracy on digits, with the logistic-regression baseline.

Run: python bench/bench_train.py [--device cpu|cuda] [--target 0.95] [--threads N]
Prints examples/s, seconds until the validation accuracy first reaches the target, the test
accuracy against the baseline fit on the same split in the same run, and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_attention.core.config import TrainConfig  # noqa: E402
from dense_attention.core.seeding import init_parameters  # noqa: E402
from dense_attention.data.baselines import baseline_accuracy  # noqa: E402
from dense_attention.data.builtin import load_dataset  # noqa: E402
from dense_attention.inputs.classifier import build_classifier  # noqa: E402
from dense_attention.inputs.image_encoder import ImageConfig  # noqa: E402
from dense_attention.training.train import evaluate, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--target", type=float, default=0.97, help="validation accuracy")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_dataset("digits")
    start = time.perf_counter()
    baseline = baseline_accuracy(ds)
    baseline_s = time.perf_counter() - start
    model = build_classifier(ds, 256, image=ImageConfig(8, 1, 4, 32), activation="gelu")
    init_parameters(model, seed=0)
    splits = [model.tensors(s) for s in (ds.train, ds.val, ds.test)]
    reached: list[float] = []

    def on_step(event) -> None:
        if event.record and event.record.val_accuracy >= args.target and not reached:
            reached.append(event.record.seconds)

    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=1e-2, patience=1000,
                      device=args.device, probes=0)  # fmt: skip
    result = train(model, splits[0], splits[1], cfg, on_step=on_step)
    test_acc = evaluate(model, splits[2])[1]
    examples = len(splits[0]) * len(result.history)
    print(f"device={result.device} torch={torch.__version__} threads={torch.get_num_threads()}")
    print(f"train examples/s          {examples / result.seconds:10.0f}")
    print(f"seconds, {len(result.history)} epochs        {result.seconds:10.2f}")
    hit = f"{reached[0]:.2f}" if reached else "never"
    print(f"seconds to val acc {args.target:.2f}   {hit:>10}")
    print(f"test accuracy             {test_acc:10.4f}")
    print(f"baseline (LR on pixels)   {baseline:10.4f}   ({baseline_s:.1f} s to fit)")
    print(f"accuracy ratio to baseline {test_acc / baseline:9.3f}")


if __name__ == "__main__":
    main()
