"""Browsers' workspaces kept on disk, so a restarted server (or a second replica sharing the
folder) finds every trained or uploaded model again by the browser's token; no UI in here.

Layout under the data folder (`DAL_DATA_DIR`, default $XDG_CACHE_HOME/dense-attention-lab or
~/.cache/dense-attention-lab)::

    workspaces/<token>/index.json          model name -> folder and metadata; jobs' states
    workspaces/<token>/touched             its mtime is the workspace's last use (TTL, LRU)
    workspaces/<token>/.lock               flock'ed around each read-modify-write of the index
    workspaces/<token>/models/<folder>/    config.json + model.safetensors (+ metrics.json,
                                           held_out.json: the pictures of an uploaded data set)
    servers/<id>.lock                      flock'ed by each live server process

Every file is written to a temporary file in its folder, fsync'ed and renamed over the old one;
a model folder is written whole under a temporary name, then renamed into place. A token is
used in a path only once it is checked as exactly 32 lowercase hex digits.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..core.config import ConfigError
from ..data.images import Example
from ..figures import export
from ..inputs.classifier import Classifier
from ..storage import checkpoint
from . import workspaces
from .jobs import JobKind
from .metrics import TrainedMetrics, TrainedModel

try:  # POSIX: leases and index locks; elsewhere each server works as if alone
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DATA_DIR_ENV = "DAL_DATA_DIR"
APP_FOLDER = "dense-attention-lab"
TOKEN_PATTERN = re.compile(r"[0-9a-f]{32}")
SERVER_PATTERN = re.compile(r"[0-9a-f]{16}")
FOLDER_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # export.file_stem's names
INDEX_FILE, TOUCHED_FILE, LOCK_FILE, HELD_OUT_FILE = (
    "index.json",
    "touched",
    ".lock",
    "held_out.json",
)
INDEX_VERSION = 1
INTERRUPTED = "interrupted: the server stopped while it ran"
TOUCH_EVERY_S = 60.0  # a workspace's last use is written at most this often
SWEEP_EVERY_S = 60.0  # expired or excess workspaces are looked for at most this often
MAX_DISK_BYTES = 4 * 2**30  # all workspaces on disk together
log = logging.getLogger(__name__)


def data_dir() -> Path:
    """The data folder: $DAL_DATA_DIR, else the user's cache folder (never the repository)."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / APP_FOLDER


def check_token(token: object) -> str:
    """`token` if it is exactly 32 lowercase hex digits (safe in a path), else ValueError."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise ValueError(f"not a workspace token (32 lowercase hex digits): {token!r}")
    return token


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all (checkpoint.write_atomic, private to this user), then
    fsync its folder so the rename itself survives a crash."""
    checkpoint.write_atomic(path, data, shared=False)
    _fsync_dir(path.parent)


def _held_out_json(held_out: list[Example]) -> bytes:
    items = []
    for example in held_out:
        png = io.BytesIO()
        example.image.save(png, format="PNG")
        items.append({"label": example.label, "png": base64.b64encode(png.getvalue()).decode()})
    return json.dumps(items).encode()


def _read_held_out(path: Path) -> list[Example]:
    if not path.is_file():
        return []
    items = json.loads(path.read_text(encoding="utf-8"))
    return [
        Example(Image.open(io.BytesIO(base64.b64decode(i["png"]))).copy(), i["label"])
        for i in items
    ]


