"""diagonal: "why is my attention diagonal?" on a small cosine model at τ 0.07, its numbers
checked against torch's own cosine similarity."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from dense_attention import DenseAttention, ModelConfig
from dense_attention.explain import diagonal
from dense_attention.explain.verdict import DIAGONAL, Effect

TOKENS = ["the", "cat", "sat", "on", "the", "mat"]


def cosine_trace(temperature: float = 0.07, similarity: str = "cosine"):
    torch.manual_seed(0)
    cfg = ModelConfig(input_dim=6, hidden_dim=8, num_classes=3, similarity=similarity,
                      temperature=temperature)  # fmt: skip
    model = DenseAttention(cfg).eval()
    with torch.no_grad():
        return model.trace(torch.randn(1, len(TOKENS), 6))


def test_a_cosine_model_at_tau_007_keeps_each_token_and_the_note_says_why():
    trace = cosine_trace()
    attn = trace.attn[0]
    n = len(TOKENS)
    mean_diag = float(torch.diagonal(attn).mean())
    assert mean_diag > DIAGONAL  # the premise: cosine at τ 0.07 sits on the diagonal
    identity = Effect("mixing", "no_attention", 0.0021, 0.0, "")
    note = diagonal.why_diagonal(trace, TOKENS, 2, identity)
    assert note is not None and note.row == 2 and note.diagonal == pytest.approx(mean_diag)
    h = trace.h[0]
    cos = F.cosine_similarity(h[:, None, :], h[None, :, :], dim=-1) / 0.07  # (N, N), independent
    assert note.self_score == pytest.approx(1 / 0.07, rel=1e-5)
    others = [j for j in range(n) if j != 2]
    best = max(others, key=lambda j: float(cos[2, j]))
    assert note.other == best and note.other_score == pytest.approx(float(cos[2, best]), rel=1e-4)
    assert note.self_score > note.other_score
    assert note.self_weight == pytest.approx(float(attn[2, 2]))
    text = "\n".join(note.lines)
    assert f"{mean_diag:.0%} of the attention sits on the diagonal" in text
    assert (
        "at τ = 0.07 every token scores itself 1/τ = 14.3 and no other token can score higher"
        in text
    )
    assert "Row 3 ('sat'): its own score s_ii = 14.29, the row's next best " in text
    assert f"{float(cos[2, best]):.2f} (j = {best + 1}, '{TOKENS[best]}')" in text
    assert (
        "identity (v_i = h_i) changes p by +0.002: what the matrix adds beyond the diagonal "
        "does not decide." in text
    )
    gap = note.self_score - note.other_score
    assert (
        f"at τ = 0.14 the gap between s_ii and s_ij, {gap:.2f} now, halves to {gap / 2:.2f}" in text
    )
    assert "bilinear (h_iᵀ W_s h_j) or additive" in text


def test_no_note_when_the_diagonal_does_not_hold_most_of_the_attention():
    trace = cosine_trace(temperature=1.0)
    assert float(torch.diagonal(trace.attn[0]).mean()) <= DIAGONAL  # at τ = 1: 1 vs cos < 1
    assert diagonal.why_diagonal(trace, TOKENS, 0) is None
    assert diagonal.why_diagonal(cosine_trace(), TOKENS, len(TOKENS)) is None  # no such row


def test_a_row_whose_largest_score_is_another_token_says_so():
    trace = cosine_trace()
    scores = trace.scores.clone()
    scores[0, 0, 4] = scores[0, 0, 0] + 1.0  # token 5 now beats token 1's own score
    note = diagonal.why_diagonal(dataclasses.replace(trace, scores=scores), TOKENS, 0)
    assert note is not None and note.other == 4
    assert "but this row's largest is 15.29 (j = 5, 'the')" in "\n".join(note.lines)


def test_a_similarity_with_its_own_weights_is_not_told_to_use_one():
    trace = cosine_trace(similarity="bilinear", temperature=0.01)
    note = diagonal.why_diagonal(trace, TOKENS, 1)
    assert note is not None
    text = "\n".join(note.lines)
    assert "has its own weight W_s" in text and "or additive" not in text
    assert "Replacing the attention by the identity" not in text  # no verdict given
