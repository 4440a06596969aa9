"""Content hashes of tensors, arrays, traces and plain values: keys of caches shared by all."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..core.trace import TENSOR_FIELDS, Trace

__all__ = ["digest"]


def _feed(h: Any, item: Any) -> None:
    if isinstance(item, Trace):
        item = [*(getattr(item, name) for name in TENSOR_FIELDS), item.similarity, item.temperature]
    elif isinstance(item, Image.Image):
        item = [item.mode, np.asarray(item)]
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
    if isinstance(item, np.ndarray):
        h.update(f"array{item.dtype}{item.shape}".encode())
        h.update(np.ascontiguousarray(item).tobytes())
    elif isinstance(item, list | tuple | dict):
        h.update(type(item).__name__.encode())
        for part in sorted(item.items()) if isinstance(item, dict) else item:
            _feed(h, part)
    elif item is None or isinstance(item, str | bytes | int | float | np.number):
        h.update(f"{type(item).__name__}:{item!r}".encode())
    else:  # a repr such as "<object at 0x7f...>" would make two contents collide
        raise TypeError(f"cannot digest a {type(item).__name__}: pass its content")
    h.update(b"\x1f")


def digest(*parts: Any) -> str:
    """A hash of tensors, arrays, traces and plain values (nested in lists, tuples, dicts).

    Equal content gives the equal digest whatever the objects' identity; an object without a
    content (a model, a function) raises TypeError rather than colliding by its repr.
    """
    h = hashlib.blake2b(digest_size=16)
    _feed(h, parts)
    return h.hexdigest()
