"""The commands that study a trained model: faithfulness (ablations, ERASER, adversarial
attention, whether attention does the work), the frozen-attention diagnostic, seed variance and
Jain & Wallace's permutation test of α."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from ..data.builtin import DATASETS, load_dataset
from ..data.dataset import Dataset
from ..explain import (
    adversarial,
    attention_work,
    diagnostic,
    eraser,
    faithfulness,
    permutation,
    seed_variance,
    study,
)
from ..figures.export import safe_csv  # the one CSV writer
from ..inputs.classifier import Classifier
from ..storage import checkpoint


def _checkpoint_and_data(directory: Path) -> tuple[Classifier, Dataset] | None:
    """A checkpoint and the built-in dataset it was trained on (its split); None if not built in."""
    meta = checkpoint.read_metadata(directory)
    if meta.get("dataset") not in DATASETS:
        print(f"{directory} was trained on {meta.get('dataset')!r}, which is not built in")
        return None
    ds = load_dataset(meta["dataset"], seed=meta.get("split_seed", 0), limit=meta.get("limit"),
                      path=meta.get("data_path"))  # fmt: skip
    return checkpoint.load(directory), ds


def cmd_diagnostic(args: argparse.Namespace) -> int:
    loaded = _checkpoint_and_data(args.checkpoint)
    if loaded is None:
        return 2
    model, ds = loaded
    result = diagnostic.run(
        model, ds, train_limit=args.train_limit, test_limit=args.test_limit, epochs=args.epochs,
        seed=args.seed, on_pooling=lambda p: print(f"fitting: {p}", file=sys.stderr),
    )  # fmt: skip
    print(result.table().to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"train={result.train_examples} test={result.test_examples} epochs={result.epochs} "
          f"seconds={result.seconds:.1f}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(result.to_dict(), indent=2))
    return 0


def cmd_seeds(args: argparse.Namespace, argv: list[str]) -> int:
    recipe = seed_variance.checkpoint_recipe(args.checkpoint)
    ds = recipe.load_data()
    seeds = seed_variance.check_seeds(range(args.first_seed, args.first_seed + args.seeds))
    epochs = args.epochs or recipe.training.epochs
    print(f"{ds.name}: {len(seeds)} seeds x {epochs} epochs, fit on {recipe.fit_on}",
          file=sys.stderr)  # fmt: skip
    with tqdm(total=len(seeds) * epochs, desc="seeds", unit="epoch", file=sys.stderr,
              mininterval=1) as bar:  # fmt: skip

        def on_step(index: int, event: Any) -> None:
            if event.record is not None:
                bar.update(1)

        result = seed_variance.run(recipe, ds, seeds, epochs=args.epochs, limit=args.limit,
                                   sample_seed=args.sample_seed, on_step=on_step)  # fmt: skip
    print(result.text())
    if args.out:
        block = result.to_dict() | {"checkpoint_test_accuracy": checkpoint.read_metadata(
            args.checkpoint).get("test_accuracy"), "command": "python -m dense_attention "
            + shlex.join(argv)}  # fmt: skip
        args.out.write_text(json.dumps(block, indent=2))
        print(f"wrote {args.out}")
    return 0


def cmd_permutation(args: argparse.Namespace) -> int:
    loaded = _checkpoint_and_data(args.checkpoint)
    if loaded is None:
        return 2
    model, ds = loaded
    start = time.perf_counter()
    found = permutation.permute_alpha(model, ds.test, args.limit, args.seed, args.draws)
    block = found.to_dict() | {"seconds": round(time.perf_counter() - start, 1)}
    print(f"{ds.name}: alpha permuted {block['draws']} times in each of {block['inputs']} test "
          f"inputs: median |dp(y)| {block['median_abs_delta']:.4f}, median TV "
          f"{block['median_tv']:.4f}, flips {block['mean_flip_rate']:.1%}; "
          f"{block['seconds']:.1f} s")  # fmt: skip
    for name, b in block["by_max_alpha"].items():
        print(f"  max alpha in {name}: {b['inputs']} inputs, median |dp| "
              f"{b['median_abs_delta']:.4f}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(block, indent=2))
    return 0


def _research(
    model: Classifier, ds: Dataset, results: list[Any], args: argparse.Namespace
) -> dict[str, Any]:
    """ERASER over the study's examples and the adversarial search over a sample: printed, and
    their metrics.json blocks."""
    summary = eraser.summarize([r.eraser for r in results])
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print("ERASER (removing = masking; top k% rounded up, at least one token)")
        print(summary.table().to_string(float_format=lambda v: f"{v:.3f}") + "\n")
    block: dict[str, Any] = {"eraser": summary.to_dict()}
    if args.adversarial_limit > 0:
        start = time.perf_counter()
        found = adversarial.study(model, ds.test, args.adversarial_limit, args.seed)
        block["adversarial"] = found.to_dict() | {"seconds": round(time.perf_counter() - start)}
        print(found.text())
    return block


def cmd_faithfulness(args: argparse.Namespace, argv: list[str]) -> int:
    start = time.perf_counter()
    model = checkpoint.load(args.checkpoint)
    meta = checkpoint.read_metadata(args.checkpoint)
    if meta.get("dataset") not in DATASETS:
        print(f"{args.checkpoint} was trained on {meta.get('dataset')!r}, which is not built in")
        return 2
    metrics_path = args.checkpoint / checkpoint.METRICS_FILE
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    ds = load_dataset(meta["dataset"], seed=meta.get("split_seed", 0), limit=meta.get("limit"),
                      path=meta.get("data_path"))  # fmt: skip
    work = attention_work.measure(model, ds.test, args.limit, args.seed)
    if model.core.config.heads > 1:  # how different the heads are, and each head's ablations
        heads = attention_work.heads_block(model, ds.test, args.limit, args.seed)
        print(f"heads: mean pairwise JSD {heads['mean_pairwise_jsd']:.3f} nats over "
              f"{heads['examples']} {heads['split']} examples")  # fmt: skip
        metrics = {**metrics, attention_work.HEADS_KEY: heads}
    if args.work_only:
        return _attention_work_only(work, metrics, metrics_path, args, argv)
    fit_on = metrics.get("fit_on", "train")
    print(f"{ds.name}: training means of h_o and c over {fit_on}", file=sys.stderr)
    means = faithfulness.training_means(model, ds, fit_on, args.means_examples, args.seed)
    study_limit = min(args.study_limit or args.limit or len(ds.test), args.limit or len(ds.test))
    total = min(study_limit, len(ds.test))
    with tqdm(total=total, desc="faithfulness", unit="input", file=sys.stderr) as bar:
        results = study.study(
            model, ds.test, means, study_limit, args.seed,
            on_example=lambda done, _: bar.update(done - bar.n),
            ig_steps=args.ig_steps, permutations=args.permutations,
        )  # fmt: skip
    summary = study.summarize(results)
    seconds = time.perf_counter() - start
    _print_faithfulness(summary, seconds)
    _print_attention_work(work)
    block = {**summary.to_dict(), "training_means": means.to_dict(), "limit": study_limit,
             "ig_steps": args.ig_steps, "ig_baseline": faithfulness.IG_BASELINE,
             "permutations": args.permutations, "seconds": round(seconds, 1),
             "command": "python -m dense_attention " + shlex.join(argv),
             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             attention_work.METRICS_KEY: attention_work.metrics_block(work)}  # fmt: skip
    block |= _research(model, ds, results, args)  # ERASER and adversarial attention
    if args.out:
        args.out.write_text(safe_csv(summary.table()))
        args.out.with_suffix(".json").write_text(json.dumps(block, indent=2))
        print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    if args.write_metrics:
        work_key = attention_work.METRICS_KEY
        metrics = {**metrics, faithfulness.METRICS_KEY: block, work_key: block[work_key]}
        metrics_path.write_text(json.dumps(metrics, indent=2))
        print(f"wrote {metrics_path} ({faithfulness.METRICS_KEY}, {work_key})")
    return 0


def _attention_work_only(
    work: attention_work.AttentionWork, metrics: dict[str, Any], metrics_path: Path,
    args: argparse.Namespace, argv: list[str],
) -> int:  # fmt: skip
    """--work-only: print the four figures and (--write-metrics) store them alone."""
    _print_attention_work(work)
    if args.write_metrics:
        command = "python -m dense_attention " + shlex.join(argv)
        block = {**attention_work.metrics_block(work), "limit": args.limit, "command": command}
        metrics = {**metrics, attention_work.METRICS_KEY: block}
        metrics_path.write_text(json.dumps(metrics, indent=2))
        print(f"wrote {metrics_path} ({attention_work.METRICS_KEY})")
    return 0


def _print_faithfulness(summary: study.StudySummary, seconds: float) -> None:
    table = summary.table()
    fmt = lambda v: f"{v:.3f}"  # noqa: E731
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for section, columns in (("ablation", ["flip_rate", "mean_abs_dp"]),
                                 ("kendall", ["kendall_tau", "defined"]),
                                 ("aopc", ["aopc"])):  # fmt: skip
            part = table[table.section == section].set_index("name")[columns]
            print(part.to_string(float_format=fmt, na_rep="-") + "\n")
    ratio = "-" if summary.entropy_ratio is None else f"{summary.entropy_ratio:.3f}"
    print(f"mean attention entropy / log N = {ratio} (1 = uniform attention, 0 = one key a row)")
    print(f"examples={summary.examples} ig_mean_abs_delta={summary.ig_abs_delta:.2e} "
          f"seconds={seconds:.1f}")  # fmt: skip


def _print_attention_work(work: attention_work.AttentionWork) -> None:
    verdict = attention_work.criterion(work)
    print(f"attention work over {work.examples} {work.split} examples (seed {work.seed}): "
          f"uniform flips {work.uniform_flip_rate:.1%} / |dp| {work.uniform_abs_delta:.3f}; "
          f"identity (v_i = h_i) flips {work.identity_flip_rate:.1%} / "
          f"|dp| {work.identity_abs_delta:.3f}; mean diagonal {work.mean_diagonal:.3f}; "
          f"entropy / log N {work.entropy_ratio:.3f}")  # fmt: skip
    print("attention does the work" if verdict.does_work
          else "attention does not do the work: " + "; ".join(verdict.failures))  # fmt: skip
