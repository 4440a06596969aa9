"""A thread-safe least-recently-used cache bounded by bytes, for results shared by every session."""

from __future__ import annotations

import math
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


def approx_bytes(value: Any) -> float:
    """What keeping `value` costs, roughly: a figure's JSON (what Streamlit sends for it), an
    array's buffer, else its pickle; inf for what cannot be measured (it is never kept)."""
    to_json = getattr(value, "to_json", None)
    if callable(to_json):  # a plotly figure
        return float(len(to_json()))
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):  # a numpy array
        return float(nbytes)
    try:
        return float(len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))
    except Exception:  # noqa: BLE001 - anything unpicklable: do not keep it
        return math.inf


class ByteLRU:
    """key -> value, at most `max_bytes` in all (the least recently used go first); a value over
    `max_item_bytes` is returned but never kept. Sizes come from `size` (approx_bytes)."""

    def __init__(
        self,
        max_bytes: int,
        max_item_bytes: int,
        size: Callable[[Any], float] = approx_bytes,
    ) -> None:
        self.max_bytes, self.max_item_bytes, self._size = max_bytes, max_item_bytes, size
        self._items: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.total = 0.0  # bytes kept now

    def get_or_build(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value kept for `key`, else build() (outside the lock), kept if small enough."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        value = build()
        nbytes = self._size(value)
        if nbytes <= self.max_item_bytes:
            self._put(key, value, nbytes)
        return value

    def get(self, key: Hashable) -> Any:
        """The value kept for `key` (now the most recently used), else None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key][0]

    def _put(self, key: Hashable, value: Any, nbytes: float) -> None:
        with self._lock:
            if key in self._items:
                self.total -= self._items.pop(key)[1]
            self._items[key] = (value, nbytes)
            self.total += nbytes
            while self.total > self.max_bytes and self._items:
                self.total -= self._items.popitem(last=False)[1][1]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)
