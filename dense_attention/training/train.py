"""The training loop: AdamW, validation each epoch, best-epoch restore, snapshots; no UI in here.

Progress goes out through `on_step(event)`; the app moves st.progress with it, the CLI a tqdm bar.
Nothing here is specific to text or images: a model is anything with `forward(*inputs) -> logits`
and `trace(*inputs) -> Trace`, and a split is a tuple of input tensors plus labels. The objective
is cross-entropy plus optional L1/L2 penalties (`regularised_loss`); losses reported in the
history are the cross-entropy alone, so training and validation curves compare like with like.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

from ..core import seeding
from ..core.config import ConfigError, TrainConfig
from ..core.errors import DenseAttentionError
from ..data.dataset import DataError, limit_indices
from ..inputs.splits import TensorSplit
from . import distributed


class TrainingError(DenseAttentionError):
    """A run (or a sweep, or a search) that finished with nothing to keep; the message says
    what to change."""


@dataclass(frozen=True)
class Snapshot:
    """The probe examples as the model saw them at one optimiser step."""

    step: int
    epoch: float  # fractional epoch, e.g. 2.5 = half way through the third
    attn: np.ndarray  # (P, N, N) attention of the probes
    alpha: np.ndarray  # (P, N) pooling weights
    probs: np.ndarray  # (P, C) class probabilities


@dataclass(frozen=True)
class EpochRecord:
    epoch: int  # 1-based
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float  # since training started
    train_penalty: float = 0.0  # mean l1 * sum|w| + l2 * sum w^2 over the epoch's steps


@dataclass(frozen=True)
class StepEvent:
    """What `on_step` receives after every optimiser step (epoch-end fields set at epoch ends)."""

    step: int
    total_steps: int
    epoch: int  # 1-based epoch this step belongs to
    loss: float  # this batch's training cross-entropy (without the L1/L2 penalty)
    record: EpochRecord | None = None  # set on the last step of an epoch
    snapshot: Snapshot | None = None  # set when a snapshot was taken at this step

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps)


@dataclass
class TrainResult:
    history: list[EpochRecord] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    best_epoch: int = 0
    stopped: str = "completed"  # completed | early_stopping | time_limit | stopped_by_user
    seconds: float = 0.0
    device: str = "cpu"

    @property
    def best(self) -> EpochRecord | None:
        return next((r for r in self.history if r.epoch == self.best_epoch), None)


def pick_device(name: str = "auto") -> torch.device:
    """cuda, then mps, then cpu for "auto"; a named device that is missing raises ConfigError."""
    has = {d: _has_device(d) for d in ("cuda", "mps")}
    if name == "auto":
        return torch.device(next((d for d in ("cuda", "mps") if has[d]), "cpu"))
    if name != "cpu" and not has.get(name, False):
        raise ConfigError(f"device {name!r} is not available on this machine; use auto or cpu")
    return torch.device(name)


def available_devices() -> list[str]:
    """The device names pick_device accepts on this machine: auto, cpu, then cuda/mps if present."""
    found = ["auto", "cpu"]
    found += [d for d in ("cuda", "mps") if _has_device(d)]
    return found


def _has_device(name: str) -> bool:
    return torch.cuda.is_available() if name == "cuda" else torch.backends.mps.is_available()


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def subsample(split: TensorSplit, n: int | None, seed: int) -> TensorSplit:
    """At most `n` examples of `split`, classes in proportion, deterministic from `seed`.

    A smaller n gives a subset of a larger one (data.dataset.limit_indices's rule).
    """
    if n is None or n >= len(split):
        return split
    keep = limit_indices(split.labels.cpu().numpy(), n, seed)
    return split.take(torch.as_tensor(keep, device=split.labels.device))


def penalised_parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    """The weights L1/L2 penalise: `model.penalised_parameters()` where the model defines one.

    DenseAttention and Classifier do: the dense-attention core's weights (W, the similarity's
    weights, W_a, u, W2, the sequence encoder's matrices), without biases, LayerNorm parameters
    or the encoder's embeddings. Any other model: every trainable parameter.
    """
    own = getattr(model, "penalised_parameters", None)
    if callable(own):
        return dict(own())
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def regularised_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weights: Sequence[torch.Tensor],
    l1: float = 0.0,
    l2: float = 0.0,
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(objective, cross-entropy, penalty) with objective = CE_s + l1 * sum|w| + l2 * sum w^2.

    logits (B, C), labels (B,); sums run over every element of every tensor in `weights`. CE_s is
    the cross-entropy against label-smoothed targets; the returned cross-entropy is the plain one.
    """
    ce = F.cross_entropy(logits, labels)
    fit = ce
    if label_smoothing:
        fit = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    penalty = torch.zeros((), dtype=ce.dtype, device=ce.device)
    for w in weights:
        if l1:
            penalty = penalty + l1 * w.abs().sum()
        if l2:
            penalty = penalty + l2 * w.square().sum()
    return fit + penalty, ce, penalty


@torch.no_grad()
def evaluate(model: nn.Module, split: TensorSplit, batch_size: int = 256) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on `split` (on the model's device)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    loss_sum, correct = 0.0, 0
    for start in range(0, len(split), batch_size):
        part = split.take(slice(start, start + batch_size)).to(device)
        with _autocast(device):
            logits = model(*part.inputs).float()
        loss_sum += F.cross_entropy(logits, part.labels, reduction="sum").item()
        correct += (logits.argmax(-1) == part.labels).sum().item()
    model.train(was_training)
    n = max(len(split), 1)
    return loss_sum / n, correct / n


@torch.no_grad()
def take_snapshot(model: nn.Module, probes: TensorSplit, step: int, epoch: float) -> Snapshot:
    was_training = model.training
    model.eval()
    t = model.trace(*probes.inputs)
    model.train(was_training)
    to_np = lambda v: v.detach().float().cpu().numpy()  # noqa: E731
    return Snapshot(step, epoch, to_np(t.attn), to_np(t.alpha), to_np(t.probs))


def train(
    model: nn.Module,
    train_split: TensorSplit,
    val_split: TensorSplit,
    config: TrainConfig | None = None,
    on_step: Callable[[StepEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train `model` in place and leave it in eval mode with the weights of its best epoch
    (or, with `config.keep == "last"`, of its last epoch, without early stopping).

    `should_stop()` is polled after every step (the app's stop button); `on_step` gets a StepEvent.
    With `config.max_train_examples`, only a stratified subsample of `train_split` is used.

    Every random draw comes from the run's own generators, seeded by `config.seed`: the data
    order (`epoch_order`) and dropout (seeding.dropout); torch's global RNG is not touched, so a
    run repeats bit for bit beside other runs in the same process. The model's initial weights
    are the caller's (seeding.init_parameters draws them from a seed).

    Inside a process group of N > 1 processes (a torchrun launch, see dense_attention.
    distributed) the model trains as DistributedDataParallel: each process takes its share of
    every global batch of `config.batch_size` (batch_size / N examples), so the run follows a
    single-process run with the same batch size step by step.
    """
    config = config or TrainConfig()
    if len(train_split) == 0 or len(val_split) == 0:
        raise DataError("training needs at least one training and one validation example")
    train_split = subsample(train_split, config.max_train_examples, config.seed)
    loop = _start(model, train_split, val_split, config)
    loop.on_step, loop.should_stop = on_step, should_stop
    with seeding.dropout_generator(loop.dropout):
        for epoch in range(1, config.epochs + 1):
            order = epoch_order(len(train_split), config.seed, epoch, loop.rank, loop.world)
            stop = _run_epoch(loop, train_split, order, epoch)
            if stop or (loop.best.since >= config.patience and epoch < config.epochs):
                loop.result.stopped = stop or "early_stopping"
                break
    return _finish(loop)


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """The training examples process `rank` of `world` visits in `epoch` (1-based), in order.

    torch's DistributedSampler: a permutation of range(n) from a generator seeded with
    seed + epoch - 1, padded (by repeating its start) to a multiple of `world`, of which process
    r takes positions r, r + world, ... With world = 1 it is the whole permutation, and the
    processes' shares of batch b together are batch b of the single-process order.
    """
    sampler = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch - 1)
    return torch.tensor(list(sampler), dtype=torch.int64)


@dataclass
class _Loop:
    """What the training loop carries from step to step."""

    model: nn.Module
    config: TrainConfig
    device: torch.device
    net: nn.Module  # what steps call: the model, or its DistributedDataParallel wrapper
    dropout: torch.Generator  # the run's dropout masks, on the device
    rank: int  # this process among `world` training together (0 of 1 alone)
    world: int
    batch_size: int  # this process's share of a global batch: config.batch_size / world
    params: list[nn.Parameter]  # what the optimiser updates and the gradient clip measures
    penalised: list[torch.Tensor]  # what L1/L2 act on (empty without a penalty)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler | None
    val_split: TensorSplit
    probes: TensorSplit  # the validation examples snapshots trace, on the device
    steps_per_epoch: int
    best: _Best
    result: TrainResult
    on_step: Callable[[StepEvent], None] | None = None
    should_stop: Callable[[], bool] | None = None
    step: int = 0
    start: float = field(default_factory=time.perf_counter)


@dataclass
class _EpochSums:
    """One epoch's training loss, penalty and correct answers so far, weighted by batch size."""

    seen: int = 0
    loss: float = 0.0
    penalty: float = 0.0
    correct: int = 0

    def add(self, batch: TensorSplit, logits: torch.Tensor, loss: torch.Tensor,
            penalty: torch.Tensor) -> None:  # fmt: skip
        self.seen += len(batch)
        self.loss += loss.item() * len(batch)
        self.penalty += penalty.item() * len(batch)
        self.correct += (logits.argmax(-1) == batch.labels).sum().item()

    def record(
        self, epoch: int, val_loss: float, val_accuracy: float, seconds: float
    ) -> EpochRecord:
        return EpochRecord(epoch, self.loss / self.seen, self.correct / self.seen, val_loss,
                           val_accuracy, seconds, self.penalty / self.seen)  # fmt: skip


def _start(
    model: nn.Module, train_split: TensorSplit, val_split: TensorSplit, config: TrainConfig
) -> _Loop:
    """Move the model to its device (and wrap it for DDP in a process group), seed the dropout
    generator, build the optimiser; snapshot the probes at step 0."""
    device = pick_device(config.device)
    rank, world = distributed.world()
    if config.batch_size % world:
        raise ConfigError(f"batch size {config.batch_size} does not split over {world} processes")
    model.to(device).train()
    net = _parallel(model, device) if world > 1 else model
    dropout = torch.Generator(device=device).manual_seed(config.seed + rank)
    params = [p for p in model.parameters() if p.requires_grad]
    penalised = list(penalised_parameters(model).values()) if config.l1 or config.l2 else []
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    batch_size = config.batch_size // world
    steps_per_epoch = math.ceil(math.ceil(len(train_split) / world) / batch_size)
    scheduler = None
    if config.schedule == "cosine":
        total = steps_per_epoch * config.epochs
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    probes = val_split.take(slice(0, config.probes)).to(device)
    best = _Best() if config.keep == "best" else _Last()
    loop = _Loop(model, config, device, net, dropout, rank, world, batch_size, params, penalised,
                 optimizer, scheduler, val_split, probes, steps_per_epoch, best,
                 TrainResult(device=str(device)))  # fmt: skip
    if config.probes:
        loop.result.snapshots.append(take_snapshot(model, probes, 0, 0.0))
    return loop


def _parallel(model: nn.Module, device: torch.device) -> DistributedDataParallel:
    """`model` as DDP: gradients averaged over the processes after every backward pass. Buffers
    are fixed here (frozen embeddings, the other similarities' weights): not synced per step."""
    ids = None
    if device.type == "cuda":
        ids = [device.index if device.index is not None else torch.cuda.current_device()]
    return DistributedDataParallel(model, device_ids=ids, forward_sync_buffers=False)


def _run_epoch(loop: _Loop, split: TensorSplit, order: torch.Tensor, epoch: int) -> str | None:
    """One pass over `split` in the given order, in batches; validates at the end of the pass and
    before stopping early. Returns why training must stop (see `_interrupt`), or None.
    """
    config, n, size = loop.config, loop.steps_per_epoch, loop.batch_size
    sums = _EpochSums()
    for b in range(n):
        batch = split.take(order[b * size : (b + 1) * size]).to(loop.device)
        logits, loss, penalty = _optimiser_step(loop, batch)
        sums.add(batch, logits, loss, penalty)
        snap = _maybe_snapshot(loop, epoch - 1 + (b + 1) / n)
        stop = _interrupt(config, loop.start, loop.should_stop)
        stop = distributed.first_reason(stop, _STOPS, loop.device)  # the same on every process
        record = None
        if stop or b == n - 1:  # validate at epoch ends and before stopping
            record = _validate(loop, epoch, sums)
        if loop.on_step:
            loop.on_step(StepEvent(loop.step, n * config.epochs, epoch, loss.item(), record, snap))
        if stop:
            return stop
    return None


def _optimiser_step(
    loop: _Loop, batch: TensorSplit
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One AdamW step on `batch`: (logits, cross-entropy, penalty)."""
    config = loop.config
    with _autocast(loop.device):
        logits = loop.net(*batch.inputs).float()
    objective, loss, penalty = regularised_loss(
        logits, batch.labels, loop.penalised, config.l1, config.l2, config.label_smoothing
    )
    loop.optimizer.zero_grad(set_to_none=True)
    objective.backward()
    torch.nn.utils.clip_grad_norm_(loop.params, 5.0)
    loop.optimizer.step()
    if loop.scheduler is not None:
        loop.scheduler.step()
    loop.step += 1
    return logits, loss, penalty


def _maybe_snapshot(loop: _Loop, epoch: float) -> Snapshot | None:
    if not loop.config.probes or loop.step % loop.config.snapshot_every != 0:
        return None
    snap = take_snapshot(loop.model, loop.probes, loop.step, epoch)
    loop.result.snapshots.append(snap)
    return snap


def _validate(loop: _Loop, epoch: int, sums: _EpochSums) -> EpochRecord:
    val_loss, val_acc = evaluate(loop.model, loop.val_split.to(loop.device))
    if loop.world > 1:  # the training statistics of every process's share
        total = distributed.sum_across([sums.seen, sums.loss, sums.penalty, sums.correct],
                                       loop.device)  # fmt: skip
        sums = _EpochSums(int(total[0]), total[1], total[2], int(total[3]))
    record = sums.record(epoch, val_loss, val_acc, time.perf_counter() - loop.start)
    loop.result.history.append(record)
    loop.best.offer(loop.model, record)
    return record


def _finish(loop: _Loop) -> TrainResult:
    """Restore the kept epoch's weights, if copied, and leave the model in eval mode."""
    if loop.best.state is not None:
        loop.model.load_state_dict(loop.best.state)
    loop.result.best_epoch = loop.best.epoch
    loop.result.seconds = time.perf_counter() - loop.start
    loop.model.eval()
    return loop.result


class _Best:
    """The weights of the epoch with the best validation accuracy (ties: lower loss)."""

    def __init__(self) -> None:
        self.key, self.state, self.epoch, self.since = None, None, 0, 0

    def offer(self, model: nn.Module, record: EpochRecord) -> None:
        key = (record.val_accuracy, -record.val_loss)
        # Patience counts epochs without a better accuracy: a loss that creeps down resets nothing.
        self.since = 0 if self.key is None or key[0] > self.key[0] else self.since + 1
        if self.key is None or key > self.key:
            self.key, self.epoch = key, record.epoch
            self.state = copy.deepcopy(model.state_dict())


class _Last(_Best):
    """The latest validated epoch, whose weights are the model's own (training validates before
    it stops): nothing to copy or restore; never asks for early stopping."""

    def offer(self, model: nn.Module, record: EpochRecord) -> None:
        self.epoch = record.epoch


_STOPS = ("stopped_by_user", "time_limit")  # what _interrupt returns, in order of precedence


def _interrupt(config: TrainConfig, start: float, should_stop) -> str | None:
    if should_stop is not None and should_stop():
        return "stopped_by_user"
    if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
        return "time_limit"
    return None