def save_model_folder(
    folder: Path,
    model: Classifier,
    metadata: dict[str, Any],
    metrics: dict[str, Any] | None = None,
    held_out: list[Example] | None = None,
) -> None:
    """Write a model folder whole: into a temporary folder beside it, then renamed into place
    (an old folder of that name is replaced); nothing partial is left if a write raises."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        checkpoint.save(tmp, model, metadata)
        if metrics is not None:
            write_atomic(tmp / checkpoint.METRICS_FILE, json.dumps(metrics, indent=2).encode())
        if held_out:
            write_atomic(tmp / HELD_OUT_FILE, _held_out_json(held_out))
        if folder.exists():  # replaced: the old one moves aside first, then goes
            old = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.old")
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, folder)
        _fsync_dir(folder.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class ServerLease:
    """This process holds servers/<id>.lock (flock) while it lives; the kernel drops the lock
    when it dies, however it dies, so another process can tell a live server from a dead one."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.id = folder, secrets.token_hex(8)
        self._file = (folder / f"{self.id}.lock").open("w")
        if fcntl is not None:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def alive(self, server: object) -> bool:
        """Whether the server process `server` (an id from an index) still runs."""
        if server == self.id:
            return not self._file.closed
        if fcntl is None or not isinstance(server, str) or not SERVER_PATTERN.fullmatch(server):
            return False
        path = self.folder / f"{server}.lock"
        try:
            with path.open() as f:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except FileNotFoundError:
            return False
        except BlockingIOError:
            return True
        path.unlink(missing_ok=True)  # a dead server's lease
        return False

    def release(self) -> None:
        """As if this process had died (tests); its lease file stays until someone looks."""
        self._file.close()


@dataclass(eq=False)
class StoredWorkspace(workspaces.Workspace):
    """A Workspace that knows its token and what of it is on disk."""

    token: str = ""
    interrupted: dict[JobKind, str] = field(default_factory=dict)  # what to tell the user
    seen_ns: int = 0  # mtime of the index last read or written (0: none yet)
    on_disk: set[str] = field(default_factory=set)  # model names saved or loaded
    jobs_written: dict[str, Any] = field(default_factory=dict)  # the job records last written
    touched_on_disk: float = 0.0
    # what disk holds but could not be read, for the user: model name (or INDEX_FILE, the whole
    # list) -> why. The files stay until the user removes them (Workspaces.remove_unreadable).
    unreadable: dict[str, str] = field(default_factory=dict)


def _job_records(space: StoredWorkspace, server: str, old: dict[str, Any]) -> dict[str, Any]:
    """The index's jobs: running ones (this server's), and earlier ones shown as interrupted.
    Keyed and kinded by JobKind's values ("train", "sweep", "tune")."""
    records = {
        str(slot): {"title": job.title, "kind": str(job.kind), "state": "running", "server": server}
        for slot, job in space.jobs.items()
        if not job.finished
    }
    for slot, record in old.items():
        if slot in space.jobs or not isinstance(record, dict):
            continue  # a job of this server took the slot, or nonsense
        if record.get("state") == "interrupted" or record.get("server") != server:
            records[slot] = record  # another server's job, running or interrupted
    return records


