"""What a worker process costs: the spawn start (a fresh interpreter importing torch and the
library) against a job on a reused worker, and the memory a worker holds.

Run: python bench/bench_workers.py [--repeats 3]
Prints, for a small digits training job (300 examples, 1 epoch): seconds from submit to its
first message and to its outcome, on a freshly spawned worker and on a warm (reused) one, and
the resident memory (RSS) of a worker after the job.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_attention.core.config import TrainConfig  # noqa: E402
from dense_attention.server import executor, messages, work

REQUEST = work.TrainRequest(
    work.DataChoice("digits", limit=300), {"hidden_dim": 16},
    TrainConfig(epochs=1, batch_size=32), baseline=False,
)  # fmt: skip


def timed_job(pool: executor.LocalProcesses) -> tuple[float, float, int]:
    """Seconds to the first message, seconds to the outcome, and the worker's pid."""
    start = time.perf_counter()
    run = pool.submit(work.train_work, REQUEST)
    first, outcome = None, None
    while outcome is None:
        for message in run.poll(0.01):
            first = first or time.perf_counter() - start
            if messages.is_outcome(message):
                assert not isinstance(message, messages.Failed), message
                outcome = time.perf_counter() - start
    return first, outcome, run.pid


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.repeats):
        pool = executor.LocalProcesses(keep=1)
        cold.append(timed_job(pool))
        warm.append(timed_job(pool))
        rss = rss_mib(warm[-1][2])
        pool.close()
    for name, runs in (("spawned worker", cold), ("reused worker", warm)):
        first = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        print(
            f"{name}: first message {first:.2f} s, job done {total:.2f} s (median of {len(runs)})"
        )
    spawn = statistics.median(c[0] - w[0] for c, w in zip(cold, warm, strict=True))
    print(f"spawn start cost (difference of the first messages): {spawn:.2f} s")
    print(f"worker RSS after a job: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
