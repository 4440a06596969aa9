"""Each option's effect on token attention, measured on the validation split only.

Run: python bench/bench_token_attention.py NAME -- TRAIN_ARGS...   (one candidate per call)
Trains with `python -m dense_attention train TRAIN_ARGS --out /tmp/tokenattn/NAME` (no --refit:
validation picks the epoch, and the test split is never read for the choice), then measures
explain.attention_work's four figures over the validation split (a seeded random stratified
sample of up to 1,000) and prints one JSON row: validation accuracy, uniform flips / |dp|,
identity flips / |dp|, mean diagonal, entropy / log N, whether the criterion holds. Rows are
appended to /tmp/tokenattn/rows.jsonl.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_attention.__main__ import main  # noqa: E402
from dense_attention.data.builtin import load_dataset  # noqa: E402
from dense_attention.explain import attention_work  # noqa: E402
from dense_attention.storage import checkpoint  # noqa: E402
from dense_attention.training.train import evaluate  # noqa: E402

ROOT = Path("/tmp/tokenattn")


def run(name: str, train_args: list[str]) -> dict:
    out = ROOT / name
    if main(["train", *train_args, "--no-baseline", "--out", str(out)]) != 0:
        raise SystemExit(f"training {name} failed")
    model = checkpoint.load(out)
    meta = checkpoint.read_metadata(out)
    ds = load_dataset(meta["dataset"], seed=meta.get("split_seed", 0), limit=meta.get("limit"))
    val = model.tensors(ds.val)
    work = attention_work.measure(model, ds.val, split_name="val")
    row = {"name": name, "args": " ".join(train_args),
           "val_accuracy": round(evaluate(model, val)[1], 4),
           **attention_work.metrics_block(work)}  # fmt: skip
    with (ROOT / "rows.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")
    return row


if __name__ == "__main__":
    split = sys.argv.index("--")
    print(json.dumps(run(sys.argv[1], sys.argv[split + 1 :]), indent=1))
