"""The query–key map (after AttentionViz): every token's query and key vectors over a sample of
inputs, projected to 2-D with one PCA (numpy SVD), and what distance on it means."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..core.i18n import tr
from ..core.similarity import SimilarityParams
from ..data.builtin import load_dataset
from ..inputs.classifier import Classifier

__all__ = [
    "QueryKeyMap",
    "SampleTokens",
    "distance_sentence",
    "pca_2d",
    "query_key_map",
    "query_key_vectors",
    "sample_test_items",
    "sample_tokens",
]

SAMPLE_INPUTS = 64  # test inputs in a map's sample (MiniLM reads each one: ~3 s on 2 cores)
SAMPLE_TOKENS = 32  # each sampled text is cut to its first tokens (what MiniLM then reads)
SNIPPET_CHARS = 80  # an input's text in the hover, at most


@torch.no_grad()
def query_key_vectors(
    h: torch.Tensor, similarity: str, params: SimilarityParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """(queries, keys), each (..., k), whose comparison is the similarity: h and h for dot,
    scaled_dot and neg_euclidean; the unit vectors for cosine; h_i and W_s h_j for bilinear
    (s = h_iᵀ W_s h_j); W_q h and W_k h for additive. h: (..., d)."""
    if similarity == "cosine":
        unit = F.normalize(h, dim=-1, eps=1e-8)
        return unit, unit
    if similarity == "bilinear":
        return h, h @ params.bilinear.T  # key_j = W_s h_j
    if similarity == "additive":
        return h @ params.additive_query.T, h @ params.additive_key.T
    return h, h


def pca_2d(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean (k,), components (2, k), explained variance ratio (2,)) of `points` (M, k), by SVD
    of the centred points; a component's sign is fixed so its largest entry is positive."""
    mean = points.mean(axis=0)
    _, singular, vt = np.linalg.svd(points - mean, full_matrices=False)
    components = vt[:2]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    variance = singular**2
    explained = variance[:2] / max(float(variance.sum()), 1e-30)
    return mean, components, explained


@dataclass(frozen=True)
class SampleTokens:
    """h of every real token in a sample of inputs (one model, read once)."""

    h: torch.Tensor  # (M, d), M real tokens in all
    tokens: tuple[str, ...]  # (M,) the token each row is
    source: tuple[int, ...]  # (M,) which input it came from
    snippets: tuple[str, ...]  # per input, its text (cut to SNIPPET_CHARS) or label
    note: str  # how the sample was drawn, for the page to say


def sample_test_items(dataset: str, seed: int, n: int = SAMPLE_INPUTS) -> list:
    """n inputs of `dataset`'s test split (split seed `seed`), drawn at random with seed 0
    (a test split may be sorted by label: never its first n)."""
    test = load_dataset(dataset, seed=seed).test
    picks = sorted(random.Random(0).sample(range(len(test)), min(n, len(test))))
    return [test.items[k] for k in picks]


@torch.no_grad()
def sample_tokens(
    model: Classifier, items: Sequence, max_tokens: int = SAMPLE_TOKENS
) -> SampleTokens:
    """h of the real tokens of `items` (texts, each cut to its first `max_tokens` tokens, or
    pictures), as the model computes it in eval mode."""
    device = next(model.parameters()).device
    if model.config.kind == "text":
        batch = model.encoder.tokenize(list(items))
        ids, mask = batch.ids[:, :max_tokens].to(device), batch.mask[:, :max_tokens].to(device)
        names = [row[:max_tokens] for row in batch.tokens]
        x, mask = model.features(ids, mask)
        snippets = tuple(" ".join(str(t).split())[:SNIPPET_CHARS] for t in items)
        note = tr(
            "{items} test texts, each cut to its first {max_tokens} tokens",
            items=len(items),
            max_tokens=max_tokens,
        )
    else:
        x, mask = model.features(model.encoder.prepare(list(items)).to(device))
        names = [model.encoder.patch_labels()] * len(items)
        snippets = tuple(tr("test picture {value}", value=k + 1) for k in range(len(items)))
        note = tr("{items} test pictures", items=len(items))
    h = model.core.hidden(x, mask).float().cpu()
    keep = mask.cpu()
    tokens = tuple(t for row, m in zip(names, keep, strict=True) for t in row[: int(m.sum())])
    source = tuple(b for b, m in enumerate(keep) for _ in range(int(m.sum())))
    return SampleTokens(h[keep], tokens, source, snippets, note)


@dataclass(frozen=True)
class QueryKeyMap:
    """Queries and keys of a sample and of the current input, in one 2-D PCA plane."""

    similarity: str
    queries: np.ndarray  # (M, 2) the sample's queries
    keys: np.ndarray  # (M, 2) the sample's keys
    tokens: tuple[str, ...]  # (M,)
    hover: tuple[str, ...]  # (M,) the input each sample token comes from
    current_queries: np.ndarray  # (N, 2) the current input's queries
    current_keys: np.ndarray  # (N, 2)
    explained: np.ndarray  # (2,) variance share of the two axes (queries and keys together)
    note: str  # how the sample was drawn


@torch.no_grad()
def query_key_map(
    sample: SampleTokens, h: torch.Tensor, similarity: str, params: SimilarityParams
) -> QueryKeyMap:
    """The map of `sample` and of the current input's h (N, d) under `similarity`; the PCA is
    fitted on the sample's queries and keys together."""
    q, k = (t.double().numpy() for t in query_key_vectors(sample.h, similarity, params))
    cq, ck = (t.double().cpu().numpy() for t in query_key_vectors(h, similarity, params))
    mean, components, explained = pca_2d(np.concatenate([q, k]))

    def project(points: np.ndarray) -> np.ndarray:
        return (points - mean) @ components.T

    hover = tuple(sample.snippets[b] for b in sample.source)
    return QueryKeyMap(
        similarity, project(q), project(k), sample.tokens, hover,
        project(cq), project(ck), explained, sample.note,
    )  # fmt: skip


DISTANCE_MEANING = {
    "dot": "the score is q·k, so a query scores high with keys that point its way from the "
    "origin and are long; nearness alone is not a high score",
    "scaled_dot": "the score is q·k/√d, so a query scores high with keys that point its way "
    "from the origin and are long; nearness alone is not a high score",
    "cosine": "queries and keys are the unit vectors h/‖h‖ and ‖q − k‖² = 2 − 2·cos(q, k), so in "
    "the full space nearer means a higher score",
    "neg_euclidean": "the score is −‖q − k‖² itself, so in the full space nearer means a higher "
    "score, exactly",
    "bilinear": "keys are W_s h_j and the score is q·k, so a query scores high with keys that "
    "point its way from the origin and are long; nearness alone is not a high score",
    "additive": "the score wᵀtanh(q + k) depends on the sum of a query and a key, not on their "
    "distance: near points are tokens with similar queries (or keys), not a high score",
}


def distance_sentence(found: QueryKeyMap) -> str:
    """One sentence: what distance on the map means for its similarity, and how much of the
    spread its two axes keep."""
    same = found.similarity not in ("bilinear", "additive")
    kept = float(found.explained.sum())
    queries = (
        tr(
            "Queries and keys are the same vectors here (no separate projections): "
            "each token's query sits on its key. ",
        )
        if same
        else ""
    )
    return tr(
        "{queries}On this map {DISTANCE_MEANING}; its two axes keep {kept:.0%} "
        "of the spread, so 2-D closeness is only a hint.",
        queries=queries,
        DISTANCE_MEANING=DISTANCE_MEANING[found.similarity],
        kept=kept,
    )
