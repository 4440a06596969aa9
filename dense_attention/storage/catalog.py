"""The shipped checkpoints: where they live, which ones there are, and what each was trained on."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.config import SIMILARITY_NAMES
from ..core.i18n import tr
from . import checkpoint

__all__ = [
    "CHECKPOINTS_ENV",
    "GENERIC_EXAMPLES",
    "VARIANTS_DIR",
    "CheckpointInfo",
    "checkpoint_root",
    "describe",
    "discover_checkpoints",
    "examples_for",
    "folder_stamps",
    "similarity_variants",
    "stamp",
    "training_metadata",
    "trained_similarity",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS_ENV = "DENSE_ATTENTION_CHECKPOINTS"  # another folder of checkpoints (dev and tests)
# <checkpoint>/similarities/<name>/: the same model trained with each similarity (same settings
# and data otherwise). Nested one level down, so the model picker does not list them.
VARIANTS_DIR = "similarities"
EXAMPLES_KEY = "examples"  # metrics.json: example sentences the checkpoint's model gets right
GENERIC_EXAMPLES = (  # for a checkpoint without its own: one sentence per shipped text task
    "The striker scored twice in the final",
    "Shares fell after the bank's profit warning",
    "The film won three awards at the festival",
    "I love this phone, the battery lasts forever",
    "Worst customer service ever",
)


def checkpoint_root() -> Path:
    """assets/checkpoints, or the folder named by $DENSE_ATTENTION_CHECKPOINTS."""
    return Path(os.environ.get(CHECKPOINTS_ENV) or REPO_ROOT / "assets" / "checkpoints")


@dataclass(frozen=True)
class CheckpointInfo:
    """A shipped checkpoint folder, read from its config.json only (weights load on demand)."""

    name: str  # the folder name, shown in the model picker
    path: Path
    kind: str  # text | image
    stamp: int  # modification time of its files (ns): a rewritten checkpoint reloads
    summary: str  # e.g. "bbc-topics · test accuracy 97.1%" (English; shown through describe)
    dataset: str = ""  # what it was trained on (the summary's first part)
    accuracy: float | None = None  # its test accuracy, when its metadata has one


def describe(info: CheckpointInfo) -> str:
    """The summary in the current language: the dataset and, when known, the test accuracy."""
    if info.accuracy is None:
        return info.summary
    return tr("{dataset} · test accuracy {accuracy:.1%}", dataset=info.dataset,
              accuracy=info.accuracy)  # fmt: skip


def stamp(folder: Path) -> int:
    """The newest modification time (ns) of a checkpoint folder's config and weights; 0 if none."""
    files = (folder / checkpoint.CONFIG_FILE, folder / checkpoint.WEIGHTS_FILE)
    return max((f.stat().st_mtime_ns for f in files if f.exists()), default=0)


def folder_stamps(root: Path) -> tuple[tuple[str, int], ...]:
    """(folder name, stamp) of every folder under `root`: a cache key that changes on a rewrite."""
    if not root.is_dir():
        return ()
    return tuple((p.name, stamp(p)) for p in sorted(root.glob("*")) if p.is_dir())


def _info(folder: Path) -> CheckpointInfo | None:
    try:
        header = checkpoint.read_header(folder)
    except checkpoint.CheckpointError:
        return None
    config = header.get("config") or {}
    if header["kind"] != "Classifier" or not isinstance(config, dict):
        return None
    meta = header.get("metadata", {})
    accuracy = meta.get("test_accuracy")
    summary = str(meta.get("dataset") or folder.name)
    if isinstance(accuracy, int | float):
        summary += f" · test accuracy {accuracy:.1%}"
    kind = "text" if config.get("text") else "image"
    known = float(accuracy) if isinstance(accuracy, int | float) else None
    dataset = str(meta.get("dataset") or folder.name)
    return CheckpointInfo(folder.name, folder, kind, stamp(folder), summary, dataset, known)


def discover_checkpoints(root: Path) -> dict[str, CheckpointInfo]:
    """Every readable classifier checkpoint directly under `root`, by folder name (sorted).

    Folders that are not (or not yet) valid checkpoints are skipped.
    """
    found = {}
    for folder in sorted(p for p in root.glob("*") if (p / checkpoint.CONFIG_FILE).is_file()):
        info = _info(folder)
        if info is not None:
            found[folder.name] = info
    return found


def training_metadata(info: CheckpointInfo | None) -> dict[str, Any]:
    """A checkpoint's metadata (dataset, split_seed, limit...); {} for None or an unreadable one."""
    try:
        return checkpoint.read_metadata(info.path) if info else {}
    except checkpoint.CheckpointError:
        return {}


def examples_for(info: CheckpointInfo | None) -> tuple[str, ...]:
    """Example sentences that belong to a text checkpoint, best first: its metrics.json's
    "examples" (sentences its model classifies correctly, with confidence below 100%, the first
    with the most visibly structured attention). GENERIC_EXAMPLES for None, an image checkpoint,
    or one without readable examples."""
    if info is None or info.kind != "text":
        return GENERIC_EXAMPLES
    try:
        metrics = json.loads((info.path / checkpoint.METRICS_FILE).read_text())
    except (OSError, ValueError):
        return GENERIC_EXAMPLES
    found = metrics.get(EXAMPLES_KEY) if isinstance(metrics, dict) else None
    if not isinstance(found, list):
        return GENERIC_EXAMPLES
    sentences = tuple(s for s in found if isinstance(s, str) and s.strip())
    return sentences or GENERIC_EXAMPLES


def example_sentences() -> list[str]:
    """Every sentence the app offers: each text checkpoint's examples and the generic ones."""
    texts = list(GENERIC_EXAMPLES)
    for info in discover_checkpoints(checkpoint_root()).values():
        texts += [t for t in examples_for(info) if t not in texts]
    return texts


def trained_similarity(info: CheckpointInfo) -> str | None:
    """The similarity a checkpoint was trained with (its config.json); None if unreadable."""
    try:
        model = checkpoint.read_header(info.path).get("config", {}).get("model", {})
    except (checkpoint.CheckpointError, AttributeError):
        return None
    similarity = model.get("similarity") if isinstance(model, dict) else None
    return similarity if isinstance(similarity, str) else None


def similarity_variants(info: CheckpointInfo | None) -> dict[str, CheckpointInfo]:
    """The checkpoints of `info`'s model trained with each similarity, by similarity name: the
    readable ones under <info.path>/similarities/<name>/ whose config says they were trained with
    <name>, and `info` itself under its own similarity. {} when it has no variants."""
    if info is None or not (info.path / VARIANTS_DIR).is_dir():
        return {}
    found = discover_checkpoints(info.path / VARIANTS_DIR)
    variants = {
        n: v for n, v in found.items() if n in SIMILARITY_NAMES and trained_similarity(v) == n
    }
    own = trained_similarity(info)
    if not variants or own is None:
        return {}
    return {**variants, own: info}
