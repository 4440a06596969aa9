"""Pick a shipped text checkpoint's example sentences and store them in its metrics.json.

Run: python bench/pick_examples.py assets/checkpoints/bbc-topics [--write]
Candidates are hand-written sentences, a few per class (below). A sentence is kept when the
model classifies it as its intended class with a probability below 0.99 (so the app shows a
confidence under 100%). The kept ones are ordered by how visibly structured their attention is
(the mean attention-row entropy over log N to two decimals, lowest first; ties: shortest
first, for a first view that fits), one per class before any second of a
class; at most --keep. With --write they go to metrics.json under "examples" (what
catalog.examples_for returns) with each one's class, probability and entropy ratio beside them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dense_attention.explain import attention_work  # noqa: E402
from dense_attention.explain.faithfulness import entropy_ratio  # noqa: E402
from dense_attention.explain.verdict import DECIDES  # noqa: E402
from dense_attention.storage import checkpoint

CANDIDATES: dict[str, dict[str, list[str]]] = {  # dataset: class: sentences
    "bbc-topics": {
        "business": [
            "Shares in the carmaker fell sharply after it cut its profit forecast and warned of "
            "weaker sales in Europe.",
            "The central bank raised interest rates to curb inflation, and the dollar rose "
            "against the euro.",
            "Oil prices climbed to a record high as investors worried about supplies.",
        ],
        "entertainment": [
            "The film won three awards at the festival, and its director thanked the cast.",
            "The singer's new album went straight to number one in the UK charts.",
            "The actress will star in a West End musical based on the hit novel.",
        ],
        "politics": [
            "The prime minister faced questions from MPs over the government's plans for tax "
            "cuts before the election.",
            "Labour and the Conservatives clashed over immigration policy in the Commons.",
            "The home secretary said the bill would give police more powers to tackle terrorism.",
        ],
        "sports": [
            "The striker scored twice in the second half as Chelsea beat Arsenal to reach the "
            "cup final.",
            "England's captain was ruled out of the match against Wales with a knee injury.",
            "The champion won in straight sets to reach the quarter-finals at Wimbledon.",
        ],
        "tech": [
            "The company launched a faster mobile phone with a better camera and a longer "
            "battery life.",
            "Hackers used a new virus to attack computers running Microsoft's Windows software.",
            "More people are downloading music and watching video online over broadband.",
        ],
    },
    "tweet-sentiment": {
        "negative": [
            "My flight got cancelled again and nobody will tell us why, so annoyed",
            "Worst headache ever, can't sleep and I have an exam tomorrow",
            "So sad to hear the news, I miss you already",
        ],
        "neutral": [
            "Heading to the library to return some books this afternoon",
            "The meeting has been moved to Thursday at 3pm",
            "Watching the news before dinner",
        ],
        "positive": [
            "Had an amazing day at the beach with my best friends, feeling so happy!",
            "Thank you so much for the birthday wishes, you guys are the best",
            "Just finished my first marathon and I feel great",
            "Nice weather today, might go for a walk later",
            "Pretty good game last night",
            "Can't wait for the weekend",
        ],
    },
}
MAX_P = 0.99  # shown as below 100%


def score(folder: Path) -> list[dict]:
    """Every candidate of the checkpoint's dataset with its prediction and entropy ratio."""
    model = checkpoint.load(folder).eval()
    dataset = checkpoint.read_metadata(folder)["dataset"]
    rows = []
    for label, sentences in CANDIDATES[dataset].items():
        for sentence in sentences:
            ex = model.explain(sentence)
            probs = ex.trace.probs[0]
            predicted = ex.classes[int(probs.argmax())]
            x = ex.trace.x
            f = attention_work.example_figures(model.core, x, torch.ones(x.shape[:2], dtype=bool))
            moved = max(abs(float(f.uniform_delta[0])), abs(float(f.identity_delta[0])))
            flipped = bool(f.uniform_flipped[0] or f.identity_flipped[0])
            rows.append(dict(sentence=sentence, label=label, predicted=predicted,
                             p=round(float(probs.max()), 4),
                             entropy_ratio=round(entropy_ratio(ex.trace.attn), 4),
                             attention_decides=flipped or moved >= DECIDES,
                             attention_moves=round(moved, 4)))  # fmt: skip
    return rows


def pick(rows: list[dict], keep: int) -> list[dict]:
    """Correct and below MAX_P; those whose token attention decides first (uniform or identity
    attention moves p by DECIDES or flips it), then lowest entropy ratio, then shortest; one per
    class before seconds."""
    ok = sorted((r for r in rows if r["predicted"] == r["label"] and r["p"] < MAX_P),
                key=lambda r: (not r["attention_decides"], round(r["entropy_ratio"], 2),
                               len(r["sentence"])))  # fmt: skip
    firsts, seen = [], set()
    for r in ok:
        if r["label"] not in seen:
            firsts.append(r)
            seen.add(r["label"])
    rest = [r for r in ok if r not in firsts]
    return (firsts + rest)[:keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--keep", type=int, default=6)
    parser.add_argument("--write", action="store_true", help="store them in metrics.json")
    args = parser.parse_args()
    rows = score(args.checkpoint)
    for r in rows:
        print(f"{r['label']:>13} -> {r['predicted']:<13} p={r['p']:.3f} "
              f"H/logN={r['entropy_ratio']:.3f}  {r['sentence']}")  # fmt: skip
    chosen = pick(rows, args.keep)
    print(
        "\nchosen:\n"
        + "\n".join(
            f"{r['attention_moves']:.3f} {r['entropy_ratio']:.3f} {r['sentence']}" for r in chosen
        )
    )
    if args.write:
        path = args.checkpoint / checkpoint.METRICS_FILE
        metrics = json.loads(path.read_text())
        metrics["examples"] = [r["sentence"] for r in chosen]
        metrics["examples_detail"] = {
            "rule": "python bench/pick_examples.py: hand-written candidates the model gets right "
            f"with p < {MAX_P}; those where uniform or identity attention moves p by >= {DECIDES} "
            "(or flips it) first, then lowest mean attention entropy / log N (two decimals), then "
            "shortest; one per class first",
            "chosen": chosen,
        }
        path.write_text(json.dumps(metrics, indent=2))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
