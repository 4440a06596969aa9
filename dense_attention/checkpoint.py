"""Save and load models as a folder of config.json + model.safetensors; never a pickle."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from .classifier import Classifier, ClassifierConfig
from .config import ConfigError, ModelConfig
from .encoders import EncodingError
from .model import DenseAttention

FORMAT = "dense-attention-lab"
VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MAX_WEIGHTS_BYTES = 200 * 2**20  # larger files are refused before they are read

# kind -> (config from dict, model from config); other modules register their model kinds here.
MODEL_KINDS: dict[str, tuple[Callable[[dict], Any], Callable[[Any], nn.Module]]] = {
    "DenseAttention": (ModelConfig.from_dict, DenseAttention),
    "Classifier": (ClassifierConfig.from_dict, Classifier),
}


class CheckpointError(ValueError):
    """A checkpoint cannot be read or does not fit its model; the message says why."""


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; checkpoints are shared files
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
        raise CheckpointError(f"cannot save a {kind}; known kinds: {', '.join(MODEL_KINDS)}")
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
    _write_atomic(directory / WEIGHTS_FILE, save_safetensors(tensors))
    _write_atomic(directory / CONFIG_FILE, json.dumps(header, indent=2).encode())
    return directory


def read_header(directory: str | Path) -> dict[str, Any]:
    """The parsed and checked config.json of a checkpoint folder."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: not a checkpoint folder")
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a Dense Attention Lab checkpoint ({FORMAT})")
    if header.get("version") != VERSION:
        raise CheckpointError(f"{path} has version {header.get('version')!r}; expected {VERSION}")
    if header.get("kind") not in MODEL_KINDS:
        raise CheckpointError(f"{path} holds an unknown model kind {header.get('kind')!r}")
    if not isinstance(header.get("metadata", {}), dict):
        raise CheckpointError(f"{path}: metadata must be a JSON object")
    return header


def read_metadata(directory: str | Path) -> dict[str, Any]:
    return read_header(directory).get("metadata", {})


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path} is missing")
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(f"{path} is larger than {MAX_WEIGHTS_BYTES // 2**20} MB")
    try:
        return load_safetensors(path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        raise CheckpointError(f"{path} is not a readable safetensors file: {err}") from err


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
        raise CheckpointError(f"{path} does not fit its config: {' | '.join(problems)}")
    model.load_state_dict({k: t.to(expected[k].dtype) for k, t in tensors.items()})


def load(directory: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved in `directory`, in eval mode, on `device`."""
    directory = Path(directory)
    header = read_header(directory)
    config_from_dict, build = MODEL_KINDS[header["kind"]]
    try:
        config = config_from_dict(header.get("config"))
    except ConfigError as err:
        raise CheckpointError(f"{directory / CONFIG_FILE}: {err}") from err
    try:
        model = build(config)
    except EncodingError as err:  # e.g. the MiniLM package an encoder needs is missing
        raise CheckpointError(f"{directory}: {err}") from err
    _fit(model, _read_weights(directory / WEIGHTS_FILE), directory / WEIGHTS_FILE)
    return model.to(device).eval()