class Workspaces(workspaces.Workspaces):
    """workspaces.Workspaces whose models live on disk under `root` (data_dir() by default).

    Memory holds the workspaces in use, within `ttl`, `limit` and `max_model_bytes` as
    jobs.Workspaces keeps them (one forgotten in memory is read again from disk). Disk holds
    every workspace that has a model or a job: unused for `ttl` seconds, past `limit`, or past
    `max_disk_bytes` in all, the least recently used ones are deleted, never one with a job
    running in this process.
    """

    def __init__(
        self,
        root: str | Path | None = None,
        ttl: float = 6 * 3600,
        limit: int = 1000,
        max_model_bytes: int = 2 * 2**30,
        max_disk_bytes: int = MAX_DISK_BYTES,
    ) -> None:
        super().__init__(ttl, limit, max_model_bytes)
        self.root = Path(root) if root is not None else data_dir()
        self.spaces_dir = self.root / "workspaces"
        try:
            self.spaces_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # e.g. a read-only home: the app works, models last one run
            self.root = Path(tempfile.mkdtemp(prefix="dal-data-"))
            self.spaces_dir = self.root / "workspaces"
            self.spaces_dir.mkdir()
            log.warning("data folder not usable (%s): workspaces kept in %s", err, self.root)
        self.lease = ServerLease(self.root / "servers")
        self.max_disk_bytes = max_disk_bytes
        self._swept = 0.0
        # token -> the workspace in memory, for busy checks (gone when memory forgets it)
        self._live: weakref.WeakValueDictionary[str, StoredWorkspace] = (
            weakref.WeakValueDictionary()
        )

    def create(self, token: str) -> StoredWorkspace:
        space = StoredWorkspace(token=check_token(token))
        self._live[token] = space
        return space

    def folder(self, token: str) -> Path:
        return self.spaces_dir / check_token(token)

    def known(self, token: str) -> bool:
        """Whether this server has seen workspace `token` (in memory or on disk): a token from
        a cookie is adopted only then, never one merely well formed."""
        return token in self._live or self.folder(token).is_dir()

    def get(self, token: str) -> StoredWorkspace:
        """The workspace of `token`, with what disk holds of it (read again when its index
        changed, e.g. written by another server)."""
        space = super().get(check_token(token))
        self.sync(space)
        now = time.time()
        if now - space.touched_on_disk > TOUCH_EVERY_S and self.folder(token).is_dir():
            (self.folder(token) / TOUCHED_FILE).touch()
            space.touched_on_disk = now
        if now - self._swept > SWEEP_EVERY_S:
            self.sweep(keep=token)
        return space

    @contextmanager
    def _locked(self, token: str) -> Iterator[Path]:
        folder = self.folder(token)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / LOCK_FILE).open("w") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield folder

    def _read_index(self, folder: Path) -> dict[str, Any]:
        try:
            index = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": INDEX_VERSION, "models": {}, "jobs": {}}
        if not isinstance(index, dict) or index.get("version") != INDEX_VERSION:
            raise ValueError(f"{folder / INDEX_FILE}: not a version {INDEX_VERSION} index")
        return index

    def _update(self, space: StoredWorkspace, change: Callable[[Path, dict], None]) -> None:
        """Read-modify-write of the index under its lock, merged with other servers' changes."""
        with self._locked(space.token) as folder:
            index = self._read_index(folder)
            change(folder, index)
            index["jobs"] = _job_records(space, self.lease.id, index.get("jobs", {}))
            for record in index["jobs"].values():  # a dead server's job: say so on disk too
                if record.get("state") == "running" and not self.lease.alive(record.get("server")):
                    record["state"] = "interrupted"
            write_atomic(folder / INDEX_FILE, json.dumps(index, indent=1).encode())
            space.jobs_written = index["jobs"]
            space.seen_ns = -1  # the next get() reads it again: other servers' models merged in
            (folder / TOUCHED_FILE).touch()

    def save(self, space: StoredWorkspace, name: str) -> bool:
        """Write this workspace's model `name` (its run's metrics when it has one) and its index
        entry. False, with a logged warning, when the disk refuses: the model stays in memory."""
        model, metadata = space.models[name], dict(space.metadata.get(name, {}))
        held_out = metadata.pop("held_out", None)
        run = space.results.get(name)

        def add(folder: Path, index: dict) -> None:
            sub = index["models"].get(name, {}).get("folder")  # saved again: replaced
            if not (isinstance(sub, str) and FOLDER_PATTERN.fullmatch(sub)):
                taken = {entry.get("folder") for entry in index["models"].values()}
                stem = sub = export.file_stem(name)
                k = 2
                while sub in taken or (folder / "models" / sub).exists():
                    sub, k = f"{stem}-{k}", k + 1
            metrics = run.to_json() if run is not None else None
            save_model_folder(folder / "models" / sub, model, metadata, metrics, held_out)
            index["models"][name] = {"folder": sub, "metadata": metadata, "run": run is not None}

        try:
            self._update(space, add)
        except (OSError, ValueError) as err:  # a full disk, a read-only folder, a bad index
            log.warning("workspace %s: model %r not saved to disk: %s", space.token, name, err)
            return False
        space.on_disk.add(name)
        self.sweep(keep=space.token)
        return True

    def record_jobs(self, space: StoredWorkspace) -> None:
        """Write the workspace's running jobs to its index when they changed (a job started or
        ended), so a server that dies leaves them shown as interrupted."""
        for slot in space.jobs:  # a new job in a slot: its interrupted one is past
            space.interrupted.pop(slot, None)
        running = _job_records(space, self.lease.id, space.jobs_written)
        if running == space.jobs_written:
            return
        try:
            self._update(space, lambda folder, index: None)
        except (OSError, ValueError) as err:
            log.warning("workspace %s: jobs not recorded on disk: %s", space.token, err)

    def sync(self, space: StoredWorkspace) -> None:
        """Load what disk holds of `space` that memory lacks: models (lazily, the first time
        this process sees the workspace or its index changed) and interrupted jobs."""
        folder = self.folder(space.token)
        try:
            mtime = (folder / INDEX_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            if space.seen_ns:  # deleted on disk (expired, or pushed out by the size cap)
                self._drop_saved(space)
            return
        if mtime == space.seen_ns:
            self._recheck_jobs(space)
            return
        with space.lock:
            space.seen_ns = mtime  # read (or failed) once per change, not on every run
            try:
                index = self._read_index(folder)
            except (OSError, ValueError) as err:  # unreadable: keep what memory holds
                log.warning("workspace %s: index not read: %s", space.token, err)
                space.unreadable = {INDEX_FILE: _reason(err)}
                return
            space.unreadable.pop(INDEX_FILE, None)
            for name, entry in index["models"].items():
                sub = entry.get("folder") if isinstance(entry, dict) else None
                if name in space.models or not isinstance(sub, str):
                    continue
                if not FOLDER_PATTERN.fullmatch(sub):  # never a path out of the workspace
                    log.warning("workspace %s: bad model folder %r", space.token, sub)
                    space.unreadable[name] = "its folder name in the index is not allowed"
                    continue
                self._load_model(space, name, folder / "models" / sub, entry)
            self._read_jobs(space, index.get("jobs", {}))

    def _recheck_jobs(self, space: StoredWorkspace) -> None:
        """An index unchanged since it was read can still name a job running on a server that
        died since (SIGKILL writes nothing): look at those servers' leases again."""
        others = {
            slot: record
            for slot, record in space.jobs_written.items()
            if isinstance(record, dict)
            and record.get("state") == "running"
            and record.get("server") != self.lease.id
            and slot not in space.jobs
        }
        if others:
            with space.lock:
                self._read_jobs(space, {**space.jobs_written, **others})

    def _read_jobs(self, space: StoredWorkspace, records: dict[str, Any]) -> None:
        for slot, record in records.items():
            kind = JobKind.parse(slot)
            if kind is None or kind in space.jobs or not isinstance(record, dict):
                continue  # nonsense, or a job of this server took the slot
            dead = not self.lease.alive(record.get("server"))
            if record.get("state") == "interrupted" or dead:
                space.interrupted[kind] = f"{record.get('title', slot)}: {INTERRUPTED}"
                record["state"] = "interrupted"
        space.jobs_written = records

    def _load_model(self, space: StoredWorkspace, name: str, path: Path, entry: dict) -> None:
        try:
            model = checkpoint.load(path)
            metrics_path = path / checkpoint.METRICS_FILE
            metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
            held_out = _read_held_out(path / HELD_OUT_FILE)
        except (OSError, ValueError) as err:  # CheckpointError, ConfigError, JSON errors
            log.warning("workspace %s: model %r not loaded: %s", space.token, name, err)
            space.unreadable[name] = _reason(err)
            return
        if not isinstance(model, Classifier):
            space.unreadable[name] = f"it holds a bare {type(model).__name__}, not a classifier"
            return
        space.unreadable.pop(name, None)
        space.models[name] = model
        space.metadata[name] = {**entry.get("metadata", {})} | (
            {"held_out": held_out} if held_out else {}
        )
        if metrics is not None and entry.get("run"):
            try:
                run = TrainedMetrics.from_json(metrics)
                space.results[name] = TrainedModel.from_metrics(model, run)
            except (KeyError, TypeError, ConfigError) as err:
                log.warning("workspace %s: run of %r not read: %s", space.token, name, err)
        space.on_disk.add(name)

    def remove_unreadable(self, space: StoredWorkspace, name: str) -> None:
        """The user's choice for what could not be read: model `name`'s folder is deleted and
        its entry leaves the index; a broken index (`name` == INDEX_FILE) is set aside as
        index.broken-<time>.json, so the workspace can save models again."""
        folder = self.folder(space.token)
        with space.lock, self._locked(space.token):
            if name == INDEX_FILE:
                aside = folder / f"index.broken-{time.time_ns()}.json"
                os.replace(folder / INDEX_FILE, aside)
                log.warning("workspace %s: broken index set aside as %s", space.token, aside.name)
            else:
                index = self._read_index(folder)
                sub = index["models"].pop(name, {}).get("folder")
                if isinstance(sub, str) and FOLDER_PATTERN.fullmatch(sub):
                    shutil.rmtree(folder / "models" / sub, ignore_errors=True)
                write_atomic(folder / INDEX_FILE, json.dumps(index, indent=1).encode())
            space.unreadable.pop(name, None)
            space.seen_ns = -1

    def _drop_saved(self, space: StoredWorkspace) -> None:
        with space.lock:
            for name in space.on_disk:
                for held in (space.models, space.results, space.metadata):
                    held.pop(name, None)
            space.on_disk.clear()
            space.seen_ns = 0

    def sweep(self, keep: str | None = None) -> list[str]:
        """Delete workspaces on disk past the TTL, then the least recently used ones past
        `limit` or `max_disk_bytes` (never `keep`, nor one with a job running here).
        Returns the tokens deleted."""
        self._swept = time.time()
        found = []
        for folder in self.spaces_dir.iterdir():
            if TOKEN_PATTERN.fullmatch(folder.name) and folder.is_dir():
                found.append((_last_use(folder), folder.name, _folder_bytes(folder)))
        for lease in self.lease.folder.glob("*.lock"):
            self.lease.alive(lease.stem)  # removes the leases of dead servers
        found.sort()  # least recently used first
        total, count, gone = sum(f[2] for f in found), len(found), []
        for used, token, size in found:
            expired = self._swept - used > self.ttl
            if not (expired or count > self.limit or total > self.max_disk_bytes):
                continue
            if token == keep or self._busy_here(token):
                continue
            self._delete(token)
            total, count = total - size, count - 1
            gone.append(token)
        return gone

    def _busy_here(self, token: str) -> bool:
        space = self._live.get(token)
        return space is not None and any(not job.finished for job in space.jobs.values())

    def _delete(self, token: str) -> None:
        """Rename the folder out of sight first (one atomic step), then remove it."""
        trash = self.spaces_dir / f".{token}.{secrets.token_hex(4)}.deleted"
        try:
            os.rename(self.folder(token), trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def disk_bytes(self) -> int:
        """Bytes of every workspace on disk."""
        return sum(_folder_bytes(f) for f in self.spaces_dir.iterdir() if f.is_dir())


def _reason(err: Exception) -> str:
    """Why a stored file could not be read, in one line, without this machine's paths."""
    return str(err).replace(str(data_dir()), "…").splitlines()[0][:300] or type(err).__name__


def _last_use(folder: Path) -> float:
    times = [p.stat().st_mtime for p in (folder / TOUCHED_FILE, folder / INDEX_FILE) if p.exists()]
    return max(times, default=folder.stat().st_mtime)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
