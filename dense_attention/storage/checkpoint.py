"""Save and load models as a folder of config.json + model.safetensors (or the same files in a
ZIP, for downloads and uploads); never a pickle."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from ..core.config import ConfigError, ModelConfig
from ..core.errors import DenseAttentionError
from ..core.i18n import tr
from ..core.model import DenseAttention, weight_count
from ..data.archive import (
    NOT_A_ZIP,
    TOO_LARGE,
    UNPACKS_TOO_LARGE,
    ByteBudget,
    ZipRefused,
    open_zip,
    read_member,
)
from ..inputs.classifier import Classifier, ClassifierConfig
from ..inputs.encoding import EncodingError
from ..inputs.image_encoder import ImageEncoder
from ..inputs.text_encoder import MINILM_VOCAB_SIZE

FORMAT = "dense-attention-lab"
VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MAX_WEIGHTS_BYTES = 200 * 2**20  # larger files are refused before they are read
METRICS_FILE = "metrics.json"  # optional in a checkpoint ZIP: e.g. test accuracy, loss curve
MAX_ZIP_BYTES = 210 * 2**20  # uploaded ZIPs larger than this are refused before they are opened
MAX_UNZIPPED_BYTES = 210 * 2**20  # ... and so are ZIPs whose members declare (or unpack) more
MAX_JSON_BYTES = 8 * 2**20  # config.json or metrics.json, as read from a ZIP
# Files that torch.save, pickle and joblib write: loading them can run arbitrary code.
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt", ".joblib")

# kind -> (config from dict, model from config); other modules register their model kinds here.
MODEL_KINDS: dict[str, tuple[Callable[[dict], Any], Callable[[Any], nn.Module]]] = {
    "DenseAttention": (ModelConfig.from_dict, DenseAttention),
    "Classifier": (ClassifierConfig.from_dict, Classifier),
}


class CheckpointError(DenseAttentionError, ValueError):
    """A checkpoint cannot be read or does not fit its model; the message says why.

    Also a ValueError: `server.store` catches it with JSON's own ValueErrors in one clause when
    it reads a stored model.
    """


def write_atomic(path: Path, data: bytes, shared: bool = True) -> None:
    """Write `path` whole or not at all: a temporary file in its folder, fsync, os.replace.
    `shared`: readable by all (checkpoints); else private to this user, as mkstemp makes it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if shared:
            os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(directory: str | Path, model: nn.Module, metadata: dict[str, Any] | None = None) -> Path:
    """Write `model` to `directory` as config.json + model.safetensors, each atomically."""
    kind = type(model).__name__
    if kind not in MODEL_KINDS:
        raise CheckpointError(
            tr("cannot save a {kind}; known kinds: {join}", kind=kind, join=", ".join(MODEL_KINDS))
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    header = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "config": model.config.to_dict(),
        "metadata": metadata or {},
    }
    write_atomic(directory / WEIGHTS_FILE, save_safetensors(tensors))
    write_atomic(directory / CONFIG_FILE, json.dumps(header, indent=2).encode())
    return directory


