"""Command line: python -m dense_attention train | eval | trace (see --help of each)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from . import checkpoint
from .classifier import Classifier, build_classifier
from .config import ACTIVATIONS, POOL_ACTIVATIONS, POOLINGS, SIMILARITY_NAMES, SKIPS, TrainConfig
from .data import (
    DATASETS,
    Dataset,
    baseline_accuracy,
    from_csv,
    from_image_zip,
    load_dataset,
    load_image,
)
from .encoders import TEXT_MODES, ImageConfig, TextConfig
from .train import StepEvent, evaluate, pick_device, train


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--similarity", choices=SIMILARITY_NAMES, default="scaled_dot")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--activation", choices=ACTIVATIONS, default="gelu")
    p.add_argument("--pooling", choices=POOLINGS, default="learned")
    p.add_argument("--pool-activation", choices=POOL_ACTIVATIONS, default="tanh")
    p.add_argument("--skip", choices=SKIPS, default="mean")
    p.add_argument("--hidden", type=int, default=64, help="hidden size d")
    p.add_argument("--embedding", choices=TEXT_MODES, default="learned", help="text only")
    p.add_argument("--max-len", type=int, default=64, help="text only: tokens kept")
    p.add_argument("--embed-dim", type=int, default=32, help="text only: learned embedding width")
    p.add_argument("--patch", type=int, default=None, help="images only: patch side p")
    p.add_argument("--pos-dim", type=int, default=16, help="positional embedding width")


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
    return top


def _dataset(args: argparse.Namespace) -> Dataset:
    if args.csv:
        return from_csv(args.csv, seed=args.seed, name=args.csv.stem)
    if args.zip:
        return from_image_zip(args.zip, seed=args.seed, name=args.zip.stem)
    return load_dataset(args.dataset, seed=args.seed, limit=args.limit, path=args.data_path)


def _model(args: argparse.Namespace, ds: Dataset) -> Classifier:
    options: dict[str, Any] = dict(
        similarity=args.similarity, temperature=args.temperature, activation=args.activation,
        pooling=args.pooling, pool_activation=args.pool_activation, skip=args.skip,
    )  # fmt: skip
    if ds.kind == "text":
        text = TextConfig(args.embedding, args.max_len, args.embed_dim, args.pos_dim)
        return build_classifier(ds, args.hidden, text=text, **options)
    image = None
    if args.patch:
        size, channels = ds.train.items.shape[1], ds.train.items.shape[3]
        image = ImageConfig(size, channels, args.patch, args.pos_dim)
    return build_classifier(ds, args.hidden, image=image, **options)


def cmd_train(args: argparse.Namespace, argv: list[str]) -> int:
    torch.manual_seed(args.seed)
    ds = _dataset(args)
    model = _model(args, ds)
    cfg = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, patience=args.patience, seed=args.seed,
        device=args.device, max_seconds=args.max_seconds,
    )  # fmt: skip
    print(f"{ds.name}: {ds.summary()} on {pick_device(args.device)}", file=sys.stderr)
    splits = [model.tensors(s) for s in (ds.train, ds.val, ds.test)]
    steps = -(-len(ds.train) // cfg.batch_size) * cfg.epochs
    with tqdm(total=steps, desc="training", unit="step", file=sys.stderr, mininterval=1) as bar:

        def on_step(event: StepEvent) -> None:
            bar.update(1)
            if event.record:
                bar.set_postfix(epoch=event.epoch, val_acc=f"{event.record.val_accuracy:.3f}")

        result = train(model, splits[0], splits[1], cfg, on_step=on_step)
    test_loss, test_acc = evaluate(model, splits[2])
    metrics = {
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
    metadata = {k: metrics[k] for k in ("dataset", "split_seed", "limit", "test_accuracy")}
    metadata["data_path"] = str(args.data_path) if args.data_path else None
    checkpoint.save(args.out, model, metadata)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"test accuracy {test_acc:.4f} (baseline {metrics['baseline_accuracy']})")
    print(f"wrote {args.out}")
    return 0


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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    try:
        if args.command == "train":
            return cmd_train(args, argv)
        return cmd_eval(args) if args.command == "eval" else cmd_trace(args)
    except (ValueError, OSError) as err:  # DataError, CheckpointError, EncodingError, ...
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
