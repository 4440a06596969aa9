"""The command line's arguments: one subparser per command, sharing the model, training and
data options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.config import (
    ACTIVATIONS,
    POOL_ACTIVATIONS,
    POOLINGS,
    SEQUENCE_ENCODERS,
    SIMILARITY_NAMES,
    SKIPS,
    TrainConfig,
)
from ..data.builtin import DATASETS
from ..explain import attention_work, faithfulness, permutation, seed_variance
from ..inputs.text_encoder import TEXT_MODES
from ..training.tune import DEFAULT_TRAIN as DEFAULT_TUNE_TRAIN
from . import recipe


def _add_encoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedding", choices=TEXT_MODES, default="learned", help="text only")
    p.add_argument("--max-len", type=int, default=64, help="text only: tokens kept")
    p.add_argument("--embed-dim", type=int, default=32, help="text only: learned embedding width")
    p.add_argument("--patch", type=int, default=None, help="images only: patch side p")
    p.add_argument("--pos-dim", type=int, default=16, help="positional embedding width")


def _add_model_args(p: argparse.ArgumentParser, similarity: bool = True) -> None:
    if similarity:
        p.add_argument("--similarity", choices=SIMILARITY_NAMES, default="scaled_dot")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--activation", choices=ACTIVATIONS, default="gelu")
    p.add_argument("--pooling", choices=POOLINGS, default="learned")
    p.add_argument("--pool-activation", choices=POOL_ACTIVATIONS, default="tanh")
    p.add_argument("--skip", choices=SKIPS, default="mean")
    p.add_argument("--hidden", type=int, default=64, help="hidden size d")
    p.add_argument(
        "--sequence-encoder",
        choices=SEQUENCE_ENCODERS,
        default="none",
        help="bidirectional LSTM or one transformer layer before the dense layer",
    )
    p.add_argument("--dropout-h", type=float, default=0.0, help="dropout on h while training")
    p.add_argument("--dropout-attn", type=float, default=0.0,
                   help="dropout on the attention weights while training")  # fmt: skip
    p.add_argument("--exclude-self", action=argparse.BooleanOptionalAction, default=False,
                   help="attend to the other tokens: mask a_ii before the softmax")  # fmt: skip
    p.add_argument("--heads", type=int, default=1,
                   help="attention heads, each over its d/heads slice of h")  # fmt: skip
    _add_encoder_args(p)


def _add_train_args(p: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--lr", type=float, default=defaults.lr)
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    p.add_argument("--patience", type=int, default=defaults.patience)
    p.add_argument("--seed", type=int, default=0, help="split, initialisation and shuffling")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--max-seconds", type=float, default=None, help="training time budget")
    smoothing_help = "train against targets mixed with the uniform distribution (e.g. 0.1)"
    p.add_argument("--label-smoothing", type=float, default=0.0, help=smoothing_help)
    _add_regularisation_args(p)


def _add_regularisation_args(p: argparse.ArgumentParser, penalties: bool = True) -> None:
    if penalties:
        p.add_argument("--l1", type=float, default=0.0, help="loss += l1 * sum|w|")
        p.add_argument("--l2", type=float, default=0.0, help="loss += l2 * sum w^2")
    slice_help = "train on a stratified slice of the training split (provokes overfitting)"
    p.add_argument("--max-train-examples", type=int, default=None, help=slice_help)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=DATASETS, required=True)
    p.add_argument("--limit", type=int, default=None, help="use at most this many examples")
    p.add_argument("--data-path", type=Path, default=None, help="folder of Fashion-MNIST IDX")


_TRAIN_ABOUT = (
    "Train a model and write a checkpoint folder. With --dataset NAME, every default is the "
    "recipe of the shipped checkpoint assets/checkpoints/NAME (read from its metrics.json's "
    "command), so `train --dataset NAME --out DIR` retrains it; a flag you give wins. "
    "`train --dataset NAME --help` shows that recipe's values."
)


def _add_train_parser_args(tr: argparse.ArgumentParser) -> None:
    src = tr.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=DATASETS)
    src.add_argument("--csv", type=Path, help="your CSV with text and label columns")
    src.add_argument("--zip", type=Path, help="your ZIP with one folder of images per class")
    tr.add_argument("--limit", type=int, default=None, help="use at most this many examples")
    tr.add_argument("--data-path", type=Path, default=None, help="folder of Fashion-MNIST IDX")
    tr.add_argument("--no-baseline", action="store_true", help="skip the baseline's accuracy")
    tr.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    refit_help = (
        "on: train on train + val (the baseline's data) for all --epochs and keep the last "
        "epoch, for settings already chosen on validation; off (--no-refit): train on train "
        "and keep the epoch with the best validation loss"
    )
    tr.add_argument("--refit", action=argparse.BooleanOptionalAction, default=False,
                    help=refit_help)  # fmt: skip
    _add_model_args(tr)
    _add_train_args(tr)


def recipe_dataset(argv: list[str]) -> str | None:
    """The built-in dataset a `train` command line names with --dataset, else None."""
    if argv[:1] != ["train"]:
        return None
    peek = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    peek.add_argument("--dataset", choices=DATASETS)
    try:
        return peek.parse_known_args(argv[1:])[0].dataset
    except SystemExit:  # an unknown name: the full parser says so
        return None


def train_recipe(dataset: str) -> dict[str, Any] | None:
    """The `train` settings (by dest) of `dataset`'s shipped checkpoint, parsed from its recorded
    command by the plain `train` parser; None where no shipped checkpoint records one."""
    argv = recipe.recorded_argv(dataset)
    if argv is None:
        return None
    plain = argparse.ArgumentParser(prog="train", add_help=False)
    _add_train_parser_args(plain)
    return recipe.parse_recorded(plain, argv, recipe.recipe_folder(dataset))


def _apply_recipe(tr: argparse.ArgumentParser, dataset: str | None) -> None:
    """Make `dataset`'s recipe the defaults of `tr`, and say in each option's help its default
    and where it comes from."""
    values = train_recipe(dataset) if dataset else None
    for action in tr._actions:
        if action.dest in (*recipe.NOT_RECIPE, "help") or action.help == argparse.SUPPRESS:
            continue
        plain = action.default
        if values is not None and action.dest in values and values[action.dest] != plain:
            shown = f"the shipped {dataset} recipe, {recipe.describe(values[action.dest])}"
        else:
            shown = recipe.describe(plain)
        about = (action.help or "").replace(" (default: %(default)s)", "")  # BooleanOptional's
        action.help = f"{about} (default: {shown.replace('%', '%%')})".lstrip()
    if values is not None:
        tr.set_defaults(**values)


def train_command(args: argparse.Namespace) -> list[str]:
    """`args` (a parsed `train` command) as the command line that gives the same settings under
    the plain parser and under its dataset's recipe: every option that differs from either."""
    plain = argparse.ArgumentParser(prog="train", add_help=False)
    _add_train_parser_args(plain)
    values = (train_recipe(args.dataset) if getattr(args, "dataset", None) else None) or {}
    argv = ["train"]
    for action in plain._actions:
        value = getattr(args, action.dest, None)
        differs = value != action.default or value != values.get(action.dest, action.default)
        if not differs and action.dest not in ("out", "dataset", "csv", "zip"):
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(action.option_strings[0 if value else 1])
        elif action.nargs == 0:  # store_true
            argv += [action.option_strings[0]] if value else []
        elif value is not None:
            argv += [action.option_strings[0], str(value)]
    return argv


