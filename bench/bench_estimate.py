"""The train page's time estimate against the measured run, on digits and on a 60-row CSV.

    python bench/bench_estimate.py [--repeats 2]

Each case runs what the page runs, in one process with one torch thread (as a warm training
worker does): `estimate.estimate_training` (the "Estimate the time" button), then
`work.train_work` (Start) with a reporter that records nothing, timed from its first line to
the moment it publishes its result (reading the data, encoding, every epoch, the test split;
the baseline comes after). Early stopping is off (patience = epochs): the estimate is for all
epochs. Prints the estimate, the measured time and their ratio; it should be within a factor
of 2. The machine's load shows in both: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_attention.core.config import TrainConfig  # noqa: E402
from dense_attention.data.uploads import from_csv  # noqa: E402
from dense_attention.inputs.image_encoder import ImageConfig  # noqa: E402
from dense_attention.inputs.text_encoder import TextConfig  # noqa: E402
from dense_attention.server import executor, work  # noqa: E402
from dense_attention.training.estimate import estimate_training  # noqa: E402

WORDS = {
    "sport": "match goal team win league coach player season cup score",
    "money": "market shares bank profit price trade stock investor growth rate",
    "tech": "phone software chip internet computer data users network app device",
}


class Quiet(executor.Reporter):
    """A reporter that sends nothing, notes when the result was published, and never stops."""

    def __init__(self) -> None:
        super().__init__(lambda message: None, lambda: False)
        self.published_at: float | None = None

    def publish(self, result) -> None:
        self.published_at = time.perf_counter()
        super().publish(result)


def csv_60_rows() -> bytes:
    """60 short labelled sentences, 20 per class, seeded."""
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for label, words in WORDS.items():
        vocab = words.split()
        for _ in range(20):
            rows.append(" ".join(rng.choice(vocab, size=int(rng.integers(6, 14)))) + f",{label}")
    return "\n".join(rows).encode()


def page_config() -> TrainConfig:
    """The train page's text defaults (40 epochs, batch 32), without early stopping."""
    return TrainConfig(epochs=40, batch_size=32, lr=3e-3, patience=40)


def cases() -> dict[str, work.TrainRequest]:
    text = {"text": TextConfig("learned", 128, 32, 16), "hidden_dim": 64}
    image = {"image": ImageConfig(8, 1, 4, 32), "hidden_dim": 256}
    upload = from_csv(csv_60_rows(), name="bench-60-rows")
    digits = work.DataChoice("digits")
    return {
        "digits": work.TrainRequest(digits, image, TrainConfig(epochs=40, batch_size=32, lr=1e-2,
                                                               patience=40)),
        "csv-60-rows": work.TrainRequest(work.DataChoice(upload.name, uploaded=upload), text,
                                         page_config()),
    }  # fmt: skip


def measure(request: work.TrainRequest) -> tuple[float, float, int]:
    """(estimated seconds, measured seconds, epochs run) of one request."""
    found = estimate_training(request.data.load(), request.model_options, request.train_config)
    start, reporter = time.perf_counter(), Quiet()
    trained = work.train_work(request, reporter)
    return found.seconds, reporter.published_at - start, len(trained.history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    measure(cases()["csv-60-rows"])  # warm-up: imports, first allocations
    for name, request in cases().items():
        runs = [measure(request) for _ in range(args.repeats)]
        est = statistics.median(r[0] for r in runs)
        real = statistics.median(r[1] for r in runs)
        epochs = runs[0][2]
        print(f"{name}: estimate {est:.2f} s, measured {real:.2f} s ({epochs} epochs run of "
              f"{request.train_config.epochs}), estimate / measured {est / real:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
