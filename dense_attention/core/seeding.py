"""Per-run random streams: generator-driven initialisation and dropout, no global RNG.

Training jobs are threads of one process, and torch's global RNG is shared by all of them: a run
seeded with `torch.manual_seed` is repeatable only when nothing else draws from it meanwhile.
Here every draw comes from a `torch.Generator` the run owns: `init_parameters` re-draws a fresh
model's weights from one, and `dropout` takes its masks from the generator that the current
thread's run installed with `dropout_generator` (train() does), so two runs of the same seed give
the same bits whether or not another job trains beside them.
"""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

_local = threading.local()  # .generator: the dropout generator of this thread's training run


@contextmanager
def dropout_generator(generator: torch.Generator | None) -> Iterator[None]:
    """Within the block, `dropout` in this thread draws its masks from `generator`."""
    previous = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield
    finally:
        _local.generator = previous


def dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted dropout of x (any shape): zero each entry with probability p, scale by 1/(1-p).

    Call it in training mode only. The mask comes from the thread's `dropout_generator` (on x's
    device); with none installed this is `F.dropout(x, p)` on torch's global RNG.
    """
    generator = getattr(_local, "generator", None)
    if generator is None:
        return F.dropout(x, p)
    if p >= 1.0:
        return torch.zeros_like(x)
    keep = torch.empty_like(x).bernoulli_(1.0 - p, generator=generator)
    return x * keep / (1.0 - p)


def init_parameters(model: nn.Module, seed: int) -> nn.Module:
    """Re-draw every randomly initialised weight of `model` from `torch.Generator().manual_seed(
    seed)`, each with its layer's default distribution; torch's global RNG is not touched.

    Knows nn.Linear, nn.Embedding, the RNNs (nn.LSTM), nn.MultiheadAttention and nn.LayerNorm;
    any other module that defines `reset_parameters(generator=...)` (DenseAttention) re-draws its
    own weights. Modules with a fixed initialisation (SimilarityParams) are left as they are.
    Children go before their parent, so a parent's rule (MultiheadAttention zeroes its output
    projection's bias) wins. Values are drawn on the CPU and copied to wherever each weight
    lives, so a seed gives the same model on every device. Returns `model`.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in _children_first(model):
            _init_module(module, generator)
    return model


def _children_first(module: nn.Module) -> Iterator[nn.Module]:
    for child in module.children():
        yield from _children_first(child)
    yield module


def _init_module(module: nn.Module, generator: torch.Generator) -> None:
    own = getattr(module, "reset_parameters", None)
    if callable(own) and "generator" in inspect.signature(own).parameters:
        own(generator=generator)
    elif isinstance(module, nn.Linear):
        _init_linear(module, generator)
    elif isinstance(module, nn.Embedding):
        _fill(module.weight, torch.randn(module.weight.shape, generator=generator))
        if module.padding_idx is not None:
            module.weight[module.padding_idx] = 0
    elif isinstance(module, nn.RNNBase):
        bound = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0.0
        for weight in module.parameters(recurse=False):
            _fill(weight, _uniform(weight.shape, bound, generator))
    elif isinstance(module, nn.MultiheadAttention):
        _init_attention(module, generator)
    elif isinstance(module, nn.LayerNorm):
        module.reset_parameters()  # ones and zeros: nothing random


def _init_linear(module: nn.Linear, generator: torch.Generator) -> None:
    # torch's default: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    fan_in = module.weight.shape[1]
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    _fill(module.weight, _uniform(module.weight.shape, bound, generator))
    if module.bias is not None:
        _fill(module.bias, _uniform(module.bias.shape, bound, generator))


def _init_attention(module: nn.MultiheadAttention, generator: torch.Generator) -> None:
    names = ["in_proj_weight"] if module._qkv_same_embed_dim else ["q_proj_weight",
             "k_proj_weight", "v_proj_weight"]  # fmt: skip
    for name in names:
        weight = getattr(module, name)
        fan_out, fan_in = weight.shape
        bound = math.sqrt(6.0 / (fan_in + fan_out))  # xavier_uniform_
        _fill(weight, _uniform(weight.shape, bound, generator))
    if module.in_proj_bias is not None:
        module.in_proj_bias.zero_()
        module.out_proj.bias.zero_()
    for extra in (module.bias_k, module.bias_v):
        if extra is not None:
            drawn = nn.init.xavier_normal_(torch.empty(extra.shape), generator=generator)
            _fill(extra, drawn)


def _uniform(shape: torch.Size, bound: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(shape, generator=generator) * 2 - 1) * bound


def _fill(target: torch.Tensor, values: torch.Tensor) -> None:
    target.copy_(values.to(dtype=target.dtype))
