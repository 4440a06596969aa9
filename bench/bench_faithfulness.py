"""Time the faithfulness analysis of one 128-token sentence on the bbc-topics checkpoint (CPU).

Run: python bench/bench_faithfulness.py [--repeats 10] [--threads N] [--ig-steps 32]
Prints the median seconds per input of everything `faithfulness.analyze` does (seven ablations,
knock-outs, five importance methods with Integrated Gradients, Kendall tau, deletion curves),
with and without the frozen MiniLM features the text needs first. Target: under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dense_attention.explain.faithfulness import analyze, analyze_features  # noqa: E402
from dense_attention.storage import checkpoint  # noqa: E402

SENTENCE = (
    "The government announced new economic plans for the technology industry today, "
    "and shares in telecoms firms rose sharply as investors cheered the news. "
) * 8


def median_s(fn, repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--ig-steps", type=int, default=32)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = checkpoint.load(ROOT / "assets" / "checkpoints" / "bbc-topics").eval()
    batch = model.encoder.tokenize([SENTENCE])
    n = int(batch.mask.sum())
    with torch.no_grad():
        x, mask = model.features(batch.ids, batch.mask)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} tokens={n} "
          f"ig_steps={args.ig_steps} repeats={args.repeats}")  # fmt: skip
    whole = median_s(lambda: analyze(model, SENTENCE, ig_steps=args.ig_steps), args.repeats)
    core = median_s(lambda: analyze_features(model.core, x, mask, ig_steps=args.ig_steps),
                    args.repeats)  # fmt: skip
    print(f"analyze (MiniLM features + everything): median {whole:.3f} s per input")
    print(f"analyze_features (features given):      median {core:.3f} s per input")
    print(f"target < 1 s: {'met' if whole < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
