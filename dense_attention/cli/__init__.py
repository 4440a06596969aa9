"""The command line (`python -m dense_attention ...`): arguments, the commands that train and run
models, and those that study them. May import every library layer, never ui.
"""

from __future__ import annotations

import logging
import sys

from ..core.errors import UNEXPECTED_MESSAGE, DenseAttentionError
from .arguments import parser, recipe_dataset, train_command
from .research_commands import cmd_diagnostic, cmd_faithfulness, cmd_permutation, cmd_seeds
from .train_commands import (
    cmd_eval,
    cmd_export_code,
    cmd_handout,
    cmd_sweep,
    cmd_trace,
    cmd_train,
    cmd_tune,
)

__all__ = ["main", "parser"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parser(recipe_dataset(argv)).parse_args(argv)
    except DenseAttentionError as err:  # a shipped recipe that does not parse
        print(f"error: {err}", file=sys.stderr)
        return 1
    commands = {
        "train": lambda: cmd_train(args, train_command(args)),
        "eval": lambda: cmd_eval(args),
        "trace": lambda: cmd_trace(args),
        "sweep": lambda: cmd_sweep(args),
        "tune": lambda: cmd_tune(args),
        "faithfulness": lambda: cmd_faithfulness(args, argv),
        "export-code": lambda: cmd_export_code(args),
        "diagnostic": lambda: cmd_diagnostic(args),
        "handout": lambda: cmd_handout(args),
        "seeds": lambda: cmd_seeds(args, argv),
        "permutation": lambda: cmd_permutation(args),
    }
    try:
        return commands[args.command]()
    except (DenseAttentionError, OSError) as err:  # OSError: a path given here is unreadable
        print(f"error: {err}", file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 - a bug: its traceback logged to stderr, then one line
        logging.getLogger(__name__).exception("unexpected error in %s", args.command)
        print(f"error: {UNEXPECTED_MESSAGE}", file=sys.stderr)
        return 1
