"""Command line: python -m dense_attention train|eval|trace|sweep|tune|faithfulness (see --help)."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from .core.config import (
    ACTIVATIONS,
    POOL_ACTIVATIONS,
    POOLINGS,
    SEQUENCE_ENCODERS,
    SIMILARITY_NAMES,
    SKIPS,
    TrainConfig,
)
from .core.errors import UNEXPECTED_MESSAGE, DenseAttentionError
from .core.seeding import init_parameters
from .data.baselines import baseline_accuracy, baseline_validation_accuracy
from .data.builtin import DATASETS, load_dataset
from .data.dataset import Dataset
from .data.image_files import load_image
from .data.uploads import from_csv, from_image_zip
from .explain import attention_work, faithfulness
from .inputs.classifier import Classifier, build_classifier
from .inputs.image_encoder import ImageConfig
from .inputs.text_encoder import TEXT_MODES, TextConfig
from .storage import checkpoint
from .training import distributed
from .training.sweep import sweep_similarities
from .training.train import StepEvent, TrainResult, evaluate, pick_device, train
from .training.tune import DEFAULT_TRAIN as DEFAULT_TUNE_TRAIN
from .training.tune import SearchSpace, TrialRecord, TuneResult, tune


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
    p.add_argument("--exclude-self", action="store_true",
                   help="attend to the other tokens: mask a_ii before the softmax")  # fmt: skip
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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m dense_attention", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train a model and write a checkpoint folder")
    src = tr.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=DATASETS)
    src.add_argument("--csv", type=Path, help="your CSV with text and label columns")
    src.add_argument("--zip", type=Path, help="your ZIP with one folder of images per class")
    tr.add_argument("--limit", type=int, default=None, help="use at most this many examples")
    tr.add_argument("--data-path", type=Path, default=None, help="folder of Fashion-MNIST IDX")
    tr.add_argument("--no-baseline", action="store_true", help="skip the baseline's accuracy")
    tr.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    refit_help = (
        "train on train + val (the baseline's data) for all --epochs and keep the last epoch: "
        "for settings already chosen on validation or by cross-validation"
    )
    tr.add_argument("--refit", action="store_true", help=refit_help)
    _add_model_args(tr)
    _add_train_args(tr)
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
    _add_faithfulness_parser(sub)
    return top


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


def _dataset(args: argparse.Namespace) -> Dataset:
    if getattr(args, "csv", None):
        return from_csv(args.csv, seed=args.seed, name=args.csv.stem)
    if getattr(args, "zip", None):
        return from_image_zip(args.zip, seed=args.seed, name=args.zip.stem)
    return load_dataset(args.dataset, seed=args.seed, limit=args.limit, path=args.data_path)


def _encoder_options(args: argparse.Namespace, ds: Dataset) -> dict[str, Any]:
    """build_classifier's text= or image= from the encoder flags (image=None: the default)."""
    if ds.kind == "text":
        return {"text": TextConfig(args.embedding, args.max_len, args.embed_dim, args.pos_dim)}
    image = None
    if args.patch:
        size, channels = ds.train.items.shape[1], ds.train.items.shape[3]
        image = ImageConfig(size, channels, args.patch, args.pos_dim)
    return {"image": image}


def _model_options(args: argparse.Namespace, ds: Dataset) -> dict[str, Any]:
    """build_classifier's keyword arguments from the model flags."""
    options: dict[str, Any] = dict(
        hidden_dim=args.hidden, temperature=args.temperature, activation=args.activation,
        pooling=args.pooling, pool_activation=args.pool_activation, skip=args.skip,
        sequence_encoder=args.sequence_encoder, dropout_h=args.dropout_h,
        dropout_attn=args.dropout_attn, exclude_self=getattr(args, "exclude_self", False),
        **_encoder_options(args, ds),
    )  # fmt: skip
    if getattr(args, "similarity", None):
        options["similarity"] = args.similarity
    return options


def _model(args: argparse.Namespace, ds: Dataset) -> Classifier:
    return build_classifier(ds, **_model_options(args, ds))


