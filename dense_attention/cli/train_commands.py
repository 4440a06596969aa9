"""The commands that train and run models: train (torchrun too), eval, trace, handout,
export-code, sweep and tune."""

from __future__ import annotations

import argparse
import json
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

from ..core.config import (
    TrainConfig,
)
from ..core.seeding import init_parameters
from ..data.baselines import baseline_accuracy, baseline_validation_accuracy
from ..data.builtin import DATASETS, load_dataset
from ..data.dataset import Dataset
from ..data.image_files import load_image
from ..data.images import presentation_pictures, resized_input
from ..data.uploads import from_csv, from_image_zip
from ..explain import faithfulness, verdict
from ..figures import code_export, handout
from ..figures.export import Provenance
from ..inputs.classifier import Classifier, build_classifier
from ..inputs.image_encoder import ImageConfig
from ..inputs.text_encoder import TextConfig
from ..storage import catalog, checkpoint
from ..training import distributed
from ..training.sweep import sweep_similarities
from ..training.train import StepEvent, TrainResult, evaluate, pick_device, train
from ..training.tune import SearchSpace, TrialRecord, TuneResult, tune


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
        heads=getattr(args, "heads", 1),
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


def _input_of(model: Classifier, args: argparse.Namespace) -> Any | None:
    """The input the command names for this checkpoint (args.text or --image), or None after
    saying on stderr which one its kind needs."""
    if model.config.kind == "text":
        if not args.text:
            print("this is a text checkpoint: give a sentence", file=sys.stderr)
            return None
        return args.text
    if not args.image:
        print("this is an image checkpoint: give --image FILE", file=sys.stderr)
        return None
    return load_image(args.image)


def cmd_trace(args: argparse.Namespace) -> int:
    model = checkpoint.load(args.checkpoint)
    item = _input_of(model, args)
    if item is None:
        return 2
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


def cmd_export_code(args: argparse.Namespace) -> int:
    model = checkpoint.load(args.checkpoint)
    folder = Path(args.checkpoint)
    if model.config.kind == "text":
        info = catalog.CheckpointInfo(folder.name, folder, "text", 0, "")
        about = catalog.examples_for(info)[0]
        x = model.explain(about).trace.x
    else:
        about, picture = next(iter(presentation_pictures(checkpoint.read_metadata(folder)).items()))
        x = model.explain(picture).trace.x
    title = f"The {folder.resolve().name} model"
    written = code_export.export_classifier(model, x, about, title).write(args.out)
    for path in written:
        print(path)
    print(f"run it: cd {args.out} && python {written[0].name}")
    return 0


def cmd_handout(args: argparse.Namespace) -> int:
    model = checkpoint.load(args.checkpoint)
    item = _input_of(model, args)
    if item is None:
        return 2
    live = {"similarity": args.similarity, "temperature": args.temperature}
    live = {name: value for name, value in live.items() if value is not None}
    ex = model.explain(item, **live)
    config = replace(model.config.model, **live)
    found = verdict.judge_input(
        model, faithfulness.features_of(model, item), faithfulness.stored_means(args.checkpoint),
        live,
    )  # fmt: skip
    label = args.text if model.config.kind == "text" else args.image.name
    about = Provenance(
        Path(args.checkpoint).resolve().name, ex.trace.similarity, ex.trace.temperature,
        config.pooling, text=label, verdict=found.text,
    )  # fmt: skip
    inputs = model.config.text or model.config.image
    picture = None if model.config.kind == "text" else handout.picture_png(
        resized_input(model, item)
    )  # fmt: skip
    page = handout.handout_html(ex, config, about=about, inputs=inputs, picture=picture)
    args.out.write_text(page, encoding="utf-8")
    print(f"{args.out} ({len(page.encode('utf-8')) / 1e6:.1f} MB)")
    if args.pdf is not None:
        args.pdf.write_bytes(pdf := handout.handout_pdf(page))
        print(f"{args.pdf} ({len(pdf) / 1e6:.1f} MB)")
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


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
