"""Training digits in the app's worker against the CLI, same recipe and the same epochs.

    python bench/bench_app_train.py [--epochs 20] [--repeats 3] [--same-priority]

Both train the shipped digits recipe (`train --dataset digits`, cli.arguments.train_recipe)
for --epochs with early stopping off (patience = epochs), no baseline. The CLI runs as
`python -m dense_attention train ...` in a subprocess; the app's run is `jobs.train_job` on a
warm local worker (as the Train page's Start: its messages followed by the job's thread, its
snapshots and probes), timed from submit to the published result. Prints, per repeat, the
training loop's own seconds (metrics' train_seconds / TrainedModel.seconds) and the wall time
of each, their ratios, and the load average before and after: the machine is shared, so read
the spread. The app's worker runs at executor.WORKER_NICENESS and one torch thread; under load
its share of the CPUs shrinks: --same-priority runs the CLI at that niceness too, so the
ratio compares the work rather than the scheduler's shares.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from dense_attention.cli import parser  # noqa: E402
from dense_attention.core.config import TrainConfig  # noqa: E402
from dense_attention.inputs.image_encoder import ImageConfig  # noqa: E402
from dense_attention.server import executor, jobs, work  # noqa: E402


def cli_argv(epochs: int, out: Path) -> list[str]:
    return ["train", "--dataset", "digits", "--epochs", str(epochs), "--patience", str(epochs),
            "--no-baseline", "--out", str(out)]  # fmt: skip


def app_request(epochs: int) -> work.TrainRequest:
    """What the Train page sends for the same command line (its widgets start from it)."""
    a = parser("digits").parse_args(cli_argv(epochs, Path("-")))
    options = dict(
        hidden_dim=a.hidden, similarity=a.similarity, temperature=a.temperature,
        activation=a.activation, pooling=a.pooling, pool_activation=a.pool_activation,
        skip=a.skip, sequence_encoder=a.sequence_encoder, dropout_h=a.dropout_h,
        dropout_attn=a.dropout_attn, exclude_self=a.exclude_self, heads=a.heads,
        image=ImageConfig(8, 1, a.patch, a.pos_dim),
    )  # fmt: skip
    config = TrainConfig(
        epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, weight_decay=a.weight_decay,
        patience=a.patience, seed=a.seed, label_smoothing=a.label_smoothing,
        keep="last" if a.refit else "best",
    )  # fmt: skip
    return work.TrainRequest(work.DataChoice("digits", refit=a.refit), options, config, False)


def run_cli(epochs: int, niceness: int = 0) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        command = [sys.executable, "-m", "dense_attention", *cli_argv(epochs, Path(tmp))]
        nice = ["nice", "-n", str(niceness)] if niceness else []
        subprocess.run([*nice, *command], cwd=ROOT, check=True, capture_output=True)
        wall = time.perf_counter() - start
        seconds = json.loads((Path(tmp) / "metrics.json").read_text())["train_seconds"]
    return seconds, wall


def run_app(pool: executor.LocalProcesses, epochs: int) -> tuple[float, float]:
    start = time.perf_counter()
    job = jobs.train_job(app_request(epochs), runner=pool)
    while job.result is None and not job.finished:
        time.sleep(0.01)
    wall = time.perf_counter() - start
    job.join(120)
    assert job.error is None, job.error
    return job.result.seconds, wall


def main() -> None:
    parser_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser_.add_argument("--epochs", type=int, default=20)
    parser_.add_argument("--repeats", type=int, default=3)
    parser_.add_argument("--same-priority", action="store_true", help="the CLI niced as a worker")
    args = parser_.parse_args()
    niceness = executor.WORKER_NICENESS if args.same_priority else 0
    pool = executor.LocalProcesses(keep=1)
    pool.warm(("dense_attention.server.work",))
    run_app(pool, 1)  # the worker is warm, as in the app after its first job
    print(f"load average before: {os.getloadavg()}")
    rows = []
    for k in range(args.repeats):
        cli, app = run_cli(args.epochs, niceness), run_app(pool, args.epochs)
        rows.append((cli, app))
        print(f"repeat {k + 1}: CLI train {cli[0]:.2f} s (wall {cli[1]:.2f} s), app train "
              f"{app[0]:.2f} s (to result {app[1]:.2f} s): ratio {app[0] / cli[0]:.2f} "
              f"(train loop), {app[1] / cli[1]:.2f} (wall)", flush=True)  # fmt: skip
    ratios = [a[0] / c[0] for c, a in rows]
    print(f"train-loop ratio app/CLI: median {statistics.median(ratios):.2f}, "
          f"range {min(ratios):.2f}-{max(ratios):.2f} over {len(rows)} repeats")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")
    pool.close()


if __name__ == "__main__":
    main()
