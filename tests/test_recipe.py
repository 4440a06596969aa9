"""The shipped recipes as `train`'s defaults: parsed from each shipped checkpoint's recorded
command, overridden by explicit flags, shown in --help, and recorded back in full."""

import json
import shlex

import pytest

from dense_attention.__main__ import main
from dense_attention.cli import parser, recipe_dataset, train_command
from dense_attention.cli.arguments import train_recipe
from dense_attention.cli.recipe import RecipeError, describe, recorded_argv
from dense_attention.core.config import TrainConfig
from dense_attention.core.errors import DenseAttentionError
from dense_attention.data.builtin import DATASETS
from dense_attention.storage import catalog

SHIPPED = [name for name in DATASETS if (catalog.checkpoint_root() / name).is_dir()]
MODEL_FIELDS = {  # train option -> config.json's model field
    "hidden": "hidden_dim", "similarity": "similarity", "temperature": "temperature",
    "activation": "activation", "pooling": "pooling", "pool_activation": "pool_activation",
    "skip": "skip", "dropout_h": "dropout_h", "dropout_attn": "dropout_attn",
    "sequence_encoder": "sequence_encoder", "exclude_self": "exclude_self", "heads": "heads",
}  # fmt: skip
TRAIN_FIELDS = ("epochs", "batch_size", "lr", "weight_decay", "patience", "label_smoothing",
                "l1", "l2", "max_train_examples", "seed")  # fmt: skip


def parse(*argv: str):
    argv = list(argv)
    return parser(recipe_dataset(argv)).parse_args(argv)


def recorded(name: str) -> tuple[dict, dict]:
    folder = catalog.checkpoint_root() / name
    config = json.loads((folder / "config.json").read_text())["config"]
    return config, json.loads((folder / "metrics.json").read_text())


def test_every_built_in_dataset_has_a_shipped_recipe():
    assert list(DATASETS) == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_a_parsed_recipe_equals_the_settings_its_checkpoint_was_trained_with(name):
    """Against config.json (the model as built) and metrics.json's train_config (the training as
    run), not against the command the recipe is parsed from."""
    config, metrics = recorded(name)
    got = train_recipe(name)
    model = config["model"]
    for option, field in MODEL_FIELDS.items():
        if field in model:  # older checkpoints predate some fields
            assert got[option] == model[field], (option, got[option], model[field])
    encoder = config["text"] or config["image"]
    assert got["pos_dim"] == encoder["pos_dim"]
    if config["text"]:
        assert (got["embedding"], got["max_len"]) == (encoder["mode"], encoder["max_len"])
    else:
        assert got["patch"] == encoder["patch"]
    for option in TRAIN_FIELDS:  # a field an older checkpoint lacks had its default then
        want = metrics["train_config"].get(option, getattr(TrainConfig(), option))
        assert got[option] == want, option
    assert got["refit"] == (metrics.get("fit_on") == "train+val")
    assert got["refit"] == (metrics["train_config"].get("keep", "best") == "last")


@pytest.mark.parametrize("name", SHIPPED)
def test_train_with_no_flag_uses_the_recipe(name):
    args = parse("train", "--dataset", name, "--out", "x")
    recipe = train_recipe(name)
    assert {k: getattr(args, k) for k in recipe} == recipe
    assert str(args.out) == "x" and args.dataset == name


def test_an_explicit_flag_wins_over_the_recipe():
    recipe = train_recipe("digits")
    assert recipe["lr"] != 0.02 and recipe["refit"] and recipe["hidden"] != 16
    args = parse("train", "--dataset", "digits", "--lr", "0.02", "--no-refit", "--hidden", "16",
                 "--out", "x")  # fmt: skip
    assert (args.lr, args.refit, args.hidden) == (0.02, False, 16)
    assert (args.epochs, args.patch) == (recipe["epochs"], recipe["patch"])  # the rest: recipe


def test_without_a_built_in_dataset_the_defaults_are_the_plain_ones():
    plain = parse("train", "--csv", "mine.csv", "--out", "x")
    defaults = TrainConfig()
    assert (plain.lr, plain.epochs, plain.refit, plain.hidden) == (
        defaults.lr,
        defaults.epochs,
        False,
        64,
    )
    assert plain.lr != train_recipe("digits")["lr"]
    assert parse("sweep", "--dataset", "digits").hidden == 64  # only train takes the recipe


def test_help_shows_each_default_and_where_it_comes_from(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "digits", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    recipe = train_recipe("digits")
    plain = parse("train", "--csv", "x.csv", "--out", "x")
    for option in ("lr", "epochs", "hidden", "patch", "label_smoothing", "refit"):
        assert recipe[option] != getattr(plain, option), option
        assert f"(default: the shipped digits recipe, {describe(recipe[option])})" in shown
    assert f"--weight-decay WEIGHT_DECAY (default: {describe(plain.weight_decay)})" in shown
    assert "off (--no-refit): train on train and keep the epoch with the best" in shown
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert f"--lr LR (default: {describe(plain.lr)})" in shown
    assert "every default is the recipe of the shipped checkpoint" in shown


@pytest.mark.parametrize(
    "argv",
    [
        ["--dataset", "digits"],
        ["--dataset", "digits", "--no-refit", "--lr", "0.001", "--exclude-self"],
        ["--dataset", "bbc-topics", "--embedding", "learned", "--temperature", "1.0"],
        ["--csv", "mine.csv", "--refit", "--heads", "2"],
    ],
)
def test_the_recorded_command_gives_the_same_settings_with_and_without_the_recipe(argv):
    args = parse("train", *argv, "--out", "x")
    full = train_command(args)
    assert vars(parse(*full)) == vars(args)
    bare = parser(None).parse_args(full)  # how a recipe is read back: the plain parser
    assert vars(bare) == vars(args)


def test_the_recipe_is_read_at_run_time_and_a_bad_one_is_a_clear_error(tmp_path, monkeypatch,
                                                                        capsys):  # fmt: skip
    monkeypatch.setenv(catalog.CHECKPOINTS_ENV, str(tmp_path))
    folder = tmp_path / "digits"
    folder.mkdir()
    command = "python -m dense_attention train --dataset digits --lr 0.5 --refit --out elsewhere"
    (folder / "metrics.json").write_text(json.dumps({"command": command}))
    assert recorded_argv("digits") == shlex.split(command)[3:-2]
    assert parse("train", "--dataset", "digits", "--out", "x").lr == 0.5
    assert train_recipe("fashion-mnist") is None  # no shipped checkpoint: plain defaults
    assert parse("train", "--dataset", "fashion-mnist", "--out", "x").lr == TrainConfig().lr
    (folder / "metrics.json").write_text(json.dumps({"command": command + " --no-such-flag"}))
    with pytest.raises(RecipeError, match="does not parse") as err:
        train_recipe("digits")
    assert isinstance(err.value, DenseAttentionError)
    assert main(["train", "--dataset", "digits", "--out", str(tmp_path / "out")]) == 1
    assert "its recorded command does not parse" in capsys.readouterr().err


def test_digits_trained_with_no_flag_reaches_its_shipped_accuracy(tmp_path, capsys):
    """The recipe reproduces the shipped model (about 15 s of training on this CPU)."""
    shipped = recorded("digits")[1]
    out = tmp_path / "digits"
    assert main(["train", "--dataset", "digits", "--no-baseline", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert abs(metrics["test_accuracy"] - shipped["test_accuracy"]) <= 0.01, (
        metrics["test_accuracy"], shipped["test_accuracy"])  # fmt: skip
    assert metrics["train_config"] == shipped["train_config"]
    assert metrics["fit_on"] == shipped["fit_on"]
