"""The shipped recipes: the `train` settings a built-in dataset's shipped checkpoint was trained
with, read at run time from its metrics.json "command" and parsed by the CLI's own parser."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import Any

from ..core.errors import DenseAttentionError
from ..storage.catalog import checkpoint_root

PREFIX = ["python", "-m", "dense_attention"]
NOT_RECIPE = ("dataset", "csv", "zip", "out", "command", "limit", "data_path", "no_baseline")


class RecipeError(DenseAttentionError):
    """A shipped checkpoint's recorded command that the train command cannot parse."""


def recipe_folder(dataset: str) -> Path:
    """The folder of the shipped checkpoint named after `dataset` (it may not exist)."""
    return checkpoint_root() / dataset


def recorded_argv(dataset: str) -> list[str] | None:
    """The `train` arguments recorded in the shipped checkpoint's metrics.json, without --out;
    None when there is no such checkpoint or it records no train command."""
    path = recipe_folder(dataset) / "metrics.json"
    if not path.is_file():
        return None
    command = json.loads(path.read_text()).get("command") or ""
    argv = shlex.split(command)
    argv = argv[len(PREFIX) :] if argv[: len(PREFIX)] == PREFIX else argv
    if argv[:1] != ["train"]:
        return None
    if "--out" in argv:
        at = argv.index("--out")
        argv = argv[:at] + argv[at + 2 :]
    return argv


def parse_recorded(train: argparse.ArgumentParser, argv: list[str], source: Path) -> dict[str, Any]:
    """The settings `argv` (a `train` command's arguments) gives under the plain `train` parser:
    every option's value, by its dest, except the data source and the output folder."""
    try:
        parsed = train.parse_args([*argv[1:], "--out", "-"])
    except SystemExit as exit_:  # argparse reports a bad command by exiting
        message = f"{source}: its recorded command does not parse: {shlex.join(argv)}"
        raise RecipeError(message) from exit_
    return {k: v for k, v in vars(parsed).items() if k not in NOT_RECIPE}


def describe(value: Any) -> str:
    """A default as --help shows it: on/off for a switch, the value otherwise."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