def read_header(directory: str | Path) -> dict[str, Any]:
    """The parsed and checked config.json of a checkpoint folder."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(tr("{path} is missing: not a checkpoint folder", path=path))
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:  # e.g. no permission to read it
        raise CheckpointError(tr("{path} cannot be read: {err}", path=path, err=err)) from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(tr("{path} is not valid JSON: {err}", path=path, err=err)) from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(
            tr(
                "{path} is not a Dense Attention Lab checkpoint ({FORMAT})",
                path=path,
                FORMAT=FORMAT,
            )
        )
    if header.get("version") != VERSION:
        raise CheckpointError(
            tr(
                "{path} has version {get!r}; expected {VERSION}",
                path=path,
                get=header.get("version"),
                VERSION=VERSION,
            )
        )
    if header.get("kind") not in MODEL_KINDS:
        raise CheckpointError(
            tr("{path} holds an unknown model kind {get!r}", path=path, get=header.get("kind"))
        )
    if not isinstance(header.get("metadata", {}), dict):
        raise CheckpointError(tr("{path}: metadata must be a JSON object", path=path))
    return header


def read_metadata(directory: str | Path) -> dict[str, Any]:
    return read_header(directory).get("metadata", {})


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(tr("{path} is missing", path=path))
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(
            tr("{path} is larger than {value} MB", path=path, value=MAX_WEIGHTS_BYTES // 2**20)
        )
    try:
        return load_safetensors(path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        raise CheckpointError(
            tr("{path} is not a readable safetensors file: {err}", path=path, err=err)
        ) from err


def _fit(model: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k} {tuple(tensors[k].shape)} != {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    problems = [
        f"missing {', '.join(missing)}" if missing else "",
        f"unexpected {', '.join(unexpected)}" if unexpected else "",
        f"wrong shape {'; '.join(wrong)}" if wrong else "",
        "non-finite values" if any(not torch.isfinite(t).all() for t in tensors.values()) else "",
    ]
    problems = [p for p in problems if p]
    if problems:
        raise CheckpointError(
            tr("{path} does not fit its config: {join}", path=path, join=" | ".join(problems))
        )
    model.load_state_dict({k: t.to(expected[k].dtype) for k, t in tensors.items()})


def _check_size(config: Any, path: Path) -> None:
    """Refuse a config whose model would hold more than MAX_WEIGHTS_BYTES of float32 weights,
    before any memory is allocated: the dense-attention core counted from its shapes
    (model.weight_count), an image encoder built on the meta device; a text encoder's
    embedding tables are counted from its config (MiniLM's own token embeddings, shared and
    read-only, are not ours to count)."""
    core = config.model if isinstance(config, ClassifierConfig) else config
    count = weight_count(core)
    if isinstance(config, ClassifierConfig) and config.image is not None:
        with torch.device("meta"):
            count += sum(p.numel() for p in ImageEncoder(config.image).parameters())
    text = config.text if isinstance(config, ClassifierConfig) else None
    if text is not None:
        count += text.max_len * text.pos_dim
        if text.mode == "learned":
            count += (len(text.vocab) or MINILM_VOCAB_SIZE) * text.embed_dim
    size = count * 4
    if size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(
            tr(
                "{path}: this config describes a model of {value:,.0f} MiB, over the "
                "{value2} MiB limit",
                path=path,
                value=size / 2**20,
                value2=MAX_WEIGHTS_BYTES // 2**20,
            )
        )


def load(directory: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved in `directory`, in eval mode, on `device`."""
    directory = Path(directory)
    header = read_header(directory)
    config_from_dict, build = MODEL_KINDS[header["kind"]]
    try:
        config = config_from_dict(header.get("config"))
    except ConfigError as err:
        raise CheckpointError(tr("{value}: {err}", value=directory / CONFIG_FILE, err=err)) from err
    _check_size(config, directory / CONFIG_FILE)
    try:
        model = build(config)
    except EncodingError as err:  # e.g. the MiniLM package an encoder needs is missing
        raise CheckpointError(tr("{directory}: {err}", directory=directory, err=err)) from err
    except (RuntimeError, MemoryError) as err:  # e.g. an allocation the machine cannot make
        raise CheckpointError(
            tr("{value}: cannot build this model: {err}", value=directory / CONFIG_FILE, err=err)
        ) from err
    _fit(model, _read_weights(directory / WEIGHTS_FILE), directory / WEIGHTS_FILE)
    return model.to(device).eval()


# ---------------------------------------------------------------------------------------------
# The same checkpoint as one ZIP: what the app offers to download and accepts as an upload


@dataclass(frozen=True)
class Loaded:
    """A checkpoint read from a ZIP."""

    model: nn.Module  # in eval mode, on the device asked for
    metadata: dict[str, Any] = field(default_factory=dict)  # config.json's "metadata"
    metrics: dict[str, Any] | None = None  # metrics.json, when the ZIP has one