def _train_config(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, patience=args.patience, seed=args.seed,
        device=args.device, max_seconds=args.max_seconds, l1=args.l1, l2=args.l2,
        max_train_examples=args.max_train_examples, label_smoothing=args.label_smoothing,
        keep="last" if getattr(args, "refit", False) else "best",
    )  # fmt: skip


def _steps(n: int, cfg: TrainConfig) -> int:
    """Optimiser steps of one full run on n examples (early stopping may take fewer)."""
    n = min(n, cfg.max_train_examples or n)
    return -(-n // cfg.batch_size) * cfg.epochs


def cmd_train(args: argparse.Namespace, argv: list[str]) -> int:
    """Train one classifier; launched by torchrun, as one of its DistributedDataParallel workers
    (distributed.process_group), of which rank 0 alone prints and writes the checkpoint."""
    with distributed.process_group(pick_device(args.device).type) as launch:
        return _train_worker(args, argv, launch)


def _train_worker(args: argparse.Namespace, argv: list[str], launch: distributed.Launch) -> int:
    ds = _dataset(args)
    fit = ds.train_and_val() if args.refit else ds.train
    model = _model(args, replace(ds, train=fit))  # a learned vocabulary covers what it trains on
    init_parameters(model, args.seed)
    cfg = _train_config(args)
    if launch.is_main:
        workers = f" x {launch.world_size} processes" if launch.world_size > 1 else ""
        print(f"{ds.name}: {ds.summary()} on {pick_device(args.device)}{workers}", file=sys.stderr)
    if args.refit and launch.is_main:
        print(f"refit: training on train + val ({len(fit)} examples), keeping the last epoch; "
              "validation accuracy is on examples seen in training", file=sys.stderr)  # fmt: skip
    splits = [model.tensors(s) for s in (fit, ds.val, ds.test)]
    steps = -(-_steps(len(fit), cfg) // launch.world_size)
    with tqdm(total=steps, desc="training", unit="step", file=sys.stderr, mininterval=1,
              disable=not launch.is_main) as bar:  # fmt: skip

        def on_step(event: StepEvent) -> None:
            bar.update(1)
            if event.record:
                bar.set_postfix(epoch=event.epoch, val_acc=f"{event.record.val_accuracy:.3f}")

        result = train(model, splits[0], splits[1], cfg, on_step=on_step)
    if not launch.is_main:
        return 0
    test_loss, test_acc = evaluate(model, splits[2])
    metrics = _train_metrics(args, argv, ds, cfg, result, (test_loss, test_acc))
    metrics["processes"] = launch.world_size
    metadata = {k: metrics[k] for k in ("dataset", "split_seed", "limit", "test_accuracy")}
    metadata["data_path"] = str(args.data_path) if args.data_path else None
    checkpoint.save(args.out, model, metadata)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"test accuracy {test_acc:.4f} (baseline {metrics['baseline_accuracy']})")
    print(f"wrote {args.out}")
    return 0


def _train_metrics(
    args: argparse.Namespace,
    argv: list[str],
    ds: Dataset,
    cfg: TrainConfig,
    result: TrainResult,
    test: tuple[float, float],
) -> dict[str, Any]:
    """What metrics.json records of a training run; test = (loss, accuracy) on the test split."""
    test_loss, test_acc = test
    return {
        "dataset": ds.name,
        "split_seed": ds.seed,
        "limit": args.limit,
        "sizes": ds.summary(),
        "test_accuracy": round(test_acc, 4),
        "test_loss": round(test_loss, 4),
        "baseline_accuracy": None if args.no_baseline else round(baseline_accuracy(ds), 4),
        "baseline": "TF-IDF (1-2-grams) + logistic regression"
        if ds.kind == "text"
        else "logistic regression on raw pixels",
        "fit_on": "train+val" if args.refit else "train",
        "best_epoch": result.best_epoch,
        "stopped": result.stopped,
        "train_seconds": round(result.seconds, 1),
        "device": result.device,
        "train_config": cfg.to_dict(),
        "history": [r.__dict__ for r in result.history],
        "command": "python -m dense_attention " + shlex.join(argv),
        "torch": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def cmd_eval(args: argparse.Namespace) -> int:
    model = checkpoint.load(args.checkpoint, device=pick_device(args.device))
    meta = checkpoint.read_metadata(args.checkpoint)
    if meta.get("dataset") not in DATASETS:
        print(f"{args.checkpoint} was trained on {meta.get('dataset')!r}, which is not built in")
        return 2
    ds = load_dataset(meta["dataset"], seed=meta.get("split_seed", 0), limit=meta.get("limit"))
    loss, acc = evaluate(model, model.tensors(ds.test))
    print(f"dataset={ds.name} test_examples={len(ds.test)} loss={loss:.4f}")
    print(f"accuracy={acc:.4f}")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    model = checkpoint.load(args.checkpoint)
    if model.config.kind == "text":
        if not args.text:
            print("this is a text checkpoint: give a sentence", file=sys.stderr)
            return 2
        item = args.text
    else:
        if not args.image:
            print("this is an image checkpoint: give --image FILE", file=sys.stderr)
            return 2
        item = load_image(args.image)
    ex = model.explain(item, similarity=args.similarity, temperature=args.temperature)
    t = ex.trace.numpy()
    labels = [f"{i}:{tok}" for i, tok in enumerate(ex.tokens)]
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        print(f"similarity={ex.trace.similarity} temperature={ex.trace.temperature:g}")
        if ex.truncated:
            print(f"note: {ex.truncated} tokens past the maximum length were cut off")
        print("\nattention a_ij (row i attends to column j):")
        print(pd.DataFrame(t["attn"][0], index=labels, columns=labels).round(3).to_string())
        print("\npooling weights alpha_i:")
        print(pd.Series(t["alpha"][0], index=labels).round(4).to_string())
        print("\nprediction:")
        probs = pd.Series(t["probs"][0], index=list(ex.classes)).sort_values(ascending=False)
        print(probs.round(4).to_string())
    print(f"\npredicted={ex.classes[int(np.argmax(t['probs'][0]))]}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    ds = _dataset(args)
    cfg = _train_config(args)
    print(f"{ds.name}: {ds.summary()} on {pick_device(args.device)}", file=sys.stderr)
    total = _steps(len(ds.train), cfg) * len(args.similarities)
    with tqdm(total=total, desc="sweep", unit="step", file=sys.stderr, mininterval=1) as bar:

        def on_progress(run: int, runs: int, similarity: str, event: StepEvent) -> None:
            bar.update(1)
            if event.record:
                bar.set_postfix(run=f"{run + 1}/{runs}", similarity=similarity,
                                val_acc=f"{event.record.val_accuracy:.3f}")  # fmt: skip

        result = sweep_similarities(
            ds, _model_options(args, ds), cfg, on_progress=on_progress,
            probe_index=args.probe, similarities=args.similarities,
        )  # fmt: skip
        bar.update(bar.total - bar.n)  # early stopping skips steps
    table = result.table()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"attention entropy of uniform attention (log n): {result.uniform_entropy:.4g}")
    if args.out:
        print(f"wrote {result.to_csv(args.out)}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    ds = _dataset(args)
    base = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, patience=args.patience, seed=args.seed,
        device=args.device, max_train_examples=args.max_train_examples, probes=0,
    )  # fmt: skip
    space = SearchSpace(sequence_encoders=tuple(args.sequence_encoders))
    fixed = dict(pool_activation=args.pool_activation, skip=args.skip, **_encoder_options(args, ds))
    limit = f"{args.trials} trials" + (f", {args.timeout:g} s" if args.timeout else "")
    print(f"{ds.name}: {ds.summary()} on {pick_device(args.device)}; {limit}", file=sys.stderr)

    def on_trial(record: TrialRecord, finished: int, total: int | None) -> None:
        value = "      -" if record.value is None else f"{record.value:.4f}"
        params = " ".join(f"{k}={_short(v)}" for k, v in record.params.items())
        epochs = len(record.val_curve)
        note = "" if record.note in ("completed", "early_stopping") else f" ({record.note})"
        print(f"trial {finished}/{total or '?'} {record.state:<8} val_acc={value} "
              f"epochs={epochs}{note} {record.seconds:.1f}s  {params}", flush=True)  # fmt: skip

    result = tune(ds, args.trials, timeout=args.timeout, seed=args.search_seed, on_trial=on_trial,
                  base_train_config=base, space=space, model_options=fixed,
                  reference=baseline_validation_accuracy)  # fmt: skip
    if args.out:
        print(f"wrote {result.to_csv(args.out)}")
    if result.best_number is None:
        print("no trial completed; raise --trials or --timeout", file=sys.stderr)
        return 1
    print(f"\nbest: trial {result.best_number}, validation accuracy {result.best_value:.4f}")
    for name, value in result.best_params.items():
        print(f"  {name} = {_short(value)}")
    if result.shortfall():
        print(f"\n{result.shortfall()}")
    print("\ntrain it in full with:")
    print("python -m dense_attention " + shlex.join(_tuned_train_argv(args, ds, result)))
    return 0


def _tuned_train_argv(args: argparse.Namespace, ds: Dataset, result: TuneResult) -> list[str]:
    argv = ["train", "--dataset", args.dataset]
    if args.limit is not None:
        argv += ["--limit", str(args.limit)]
    if args.data_path is not None:
        argv += ["--data-path", str(args.data_path)]
    argv += result.train_arguments()
    argv += ["--pool-activation", args.pool_activation, "--skip", args.skip]
    if ds.kind == "text":
        argv += ["--embedding", args.embedding, "--max-len", str(args.max_len),
                 "--embed-dim", str(args.embed_dim), "--pos-dim", str(args.pos_dim)]  # fmt: skip
    elif args.patch:
        argv += ["--patch", str(args.patch), "--pos-dim", str(args.pos_dim)]
    if args.max_train_examples is not None:
        argv += ["--max-train-examples", str(args.max_train_examples)]
    argv += ["--batch-size", str(args.batch_size), "--seed", str(args.seed)]
    return [*argv, "--out", f"checkpoints/{args.dataset}-tuned"]


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
    if args.work_only:
        return _attention_work_only(work, metrics, metrics_path, args, argv)
    fit_on = metrics.get("fit_on", "train")
    print(f"{ds.name}: training means of h_o and c over {fit_on}", file=sys.stderr)
    means = faithfulness.training_means(model, ds, fit_on, args.means_examples, args.seed)
    study_limit = min(args.study_limit or args.limit or len(ds.test), args.limit or len(ds.test))
    total = min(study_limit, len(ds.test))
    with tqdm(total=total, desc="faithfulness", unit="input", file=sys.stderr) as bar:
        results = faithfulness.study(
            model, ds.test, means, study_limit, args.seed,
            on_example=lambda done, _: bar.update(done - bar.n),
            ig_steps=args.ig_steps, permutations=args.permutations,
        )  # fmt: skip
    summary = faithfulness.summarize(results)
    seconds = time.perf_counter() - start
    _print_faithfulness(summary, seconds)
    _print_attention_work(work)
    block = {**summary.to_dict(), "training_means": means.to_dict(), "limit": study_limit,
             "ig_steps": args.ig_steps, "ig_baseline": faithfulness.IG_BASELINE,
             "permutations": args.permutations, "seconds": round(seconds, 1),
             "command": "python -m dense_attention " + shlex.join(argv),
             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             attention_work.METRICS_KEY: attention_work.metrics_block(work)}  # fmt: skip
    if args.out:
        from .figures.export import safe_csv  # the one CSV writer

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


def _print_faithfulness(summary: faithfulness.StudySummary, seconds: float) -> None:
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


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    commands = {
        "train": lambda: cmd_train(args, argv),
        "eval": lambda: cmd_eval(args),
        "trace": lambda: cmd_trace(args),
        "sweep": lambda: cmd_sweep(args),
        "tune": lambda: cmd_tune(args),
        "faithfulness": lambda: cmd_faithfulness(args, argv),
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


if __name__ == "__main__":
    sys.exit(main())
