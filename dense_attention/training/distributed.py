"""Training past one process: a torchrun launch read from the environment, its process group, and
the few collectives train() needs (sums of epoch statistics, an agreed stop).

`torchrun --standalone --nproc_per_node=N -m dense_attention train ...` starts N workers with
WORLD_SIZE, RANK and LOCAL_RANK set; `process_group()` joins them (gloo on the CPU, nccl on
CUDA) and train() then wraps the model in DistributedDataParallel by itself (`world()` > 1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..core.config import ConfigError


@dataclass(frozen=True)
class Launch:
    """Where this process stands among the workers of one training run (one process: defaults)."""

    rank: int = 0  # 0 .. world_size - 1; rank 0 writes the checkpoint and prints metrics
    world_size: int = 1  # processes training together
    local_rank: int = 0  # rank on this machine: picks the GPU

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launch_from_env(env: Mapping[str, str] | None = None) -> Launch | None:
    """The Launch torchrun describes in WORLD_SIZE, RANK and LOCAL_RANK; None when not launched
    by torchrun (any of the three missing)."""
    env = os.environ if env is None else env
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    if not all(env.get(name) for name in names):
        return None
    rank, world_size, local_rank = (int(env[name]) for name in names)
    if not 0 <= rank < world_size:
        raise ConfigError(f"RANK {rank} is outside WORLD_SIZE {world_size}")
    return Launch(rank, world_size, local_rank)


@contextmanager
def process_group(
    device_type: str = "cpu", env: Mapping[str, str] | None = None
) -> Iterator[Launch]:
    """Join the torchrun launch in `env` for the block and leave it after; without one, a single
    process's Launch() and nothing else.

    The backend is nccl when training on CUDA (each worker on GPU LOCAL_RANK), gloo otherwise.
    Each worker of a multi-process launch uses one CPU thread: N workers with torch's default
    thread count each would oversubscribe the cores.
    """
    launch = launch_from_env(env)
    if launch is None:
        yield Launch()
        return
    if launch.world_size > 1:
        torch.set_num_threads(1)
    backend = "nccl" if device_type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(launch.local_rank)
    dist.init_process_group(backend, rank=launch.rank, world_size=launch.world_size)
    try:
        yield launch
    finally:
        dist.destroy_process_group()


def world() -> tuple[int, int]:
    """(rank, world size) of the default process group; (0, 1) when there is none."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def sum_across(values: Sequence[float], device: torch.device | None = None) -> list[float]:
    """Each value summed over every process of the group (float64); the values as given in a
    single process."""
    if world()[1] == 1:
        return list(values)
    total = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return total.tolist()


def first_reason(
    reason: str | None, reasons: Sequence[str], device: torch.device | None = None
) -> str | None:
    """One stop decision for every process: the earliest of `reasons` any process gives, or None
    when none does (a time limit reached on one worker ends the run on all, never deadlocks)."""
    if world()[1] == 1:
        return reason
    code = len(reasons) if reason is None else reasons.index(reason)
    agreed = torch.tensor([code], dtype=torch.int64, device=device)
    dist.all_reduce(agreed, op=dist.ReduceOp.MIN)
    return None if int(agreed) == len(reasons) else reasons[int(agreed)]
