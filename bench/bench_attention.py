"""Time DenseAttention.forward and .trace against scaled_dot_product_attention on the same h.

Run: python bench/bench_attention.py [--device cpu|cuda] [--repeats 20] [--threads N]
Prints median milliseconds and ratios to the SDPA baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_attention import DenseAttention, ModelConfig  # noqa: E402


def median_ms(fn, device: str, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev, B, d = args.device, args.batch, args.hidden
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=d, hidden_dim=d, num_classes=4)).to(dev).eval()
    print(f"device={dev} torch={torch.__version__} threads={torch.get_num_threads()} B={B} d={d}")
    print(f"{'N':>5} {'sdpa ms':>9} {'forward ms':>11} {'trace ms':>9} {'fwd/sdpa':>9} "
          f"{'trace/sdpa':>11} {'fwd+pad/sdpa':>13}")  # fmt: skip
    with torch.inference_mode():
        for n in (16, 64, 256, 1024):
            x = torch.randn(B, n, d, device=dev)
            pad = torch.ones(B, n, dtype=torch.bool, device=dev)
            pad[::2, n * 3 // 4 :] = False  # half the batch padded by a quarter
            h = model.project(x)
            scale = 1 / d**0.5
            sdpa = median_ms(
                lambda h=h, s=scale: F.scaled_dot_product_attention(h, h, h, scale=s),
                dev,
                args.repeats,
            )
            fwd = median_ms(lambda x=x: model(x), dev, args.repeats)
            fwd_pad = median_ms(lambda x=x, m=pad: model(x, m), dev, args.repeats)
            trc = median_ms(lambda x=x: model.trace(x), dev, max(3, args.repeats // 4))
            print(f"{n:>5} {sdpa:>9.3f} {fwd:>11.3f} {trc:>9.3f} {fwd / sdpa:>9.2f} "
                  f"{trc / sdpa:>11.2f} {fwd_pad / sdpa:>13.2f}")  # fmt: skip
        x1 = torch.randn(1, 64, d, device=dev)
        one = median_ms(lambda: model.trace(x1), dev, 50)
        print(f"trace of one 64-token example: {one:.3f} ms")


if __name__ == "__main__":
    main()