def parser(recipe_for: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; `recipe_for` (a built-in dataset's name) makes `train`'s defaults
    that dataset's shipped recipe (`recipe.py`), as `train --dataset NAME` does."""
    top = argparse.ArgumentParser(prog="python -m dense_attention", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a model and write a checkpoint folder",
                        description=_TRAIN_ABOUT)  # fmt: skip
    _add_train_parser_args(tr)
    _apply_recipe(tr, recipe_for)
    ev = sub.add_parser("eval", help="accuracy of a checkpoint on its dataset's test split")
    ev.add_argument("--checkpoint", type=Path, required=True)
    ev.add_argument("--device", default="auto")
    tc = sub.add_parser("trace", help="print tokens, attention matrix and alpha for one input")
    tc.add_argument("--checkpoint", type=Path, required=True)
    tc.add_argument("text", nargs="?", help="a sentence (text checkpoints)")
    tc.add_argument("--image", type=Path, help="an image file (image checkpoints)")
    tc.add_argument("--similarity", choices=SIMILARITY_NAMES, default=None)
    tc.add_argument("--temperature", type=float, default=None)
    sw = sub.add_parser("sweep", help="train one model per similarity and compare them")
    _add_data_args(sw)
    sw.add_argument("--similarities", nargs="+", choices=SIMILARITY_NAMES,
                    default=list(SIMILARITY_NAMES), help="default: all six")  # fmt: skip
    sw.add_argument("--probe", type=int, default=0, help="test example whose attention is shown")
    sw.add_argument("--csv", "--out", dest="out", type=Path, default=None,
                    help="write the table to this CSV file")  # fmt: skip
    _add_model_args(sw, similarity=False)
    _add_train_args(sw)
    _add_tune_parser(sub)
    _add_faithfulness_parser(sub)
    ex = sub.add_parser("export-code", help="write the model as model.py + model.safetensors")
    ex.add_argument("--checkpoint", type=Path, required=True)
    ex.add_argument("--out", type=Path, required=True, help="folder to write the two files in")
    _add_diagnostic_parser(sub)
    _add_handout_parser(sub)
    _add_seeds_parser(sub)
    _add_permutation_parser(sub)
    return top


def _add_tune_parser(sub: Any) -> None:
    tu = sub.add_parser("tune", help="search model and training choices with Optuna")
    _add_data_args(tu)
    tu.add_argument("--trials", type=int, default=20, help="trials at most")
    tu.add_argument("--timeout", type=float, default=None, help="seconds for the whole search")
    tu.add_argument("--search-seed", type=int, default=0, help="seed of the TPE sampler")
    tu.add_argument("--sequence-encoders", nargs="+", choices=SEQUENCE_ENCODERS,
                    default=["none"], help="sequence encoders to search")  # fmt: skip
    tu.add_argument("--csv", "--out", dest="out", type=Path, default=None,
                    help="write the trials table to this CSV file")  # fmt: skip
    tu.add_argument("--pool-activation", choices=POOL_ACTIVATIONS, default="tanh")
    tu.add_argument("--skip", choices=SKIPS, default="mean")
    _add_encoder_args(tu)
    tu.add_argument("--epochs", type=int, default=DEFAULT_TUNE_TRAIN.epochs, help="per trial")
    tu.add_argument("--batch-size", type=int, default=DEFAULT_TUNE_TRAIN.batch_size)
    tu.add_argument("--patience", type=int, default=DEFAULT_TUNE_TRAIN.patience)
    tu.add_argument("--seed", type=int, default=0, help="split, initialisation and shuffling")
    tu.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    _add_regularisation_args(tu, penalties=False)


def _add_faithfulness_parser(sub: Any) -> None:
    fa = sub.add_parser("faithfulness", help="ablations and attributions over the test split")
    fa.add_argument("--checkpoint", type=Path, required=True)
    fa.add_argument(
        "--limit",
        type=int,
        default=attention_work.SAMPLE_SIZE,
        help="test examples: a seeded random stratified sample (whole split if "
        "smaller); attention_work's four figures are measured over it",
    )
    fa.add_argument(
        "--work-only",
        action="store_true",
        help="only the attention-work figures (fast, batched): no per-example study",
    )
    fa.add_argument("--study-limit", type=int, default=None,
                    help="run the per-example study (attributions, deletion curves: slow) on "
                    "a sub-sample of this many (default: all of --limit)")  # fmt: skip
    out_help = "write the table to this CSV file and the summary beside it as .json"
    fa.add_argument("--out", type=Path, default=None, help=out_help)
    fa.add_argument("--write-metrics", action="store_true",
                    help=f"store the summary in the checkpoint's metrics.json "
                    f"under '{faithfulness.METRICS_KEY}'")  # fmt: skip
    fa.add_argument("--ig-steps", type=int, default=32, help="Integrated Gradients steps")
    fa.add_argument("--permutations", type=int, default=20, help="permuted-attention draws")
    fa.add_argument("--means-examples", type=int, default=500,
                    help="training examples the means of h_o and c are taken over")  # fmt: skip
    fa.add_argument("--seed", type=int, default=0, help="samples, permutations, random orders")
    adversarial_help = "test examples for the adversarial-attention search (0: none)"
    fa.add_argument("--adversarial-limit", type=int, default=100, help=adversarial_help)


def _add_diagnostic_parser(sub: Any) -> None:
    dg = sub.add_parser("diagnostic", help="frozen-attention diagnostic (Wiegreffe & Pinter)")
    dg.add_argument("--checkpoint", type=Path, required=True)
    dg.add_argument("--train-limit", type=int, default=2000, help="training examples (sample)")
    dg.add_argument("--test-limit", type=int, default=1000, help="test examples (sample)")
    dg.add_argument("--epochs", type=int, default=20)
    dg.add_argument("--seed", type=int, default=0)
    dg.add_argument("--out", type=Path, default=None, help="write the result as JSON")


def _add_handout_parser(sub: Any) -> None:
    ho = sub.add_parser("handout", help="the walk-through of one input as an offline HTML file")
    ho.add_argument("--checkpoint", type=Path, required=True)
    ho.add_argument("--text", help="a sentence (text checkpoints)")
    ho.add_argument("--image", type=Path, help="an image file (image checkpoints)")
    ho.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    ho.add_argument("--pdf", type=Path, default=None,
                    help="also print it to this PDF (needs Chromium)")  # fmt: skip
    ho.add_argument("--similarity", choices=SIMILARITY_NAMES, default=None)
    ho.add_argument("--temperature", type=float, default=None)


def _add_seeds_parser(sub: Any) -> None:
    about = ("seed variance (Wiegreffe & Pinter): the checkpoint's recipe trained with k seeds; "
             "the spreads of attention and of predictions")  # fmt: skip
    se = sub.add_parser("seeds", help=about)
    se.add_argument("--checkpoint", type=Path, required=True)
    se.add_argument("--seeds", type=int, default=3, help="how many seeds (2 to 10)")
    first_help = "seeds first-seed, first-seed + 1, ... (the shipped checkpoints used 0)"
    se.add_argument("--first-seed", type=int, default=1, help=first_help)
    se.add_argument("--epochs", type=int, default=None, help="default: the recipe's own")
    limit_help = "test inputs the spreads are measured on (a seeded stratified sample)"
    se.add_argument("--limit", type=int, default=seed_variance.SAMPLE_SIZE, help=limit_help)
    se.add_argument("--sample-seed", type=int, default=0, help="seed of that sample")
    se.add_argument("--out", type=Path, default=None, help="write the summary as JSON")


def _add_permutation_parser(sub: Any) -> None:
    pe = sub.add_parser("permutation", help="Jain & Wallace's permutation test: α shuffled "
                        "among each input's tokens, median change of the output")  # fmt: skip
    pe.add_argument("--checkpoint", type=Path, required=True)
    pe.add_argument("--limit", type=int, default=attention_work.SAMPLE_SIZE,
                    help="test inputs (a seeded stratified sample)")  # fmt: skip
    pe.add_argument("--draws", type=int, default=permutation.DRAWS, help="permutations per input")
    pe.add_argument("--seed", type=int, default=0, help="the sample and the permutations")
    pe.add_argument("--out", type=Path, default=None, help="write the result as JSON")
