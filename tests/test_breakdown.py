"""explain.breakdown: a score's parts sum to the trace's score and match a plain loop."""

import math

import pytest
import torch

from dense_attention import DenseAttention, ModelConfig
from dense_attention.core.config import SIMILARITY_NAMES
from dense_attention.explain import breakdown as bd
from dense_attention.explain.formulas import heaviest_head

N, D, d = 5, 6, 8


def _model(similarity: str, dtype=torch.float64) -> DenseAttention:
    torch.manual_seed(0)
    cfg = ModelConfig(input_dim=D, hidden_dim=d, num_classes=3, similarity=similarity)
    model = DenseAttention(cfg).to(dtype).eval()
    with torch.no_grad():  # trained-looking similarity weights, not their fixed start
        for p in model.similarity_params.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


@torch.no_grad()
def _trace(model, temperature=0.5, similarity=None):
    x = torch.randn(
        1, N, D, dtype=next(model.parameters()).dtype, generator=torch.Generator().manual_seed(1)
    )
    return model.trace(
        x, torch.ones(1, N, dtype=torch.bool), similarity=similarity, temperature=temperature
    )


def _loop_parts(h_i, h_j, similarity, p, tau):
    """The terms written out with Python floats, one dimension (or hidden unit) at a time."""
    hi, hj = [float(v) for v in h_i], [float(v) for v in h_j]
    n = len(hi)
    if similarity == "cosine":
        ni, nj = math.sqrt(sum(v * v for v in hi)), math.sqrt(sum(v * v for v in hj))
        hi, hj = [v / ni for v in hi], [v / nj for v in hj]
    if similarity in ("dot", "cosine"):
        return [hi[k] * hj[k] / tau for k in range(n)]
    if similarity == "scaled_dot":
        return [hi[k] * hj[k] / math.sqrt(n) / tau for k in range(n)]
    if similarity == "neg_euclidean":
        return [-((hi[k] - hj[k]) ** 2) / tau for k in range(n)]
    if similarity == "bilinear":
        w = p.bilinear.tolist()
        return [hi[a] * sum(w[a][b] * hj[b] for b in range(n)) / tau for a in range(n)]
    wq, wk, v = p.additive_query.tolist(), p.additive_key.tolist(), p.additive_vector.tolist()
    return [
        v[k] * math.tanh(sum(wq[k][b] * hi[b] + wk[k][b] * hj[b] for b in range(n))) / tau
        for k in range(len(v))
    ]


