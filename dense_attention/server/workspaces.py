"""Browser workspaces in memory: what one browser keeps across page reloads (its models, their
runs and its jobs), found by a token, forgotten when idle or past the bounds (store.py keeps
them on disk too); no UI in here.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from ..inputs.classifier import Classifier
from .jobs import Job, JobKind
from .metrics import TrainedModel


@dataclass
class Workspace:
    """One browser's models and jobs. The app finds it by a random token kept in a cookie, so a
    reload (a new Streamlit session) finds its trained models again; no other browser has the
    token."""

    models: dict[str, Classifier] = field(default_factory=dict)
    jobs: dict[JobKind, Job] = field(default_factory=dict)  # one job per kind (its slot)
    results: dict[str, TrainedModel] = field(default_factory=dict)  # model name -> its run
    # model name -> its training metadata (dataset, split_seed, limit), trained or uploaded
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    touched: float = field(default_factory=time.time)
    lock: threading.Lock = field(default_factory=threading.Lock)  # for registering results

    def empty(self) -> bool:
        """Nothing to lose: no model, no result, no job."""
        return not (self.models or self.results or self.jobs)

    def model_bytes(self) -> int:
        """Bytes of the weights of this browser's models (parameters and buffers)."""
        tensors = [
            t
            for model in self.models.values()
            if isinstance(model, torch.nn.Module)
            for t in itertools.chain(model.parameters(), model.buffers())
        ]
        return sum(t.numel() * t.element_size() for t in tensors)


class Workspaces:
    """Token -> Workspace, forgetting the ones unused for `ttl` seconds.

    Bounds: at most `limit` workspaces, and `max_model_bytes` of models in all. A new token
    past `limit` pushes out the least recently used *empty* workspace first (so a flood of
    cookie-less sessions never costs anyone a trained model), then the least recently used
    idle one; models past `max_model_bytes` push out the least recently used idle workspaces
    holding them. A workspace with a job still running is never forgotten.
    """

    def __init__(
        self, ttl: float = 6 * 3600, limit: int = 1000, max_model_bytes: int = 2 * 2**30
    ) -> None:
        self.ttl, self.limit, self.max_model_bytes = ttl, limit, max_model_bytes
        self._spaces: dict[str, Workspace] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Workspace:
        now = time.time()
        with self._lock:
            for old in [k for k, w in self._spaces.items() if now - w.touched > self.ttl]:
                if not _busy(self._spaces[old]):
                    del self._spaces[old]
            space = self._spaces.get(token)
            if space is None:
                if len(self._spaces) >= self.limit:
                    self._forget(self._evictable(token, empty_first=True)[:1])
                space = self._spaces[token] = self.create(token)
            space.touched = now
            self._bound_bytes(token)
            return space

    def create(self, token: str) -> Workspace:
        """A new workspace for `token` (store.Workspaces reads it from disk)."""
        return Workspace()

    def _evictable(self, keep: str, empty_first: bool = False) -> list[str]:
        """Idle workspaces other than `keep`, least recently used first (empty ones first)."""
        idle = [k for k, w in self._spaces.items() if k != keep and not _busy(w)]

        def order(token: str) -> tuple[bool, float]:
            space = self._spaces[token]
            return (empty_first and not space.empty(), space.touched)

        return sorted(idle, key=order)

    def _bound_bytes(self, keep: str) -> None:
        sizes = {k: w.model_bytes() for k, w in self._spaces.items()}
        total = sum(sizes.values())
        for old in self._evictable(keep):
            if total <= self.max_model_bytes:
                return
            if sizes[old]:
                total -= sizes[old]
                del self._spaces[old]

    def _forget(self, tokens: list[str]) -> None:
        for token in tokens:
            del self._spaces[token]

    def __len__(self) -> int:
        return len(self._spaces)


def _busy(space: Workspace) -> bool:
    """A workspace with a running job is kept: its owner may be waiting for it."""
    return any(not job.finished for job in space.jobs.values())