def to_zip(
    model: nn.Module,
    metadata: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> bytes:
    """The checkpoint `save` writes, as ZIP bytes: config.json, model.safetensors and, when
    `metrics` is given, metrics.json, all at the root of the archive."""
    if metrics is not None:
        metrics_json = json.dumps(metrics, indent=2).encode()  # fails before anything is written
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buffer, "w") as archive:
        folder = save(tmp, model, metadata)
        archive.write(folder / CONFIG_FILE, CONFIG_FILE, zipfile.ZIP_DEFLATED)
        archive.write(folder / WEIGHTS_FILE, WEIGHTS_FILE, zipfile.ZIP_STORED)  # floats: no gain
        if metrics is not None:
            archive.writestr(METRICS_FILE, metrics_json, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _open_zip(raw: bytes) -> zipfile.ZipFile:
    """The upload's size, then pickles and zip bombs from the central directory alone."""
    try:
        return open_zip(
            raw, MAX_ZIP_BYTES, max_unzipped_bytes=MAX_UNZIPPED_BYTES, inspect=_refuse_pickles
        )
    except ZipRefused as err:
        raise CheckpointError(_zip_message(err)) from err.__cause__


def _zip_message(err: ZipRefused) -> str:
    limit = f"checkpoints up to {err.limit // 2**20} MB are read"
    if err.check == TOO_LARGE:
        return f"the file is {_mb(err.size)}; {limit}"
    if err.check == NOT_A_ZIP:
        return f"not a ZIP file, or a damaged one ({err.__cause__})"
    return f"the ZIP would unpack to {_mb(err.size)}; {limit}"


def _refuse_pickles(members: list[zipfile.ZipInfo]) -> None:
    pickles = [m.filename for m in members if m.filename.lower().endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise CheckpointError(
            tr(
                "the ZIP holds {pickles}, a pickle (torch.save, .pt, .bin, .pkl...). "
                "Pickle-based checkpoints are refused: they can run code when loaded; "
                "export with safetensors (a Dense Attention Lab checkpoint is "
                "{CONFIG_FILE} + {WEIGHTS_FILE})",
                pickles=pickles[0],
                CONFIG_FILE=CONFIG_FILE,
                WEIGHTS_FILE=WEIGHTS_FILE,
            )
        )


KNOWN_MEMBERS = (CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE)


def _find_members(members: list[zipfile.ZipInfo]) -> tuple[str, dict[str, zipfile.ZipInfo]]:
    """The folder prefix ("" or "name/") of the checkpoint and its known members by file name.

    Only `name` or `folder/name` are looked at, with an ordinary folder name: absolute paths and
    `..` are never followed (nothing is ever extracted to a member's own name anyway).
    """
    by_folder: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for member in members:
        parts = PurePosixPath(member.filename).parts
        name, folder = parts[-1], "/".join(parts[:-1])
        safe_folder = len(parts) <= 2 and folder not in (".", "..", "/") and "\\" not in folder
        if safe_folder and not member.is_dir() and name in KNOWN_MEMBERS:
            by_folder.setdefault(folder, {})[name] = member
    with_config = sorted(f for f, found in by_folder.items() if CONFIG_FILE in found)
    if not with_config:
        raise CheckpointError(
            tr(
                "the ZIP has no {CONFIG_FILE} (at its root or in one folder): not a "
                "Dense Attention Lab checkpoint",
                CONFIG_FILE=CONFIG_FILE,
            )
        )
    if len(with_config) > 1 and "" not in with_config:
        raise CheckpointError(
            tr("the ZIP holds several checkpoints: {join}", join=", ".join(with_config))
        )
    folder = "" if "" in with_config else with_config[0]
    found = by_folder[folder]
    prefix = f"{folder}/" if folder else ""
    if WEIGHTS_FILE not in found:
        raise CheckpointError(
            tr(
                "the ZIP has {prefix}{CONFIG_FILE} but no {prefix}{WEIGHTS_FILE}",
                prefix=prefix,
                CONFIG_FILE=CONFIG_FILE,
                WEIGHTS_FILE=WEIGHTS_FILE,
            )
        )
    return prefix, found


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: ByteBudget) -> bytes:
    """The member streamed a chunk at a time, stopping once the checkpoint's members together
    pass MAX_UNZIPPED_BYTES (the budget) or this one its own limit."""
    limit = MAX_WEIGHTS_BYTES if member.filename.endswith(WEIGHTS_FILE) else MAX_JSON_BYTES
    try:
        return read_member(archive, member, budget, limit)
    except ZipRefused as err:
        raise CheckpointError(
            f"{member.filename} unpacks to more than {_mb(err.limit)}; {_mb(err.limit)} is the "
            "limit" + (" for all the files together" if err.check == UNPACKS_TOO_LARGE else "")
        ) from err
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError) as err:
        # RuntimeError: encrypted; NotImplementedError: a compression method zipfile lacks
        raise CheckpointError(
            tr("cannot read {filename} from the ZIP: {err}", filename=member.filename, err=err)
        ) from err


def from_zip(raw: bytes, device: str | torch.device = "cpu") -> Loaded:
    """Read a checkpoint ZIP (as `to_zip` writes, or a checkpoint folder zipped whole).

    Checks, before any member is read: the size of the file, the sizes its members declare
    (zip bombs), no pickle-based file anywhere (torch.save archives, .pt, .bin, .pkl...), and
    config.json + model.safetensors at the root or inside one top-level folder. Those files are
    then checked as `load` checks a folder. Raises CheckpointError saying what is wrong.
    """
    with _open_zip(raw) as archive:
        prefix, found = _find_members(archive.infolist())
        budget = ByteBudget(MAX_UNZIPPED_BYTES)
        files = {name: _read_member(archive, m, budget) for name, m in found.items()}
    metrics = _parse_metrics(files.get(METRICS_FILE), prefix)
    with tempfile.TemporaryDirectory() as tmp:
        for name in (CONFIG_FILE, WEIGHTS_FILE):  # fixed names: never a member's own path
            (Path(tmp) / name).write_bytes(files[name])
        try:
            metadata = read_metadata(tmp)
            model = load(tmp, device=device)
        except CheckpointError as err:  # name the files as they are in the ZIP, not in /tmp
            message = str(err).replace(f"{tmp}{os.sep}", prefix).replace(tmp, "the checkpoint")
            raise CheckpointError(message) from err
    return Loaded(model, metadata, metrics)


def _parse_metrics(raw: bytes | None, prefix: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        metrics = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(
            tr(
                "{prefix}{METRICS_FILE} is not valid JSON: {err}",
                prefix=prefix,
                METRICS_FILE=METRICS_FILE,
                err=err,
            )
        ) from err
    if not isinstance(metrics, dict):
        raise CheckpointError(
            tr(
                "{prefix}{METRICS_FILE} must be a JSON object",
                prefix=prefix,
                METRICS_FILE=METRICS_FILE,
            )
        )
    return metrics