@pytest.mark.parametrize("similarity", SIMILARITY_NAMES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_parts_sum_to_the_trace_score(similarity, dtype):
    model = _model(similarity, dtype)
    trace = _trace(model)
    for i in range(N):
        for j in range(N):
            found = bd.cell_breakdown(model, trace, i, j)
            assert found.parts.shape == (d,)
            assert abs(found.score - float(trace.scores[0, i, j])) < 1e-5


@pytest.mark.parametrize("similarity", SIMILARITY_NAMES)
def test_parts_match_a_plain_loop(similarity):
    model = _model(similarity)
    trace = _trace(model, temperature=0.3)
    h, p = trace.h[0], model.similarity_params
    for i, j in [(0, 0), (1, 3), (4, 2)]:
        parts = bd.breakdown(trace, p, i, j).parts.tolist()
        expected = _loop_parts(h[i], h[j], similarity, p, 0.3)
        assert parts == pytest.approx(expected, abs=1e-12)


def test_a_similarity_override_uses_the_trace_similarity():
    model = _model("scaled_dot")
    trace = _trace(model, similarity="additive")
    found = bd.cell_breakdown(model, trace, 1, 2)
    assert found.unit == "hidden unit" and found.similarity == "additive"
    assert abs(found.score - float(trace.scores[0, 1, 2])) < 1e-9


def test_order_and_top():
    found = bd.ScoreBreakdown(0, 1, "dot", 1.0, torch.tensor([0.5, -2.0, 1.0, 0.0]))
    assert found.order() == [2, 0, 3, 1]  # most positive to most negative
    assert found.top(2) == [1, 2]  # by size
    assert found.name(1) == "dimension 2"


def test_the_diagonal_sentence_gives_the_cosine_gap():
    model = _model("cosine")
    tau = 0.07
    trace = _trace(model, temperature=tau)
    tokens = ["a", "b", "c", "d", "e"]
    chosen, own = (bd.cell_breakdown(model, trace, 1, k) for k in (3, 1))
    assert own.score == pytest.approx(1 / tau)  # cos(h, h) = 1
    gap = own.score - chosen.score
    sentence = bd.diagonal_sentence(chosen, own, tokens)
    assert f"s_ii = {1 / tau:.2f}" in sentence and f"{gap:.2f} more than" in sentence
    assert f"s_ij = {float(trace.scores[0, 1, 3]):.2f} for 'd'" in sentence
    # The two parts named are those adding most to the gap.
    diff = own.parts - chosen.parts
    first = int(diff.argmax())
    assert f"dimension {first + 1} ({float(diff[first]):+.2f})" in sentence
    assert "diagonal cell" in bd.diagonal_sentence(own, own, tokens)


def test_a_key_beating_the_diagonal_is_said():
    chosen = bd.ScoreBreakdown(0, 1, "bilinear", 1.0, torch.tensor([3.0, 1.0]))
    own = bd.ScoreBreakdown(0, 0, "bilinear", 1.0, torch.tensor([1.0, 1.5]))
    sentence = bd.diagonal_sentence(chosen, own, ["p", "q"])
    assert "1.50 less than s_ij = 4.00" in sentence and "beats the diagonal" in sentence
    assert sentence.index("dimension 1 (-2.00)") < sentence.index("dimension 2 (+0.50)")


def test_position_carries():
    patch_dim = 2
    x = torch.tensor([[1.0, 1.0, 1.0, 1.0], [2.0, 0.5, 1.0, -1.0]])  # (N, D): 2 pixels, 2 pos
    weight = torch.tensor([
        [0.0, 0.0, 1.0, 0.5],  # reads position only
        [1.0, -1.0, 0.0, 0.0],  # pixels only
        [1.0, 0.0, 1.0, 0.0],  # both alike
    ])  # fmt: skip
    assert bd.position_carries(x, weight, patch_dim, 0, 1) == ("position", "pixels", "")
    cfg = ModelConfig(input_dim=4, hidden_dim=3, num_classes=2)
    model = DenseAttention(cfg)
    with torch.no_grad():
        model.dense.weight.copy_(weight)
    trace = model.trace(x[None], torch.ones(1, 2, dtype=torch.bool))
    found = bd.cell_breakdown(model, trace, 0, 1, patch_dim=patch_dim)
    assert found.name(0) == "dimension 1 (position)" and found.name(2) == "dimension 3"
    assert bd.cell_breakdown(model, trace, 0, 1).carries == ()  # text: nothing more


# --------------------------------------------------------------------------- several heads
HEAD_D = 16  # hidden width that 2 and 4 heads divide


def _head_model(similarity: str, heads: int) -> DenseAttention:
    torch.manual_seed(0)
    cfg = ModelConfig(
        input_dim=D, hidden_dim=HEAD_D, num_classes=3, similarity=similarity, heads=heads
    )
    model = DenseAttention(cfg).double().eval()
    with torch.no_grad():
        for p in model.similarity_params.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def _loop_head_parts(h_i, h_j, similarity, p, tau, heads, head):
    """Head `head`'s terms written out with Python floats, from the full-width weights: the
    head's dimensions (bilinear: of h_i W_s; additive: its hidden units) k·d/H .. (k+1)·d/H."""
    hi, hj = [float(v) for v in h_i], [float(v) for v in h_j]
    n = len(hi)
    w = n // heads
    units = range(head * w, (head + 1) * w)
    if similarity == "bilinear":
        ws = p.bilinear.tolist()
        return [sum(hi[a] * ws[a][u] for a in range(n)) * hj[u] / tau for u in units]
    if similarity == "additive":
        wq, wk, v = p.additive_query.tolist(), p.additive_key.tolist(), p.additive_vector.tolist()
        return [
            v[u] * math.tanh(sum(wq[u][b] * hi[b] + wk[u][b] * hj[b] for b in range(n))) / tau
            for u in units
        ]
    qi, kj = [hi[u] for u in units], [hj[u] for u in units]
    return _loop_parts(qi, kj, similarity, p, tau)  # d = w inside the slice (scaled: sqrt(d/H))


@pytest.mark.parametrize("similarity", SIMILARITY_NAMES)
@pytest.mark.parametrize("heads", [2, 4])
def test_each_heads_parts_sum_to_its_score_and_match_a_plain_loop(similarity, heads):
    model = _head_model(similarity, heads)
    tau = 0.4
    trace = _trace(model, temperature=tau)
    assert trace.heads == heads
    h, p = trace.h[0], model.similarity_params
    for i in range(N):
        for j in range(N):
            for head in range(heads):
                found = bd.cell_breakdown(model, trace, i, j, head=head)
                assert found.parts.shape == (HEAD_D // heads,)
                assert (found.head, found.heads) == (head, heads)
                assert abs(found.score - float(trace.head_scores[0, head, i, j])) < 1e-5
                if (i + j + head) % 3 == 0:  # the slow loop on a third of the cells
                    expected = _loop_head_parts(h[i], h[j], similarity, p, tau, heads, head)
                    assert found.parts.tolist() == pytest.approx(expected, abs=1e-12)
    # the heads' scores, averaged, are the matrix's s_ij
    scores = [bd.cell_breakdown(model, trace, 1, 3, head=k).score for k in range(heads)]
    assert sum(scores) / heads == pytest.approx(float(trace.scores[0, 1, 3]), abs=1e-9)


def test_the_default_head_is_the_one_with_the_largest_weight_and_names_count_in_h():
    model = _head_model("scaled_dot", 4)
    trace = _trace(model, temperature=0.2)
    weights = trace.head_attn[0, :, 2, 4]
    found = bd.cell_breakdown(model, trace, 2, 4)
    assert found.head == int(weights.argmax()) == heaviest_head(trace, 2, 4)
    assert weights[found.head] == weights.max() and weights.max() > weights.min()
    # part 0 of head k is dimension k * d/H + 1 of h
    assert found.name(0) == f"dimension {found.head * HEAD_D // 4 + 1}"
    assert found.symbol == f"s^{found.head + 1}"
    own = bd.cell_breakdown(model, trace, 2, 2, head=found.head)
    sentence = bd.diagonal_sentence(found, own, list("abcde"))
    assert f"s^{found.head + 1}_ii = {own.score:.2f}" in sentence
    with pytest.raises(ValueError, match="head 4 of 4"):
        bd.cell_breakdown(model, trace, 2, 4, head=4)


def test_a_heads_carries_are_its_slice_of_them():
    cfg = ModelConfig(input_dim=4, hidden_dim=4, num_classes=2, heads=2)
    model = DenseAttention(cfg)
    with torch.no_grad():  # dimensions 1, 2 read pixels; 3, 4 read position
        model.dense.weight.copy_(torch.tensor([
            [1.0, 1.0, 0.0, 0.0], [1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.5],
        ]))  # fmt: skip
    x = torch.tensor([[[1.0, 2.0, 1.0, 1.0], [2.0, 0.5, 1.0, -3.0]]])
    trace = model.trace(x, torch.ones(1, 2, dtype=torch.bool))
    second = bd.cell_breakdown(model, trace, 0, 1, patch_dim=2, head=1)
    assert second.carries == ("position", "position")
    assert second.name(1) == "dimension 4 (position)"
    assert bd.cell_breakdown(model, trace, 0, 1, patch_dim=2, head=0).carries == ("pixels",) * 2


def test_under_exclude_self_the_sentence_does_not_lean_the_row_to_the_diagonal():
    chosen = bd.ScoreBreakdown(0, 1, "dot", 1.0, torch.tensor([1.0, 0.5]), head=1, heads=2)
    own = bd.ScoreBreakdown(0, 0, "dot", 1.0, torch.tensor([4.0, 0.5]), head=1, heads=2)
    kept = bd.diagonal_sentence(chosen, own, ["p", "q"])
    left_out = bd.diagonal_sentence(chosen, own, ["p", "q"], exclude_self=True)
    assert "leans to the diagonal" in kept and "s^2_ii = 4.50" in kept
    assert "leans" not in left_out and "no weight" in left_out
    assert "3.00 more than s^2_ij = 1.50" in left_out and "dimension 3 (+3.00)" in left_out
    assert "no weight" in bd.diagonal_sentence(own, own, ["p", "q"], exclude_self=True)
