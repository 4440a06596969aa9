"""distributed: torchrun's environment, and `torchrun ... -m dense_attention train` against one
process with the same global batch."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dense_attention.core.config import ConfigError
from dense_attention.training.distributed import (
    Launch,
    first_reason,
    launch_from_env,
    process_group,
    sum_across,
    world,
)

ROOT = Path(__file__).resolve().parents[1]
# What two workers may differ from one process by after TRAIN_ARGS (measured: max |dw| 1.0e-5,
# losses equal to 6 decimals, same accuracies; all-reduce sums the two halves of each batch's
# gradient in another order than one process does).
MAX_WEIGHT_DIFF = 1e-4
MAX_LOSS_DIFF = 1e-4
# 280 training examples; global batches of 32 (16 per worker, the last 12 + 12); 3 epochs.
TRAIN_ARGS = ["--dataset", "digits", "--limit", "400", "--epochs", "3", "--batch-size", "32",
              "--lr", "1e-2", "--hidden", "16", "--no-baseline"]  # fmt: skip


def test_launch_comes_from_torchruns_environment():
    assert launch_from_env({}) is None
    assert launch_from_env({"RANK": "1", "WORLD_SIZE": "2"}) is None  # no LOCAL_RANK
    launch = launch_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert launch == Launch(rank=1, world_size=2, local_rank=1) and not launch.is_main
    with pytest.raises(ConfigError, match="outside"):
        launch_from_env({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})


def test_one_process_joins_no_group_and_passes_values_through():
    with process_group("cpu", env={}) as launch:
        assert launch == Launch() and launch.is_main and world() == (0, 1)
    assert not torch.distributed.is_initialized()
    assert sum_across([1.0, 2.5]) == [1.0, 2.5]
    assert first_reason("time_limit", ("stopped_by_user", "time_limit")) == "time_limit"
    assert first_reason(None, ("stopped_by_user",)) is None


def _train(out, torchrun: bool) -> subprocess.Popen:
    launcher = [shutil.which("torchrun") or "torchrun", "--standalone", "--nproc_per_node=2"]
    command = launcher if torchrun else [sys.executable]
    argv = [*command, "-m", "dense_attention", "train", *TRAIN_ARGS, "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT)  # fmt: skip


def test_torchrun_on_two_workers_matches_one_process(tmp_path):
    runs = {name: _train(tmp_path / name, name == "torchrun") for name in ("one", "torchrun")}
    output = {name: run.communicate(timeout=240) for name, run in runs.items()}
    for name, run in runs.items():
        assert run.returncode == 0, output[name][1][-3000:]
    assert output["torchrun"][0].count("test accuracy") == 1  # rank 0 alone prints
    assert "x 2 processes" in output["torchrun"][1]
    metrics = {n: json.loads((tmp_path / n / "metrics.json").read_text()) for n in runs}
    assert metrics["torchrun"]["processes"] == 2 and metrics["one"]["processes"] == 1
    for one, two in zip(metrics["one"]["history"], metrics["torchrun"]["history"], strict=True):
        assert abs(one["val_loss"] - two["val_loss"]) <= MAX_LOSS_DIFF
        assert abs(one["train_loss"] - two["train_loss"]) <= MAX_LOSS_DIFF
        assert abs(one["val_accuracy"] - two["val_accuracy"]) <= 1 / 40 + 1e-9  # one example
    assert abs(metrics["one"]["test_loss"] - metrics["torchrun"]["test_loss"]) <= MAX_LOSS_DIFF
    weights = {n: load_file(tmp_path / n / "model.safetensors") for n in runs}
    diff = max((w - weights["torchrun"][k]).abs().max().item() for k, w in weights["one"].items())
    assert diff <= MAX_WEIGHT_DIFF
