"""Time the adversarial-attention search of one 128-token sentence on the bbc-topics checkpoint.

Run: python bench/bench_adversarial.py [--repeats 5] [--threads 1]
Prints the median seconds of `adversarial.search` (MiniLM features given) and of the page's
other analyses of the same input (`faithfulness.analyze_features`: ablations, importances,
deletion curves, ERASER), and their ratio. Target: search under 3 s on a CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# the same 128-token sentence and timing as bench_faithfulness (bench/ is this script's path)
from bench_faithfulness import SENTENCE, median_s  # noqa: E402

from dense_attention.explain.adversarial import search  # noqa: E402
from dense_attention.explain.faithfulness import analyze_features  # noqa: E402
from dense_attention.storage import checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = checkpoint.load(ROOT / "assets" / "checkpoints" / "bbc-topics").eval()
    batch = model.encoder.tokenize([SENTENCE])
    with torch.no_grad():
        x, mask = model.features(batch.ids, batch.mask)
    x = x[:, mask[0]]
    found = search(model.core, x)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} tokens={x.shape[1]} "
          f"repeats={args.repeats} jsd={found.jsd:.3f} tv={found.tv:.4f}")  # fmt: skip
    adversarial = median_s(lambda: search(model.core, x), args.repeats)
    others = median_s(lambda: analyze_features(model.core, x), args.repeats)
    print(f"adversarial search:            median {adversarial:.3f} s per input")
    print(f"the page's other analyses:     median {others:.3f} s per input")
    print(f"ratio search / other analyses: {adversarial / others:.2f}")
    print(f"target < 3 s: {'met' if adversarial < 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
