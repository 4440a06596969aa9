"""DenseAttention against a loop computation of docs/design.md's formulas, and its invariants."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from dense_attention import SIMILARITIES, DenseAttention, ModelConfig
from dense_attention.core import seeding
from dense_attention.core.config import (
    ACTIVATIONS,
    POOL_ACTIVATIONS,
    POOLINGS,
    SEQUENCE_ENCODERS,
    SKIPS,
    ConfigError,
)
from dense_attention.core.model import transformer_heads, weight_count
from dense_attention.storage import checkpoint

D, d, C = 5, 6, 3
ACT = {
    "identity": lambda t: t,
    "relu": lambda t: max(t, 0.0),
    "tanh": math.tanh,
    "gelu": lambda t: 0.5 * t * (1 + math.erf(t / math.sqrt(2))),
    "sigmoid": lambda t: 1 / (1 + math.exp(-t)),
}


def make(seed=0, **kw) -> DenseAttention:
    torch.manual_seed(seed)
    model = DenseAttention(ModelConfig(input_dim=D, hidden_dim=d, num_classes=C, **kw)).double()
    with torch.no_grad():  # move every weight off its initial value, biases and buffers included
        for t in itertools.chain(model.parameters(), model.buffers()):
            t.add_(0.3 * torch.randn_like(t))
    return model


def batch(seed=1, lengths=(4, 2, 3)):
    g = torch.Generator().manual_seed(seed)
    n = max(lengths)
    x = torch.randn(len(lengths), n, D, generator=g, dtype=torch.float64)
    mask = torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]
    return x, mask


def dot(u, v):
    return sum(a * b for a, b in zip(u, v, strict=True))


def sim_ref(model, name, hi, hj):
    p = model.similarity_params
    if name == "dot":
        return dot(hi, hj)
    if name == "scaled_dot":
        return dot(hi, hj) / math.sqrt(d)
    if name == "cosine":
        norm = lambda v: max(math.sqrt(dot(v, v)), 1e-8)  # noqa: E731  (a zero vector scores 0)
        return dot(hi, hj) / (norm(hi) * norm(hj))
    if name == "neg_euclidean":
        return -sum((a - b) ** 2 for a, b in zip(hi, hj, strict=True))
    if name == "additive":
        wq, wk, w = p.additive_query.tolist(), p.additive_key.tolist(), p.additive_vector.tolist()
        return sum(w[k] * math.tanh(dot(wq[k], hi) + dot(wk[k], hj)) for k in range(len(w)))
    ws = p.bilinear.tolist()
    return sum(hi[a] * ws[a][b] * hj[b] for a in range(d) for b in range(d))


def softmax(xs):
    top = max(xs)
    e = [math.exp(v - top) for v in xs]
    return [v / sum(e) for v in e]


def reference(model, x, n, similarity, tau, pooling):
    """One example's intermediates by plain loops over its n real tokens."""
    cfg = model.config
    W, b = model.dense.weight.tolist(), model.dense.bias.tolist()
    h = [[ACT[cfg.activation](dot(W[k], x[i]) + b[k]) for k in range(d)] for i in range(n)]
    scores = [[sim_ref(model, similarity, h[i], h[j]) / tau for j in range(n)] for i in range(n)]
    attn = [softmax(row) for row in scores]
    values = [[sum(attn[i][j] * h[j][k] for j in range(n)) for k in range(d)] for i in range(n)]
    if pooling == "learned":
        Wa, ba, u = model.pool_weight.tolist(), model.pool_bias.tolist(), model.pool_vector.tolist()
        e = [sum(u[k] * math.tanh(dot(Wa[k], v) + ba[k]) for k in range(d)) for v in values]
    else:
        e = [0.0] * n
    alpha = softmax(e)
    pooled = [sum(alpha[i] * values[i][k] for i in range(n)) for k in range(d)]
    c = [ACT[cfg.pool_activation](v) for v in pooled]
    h_o = [sum(h[i][k] for i in range(n)) / n for k in range(d)]
    feats = c + h_o if cfg.skip == "mean" else c
    W2, b2 = model.out.weight.tolist(), model.out.bias.tolist()
    logits = [dot(W2[k], feats) + b2[k] for k in range(C)]
    return dict(h=h, scores=scores, attn=attn, values=values, pool_scores=e, alpha=alpha,
                pooled=pooled, c=c, h_o=h_o, logits=logits, probs=softmax(logits))  # fmt: skip


def assert_matches_reference(model, similarity, tau, pooling):
    x, mask = batch()
    t = model.trace(x, mask, similarity=similarity, temperature=tau, pooling=pooling)
    for b, n in enumerate(mask.sum(1).tolist()):
        ref = reference(model, x[b].tolist(), n, similarity, tau, pooling)
        one = t.example(b)
        for name, want in ref.items():
            got = getattr(one, name)[0]
            assert torch.allclose(got, torch.tensor(want, dtype=got.dtype), atol=1e-9), name


CONFIGS = [
    dict(similarity=s, activation=a, pooling=p, pool_activation=pa, skip=k)
    for s, a, p, pa, k in itertools.product(
        SIMILARITIES, ACTIVATIONS, POOLINGS, POOL_ACTIVATIONS[:2], SKIPS
    )
    # every similarity x activation, and each of the rest with every similarity
    if (a, p, pa, k) == ("identity", "learned", "identity", "mean") or a == "tanh" or p == "mean"
]


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(kw.values()))
def test_trace_matches_loop_reference(kw):
    model = make(**kw)
    assert_matches_reference(model, kw["similarity"], 1.0, kw["pooling"])


@pytest.mark.parametrize("pool_activation", POOL_ACTIVATIONS)
@pytest.mark.parametrize("tau", [0.5, 3.0])
def test_pool_activation_and_temperature(pool_activation, tau):
    model = make(similarity="cosine", pool_activation=pool_activation, temperature=tau)
    assert_matches_reference(model, "cosine", tau, "learned")


@pytest.mark.parametrize("override", list(SIMILARITIES))
def test_override_similarity_on_a_model_trained_with_another(override):
    model = make(similarity="dot")
    assert_matches_reference(model, override, 0.7, "mean")


@pytest.mark.parametrize("seq", SEQUENCE_ENCODERS)
@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_forward_equals_trace_logits(similarity, pooling, seq):
    model = make(similarity=similarity, pooling=pooling, sequence_encoder=seq)
    x, mask = batch()
    assert torch.allclose(model(x, mask), model.trace(x, mask).logits, atol=1e-10)
    assert torch.allclose(model(x), model.trace(x).logits, atol=1e-10)


@pytest.mark.parametrize("seq", SEQUENCE_ENCODERS)
@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_rows_and_alpha_sum_to_one_over_real_tokens(similarity, seq):
    t = make(similarity=similarity, sequence_encoder=seq).trace(*batch())
    real = t.mask.double()
    keep = real[:, :, None] * real[:, None, :]
    assert torch.allclose(t.attn.sum(-1), real)
    assert torch.allclose(t.alpha.sum(-1), torch.ones(3, dtype=torch.float64))
    assert (t.attn * (1 - keep)).abs().max() == 0  # padding rows and columns get zero weight
    assert (t.alpha * (1 - real)).abs().max() == 0


@pytest.mark.parametrize("seq", SEQUENCE_ENCODERS)
@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_and_batch_change_nothing(similarity, pooling, seq):
    model = make(similarity=similarity, pooling=pooling, sequence_encoder=seq)
    x, mask = batch(lengths=(4, 2, 3))
    t = model.trace(x, mask)
    x_junk = x.clone()
    x_junk[~mask] = 1e3 * torch.randn_like(x_junk[~mask])  # padding content must not matter
    t_junk = model.trace(x_junk, mask)
    for b, n in enumerate((4, 2, 3)):
        alone = model.trace(x[b : b + 1, :n])  # the example on its own, no padding, no batch
        for name in ("attn", "values", "alpha", "pooled", "c", "h_o", "logits", "probs"):
            want = getattr(alone.example(0), name)
            assert torch.allclose(getattr(t.example(b), name), want, atol=1e-10), name
            assert torch.allclose(getattr(t_junk.example(b), name), want, atol=1e-10), name
    assert torch.allclose(model(x, mask), model(x_junk, mask), atol=1e-10)


@pytest.mark.parametrize("tau", [1.0, 0.25])
@pytest.mark.parametrize("similarity", ["dot", "scaled_dot"])
def test_values_equal_scaled_dot_product_attention(similarity, tau):
    model = make(similarity=similarity, temperature=tau)
    x, mask = batch()
    t = model.trace(x, mask)
    scale = 1 / tau / (math.sqrt(d) if similarity == "scaled_dot" else 1)
    sdpa = F.scaled_dot_product_attention(t.h, t.h, t.h, attn_mask=mask[:, None, :], scale=scale)
    assert torch.allclose(t.values[mask], sdpa[mask], atol=1e-10)


@pytest.mark.parametrize("seq", SEQUENCE_ENCODERS)
@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("kw", [dict(pooling="learned", skip="mean"), dict(pooling="mean")])
def test_gradients_reach_every_parameter(similarity, kw, seq):
    model = make(similarity=similarity, activation="tanh", sequence_encoder=seq, **kw)
    x, mask = batch()
    model(x, mask).square().sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("seq", SEQUENCE_ENCODERS)
@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("tau", [1e-4, 1.0, 1e4])
def test_no_nan_at_extremes(similarity, tau, seq):
    model = make(similarity=similarity, activation="relu", sequence_encoder=seq).float()
    x = torch.randn(4, 5, D) * 10
    x[1] = x[1, :1]  # all-identical tokens
    mask = torch.ones(4, 5, dtype=torch.bool)
    mask[2, 1:] = False  # a sequence of one token
    mask[3] = False  # a fully padded row
    x[3] = 0
    t = model.trace(x, mask, temperature=tau)
    for name, value in t.numpy().items():
        if hasattr(value, "dtype") and value.dtype != bool:
            assert torch.isfinite(torch.from_numpy(value)).all(), name
    assert torch.isfinite(model(x, mask, temperature=tau)).all()
    assert torch.allclose(t.attn[2, 0, 0], torch.tensor(1.0)) and t.alpha[2, 0] == 1
    assert t.attn[3].abs().sum() == 0 and t.alpha[3].abs().sum() == 0
    model(x, mask, temperature=tau).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_one_token_sequence_attends_to_itself():
    t = make().trace(torch.randn(1, 1, D, dtype=torch.float64))
    assert t.attn.item() == pytest.approx(1.0) and t.alpha.item() == pytest.approx(1.0)
    assert torch.allclose(t.values, t.h)


@pytest.mark.parametrize(
    "x, mask, message",
    [
        (torch.randn(2, 3), None, "shape"),
        (torch.randn(2, 3, D + 1), None, "shape"),
        (torch.randn(2, 3, D), torch.ones(2, 4, dtype=torch.bool), "mask"),
    ],
)
def test_bad_shapes_raise_clear_errors(x, mask, message):
    with pytest.raises(ValueError, match=message):
        make().float()(x, mask)


def test_bad_overrides_raise_clear_errors():
    model, x = make(), torch.randn(1, 3, D, dtype=torch.float64)
    with pytest.raises(ConfigError, match="similarity"):
        model.trace(x, similarity="manhattan")
    with pytest.raises(ConfigError, match="temperature"):
        model.trace(x, temperature=0.0)
    with pytest.raises(ConfigError, match="temperature"):
        model.trace(x, temperature=float("nan"))


# ---------------------------------------------------------------- sequence encoders


@pytest.mark.parametrize("seq", ["lstm", "transformer"])
@pytest.mark.parametrize("similarity", ["scaled_dot", "additive"])
def test_sequence_encoder_trace_is_the_formulas_applied_to_x_prime(seq, similarity):
    model = make(similarity=similarity, sequence_encoder=seq, activation="tanh")
    x, mask = batch()
    x_prime = model.encode_sequence(x, mask)
    t = model.trace(x, mask)
    assert t.x is x  # the trace keeps the input, not x'
    assert not torch.allclose(x_prime[mask], x[mask])
    for b, n in enumerate(mask.sum(1).tolist()):
        ref = reference(model, x_prime[b].tolist(), n, similarity, 1.0, "learned")
        for name, want in ref.items():
            got = getattr(t.example(b), name)[0]
            assert torch.allclose(got, torch.tensor(want, dtype=got.dtype), atol=1e-9), name


def test_lstm_reads_only_real_tokens_in_order_in_both_directions():
    model = make(sequence_encoder="lstm")
    x, _ = batch(lengths=(5, 5, 5, 5))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 1, 1, 0, 1], [0, 0, 0, 0, 0]]).bool()
    x_prime = model.encode_sequence(x, mask)
    enc = model.sequence_encoder
    for b in range(3):
        alone = enc.proj(enc.lstm(x[b : b + 1, mask[b]])[0])[0]  # real tokens only, no padding
        assert torch.allclose(x_prime[b, mask[b]], alone, atol=1e-12)
    assert x_prime[~mask].abs().max() == 0  # padding positions (and an empty row) give 0


@pytest.mark.parametrize("width, heads, projected", [(8, 4, False), (6, 2, False), (5, 1, True)])
def test_sequence_encoders_keep_the_input_width(width, heads, projected):
    x = torch.randn(2, 3, width)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    for seq in ("lstm", "transformer"):
        model = DenseAttention(ModelConfig(width, 4, 2, sequence_encoder=seq))
        assert model.encode_sequence(x, mask).shape == x.shape
    lstm = DenseAttention(ModelConfig(width, 4, 2, sequence_encoder="lstm")).sequence_encoder
    assert lstm.lstm.hidden_size == -(-width // 2) and lstm.lstm.bidirectional
    assert (lstm.proj is not None) == projected
    layer = DenseAttention(ModelConfig(width, 4, 2, sequence_encoder="transformer"))
    assert transformer_heads(width) == heads == layer.sequence_encoder.layer.self_attn.num_heads


@pytest.mark.parametrize("seq", ["lstm", "transformer"])
def test_transformer_and_lstm_match_the_layer_run_on_each_example_alone(seq):
    model = make(sequence_encoder=seq)
    x, mask = batch()
    x_prime = model.encode_sequence(x, mask)
    for b, n in enumerate(mask.sum(1).tolist()):
        if seq == "transformer":
            alone = model.sequence_encoder.layer(x[b : b + 1, :n])[0]
        else:
            enc = model.sequence_encoder
            alone = enc.proj(enc.lstm(x[b : b + 1, :n])[0])[0]
        assert torch.allclose(x_prime[b, :n], alone, atol=1e-12)


@pytest.mark.parametrize("seq", SEQUENCE_ENCODERS)
def test_checkpoint_round_trip_with_sequence_encoder(tmp_path, seq):
    model = make(similarity="cosine", sequence_encoder=seq, dropout_h=0.2, dropout_attn=0.1)
    model = model.float().eval()
    checkpoint.save(tmp_path, model)
    loaded = checkpoint.load(tmp_path)
    x, mask = batch()
    x = x.float()
    assert loaded.config == model.config
    assert torch.equal(loaded(x, mask), model(x, mask))
    assert torch.equal(loaded.trace(x, mask).attn, model.trace(x, mask).attn)


def test_config_without_the_new_fields_rebuilds_the_same_model():
    old = dict(
        input_dim=D,
        hidden_dim=d,
        num_classes=C,
        similarity="cosine",
        temperature=0.5,
        activation="gelu",
        pooling="learned",
        pool_activation="tanh",
        skip="mean",
    )
    cfg = ModelConfig.from_dict(old)
    assert (cfg.dropout_h, cfg.dropout_attn, cfg.sequence_encoder) == (0.0, 0.0, "none")
    torch.manual_seed(0)
    before = DenseAttention(cfg)
    torch.manual_seed(0)
    again = DenseAttention(ModelConfig.from_dict(old))
    assert list(before.state_dict()) == list(again.state_dict())
    pairs = zip(before.state_dict().values(), again.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    # The state dict has no key the pre-dropout model lacked.
    assert set(before.state_dict()) == {
        "pool_weight", "pool_bias", "pool_vector", "dense.weight", "dense.bias", "out.weight",
        "out.bias", "similarity_params.additive_query", "similarity_params.additive_key",
        "similarity_params.additive_vector", "similarity_params.bilinear",
    }  # fmt: skip


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("similarity", ["scaled_dot", "cosine"])  # SDPA path and explicit path
@pytest.mark.parametrize("which", ["dropout_h", "dropout_attn"])
def test_dropout_acts_in_training_only(similarity, which):
    plain = make(similarity=similarity)
    dropped = make(similarity=similarity, **{which: 0.5})
    dropped.load_state_dict(plain.state_dict())
    x, mask = batch()
    plain.train(), dropped.train()
    assert torch.equal(plain(x, mask), plain(x, mask))  # no dropout: training is deterministic
    assert not torch.allclose(dropped(x, mask), dropped(x, mask))
    assert not torch.allclose(dropped(x, mask), plain(x, mask))
    plain.eval(), dropped.eval()
    assert torch.equal(dropped(x, mask), dropped(x, mask))
    assert torch.equal(dropped(x, mask), plain(x, mask))
    t = dropped.trace(x, mask)
    assert torch.equal(t.logits, plain.trace(x, mask).logits)
    assert torch.allclose(dropped(x, mask), t.logits, atol=1e-10)


def test_dropout_in_training_keeps_attention_rows_normalised():
    model = make(dropout_h=0.3, dropout_attn=0.3).train()
    x, mask = batch()
    t = model.trace(x, mask)
    assert torch.allclose(t.attn.sum(-1), mask.double())
    assert not torch.allclose(t.values, t.attn @ t.h)  # values saw the dropped-out weights
    torch.manual_seed(5)
    a = model(x, mask)
    torch.manual_seed(5)
    assert torch.equal(model(x, mask), a)  # a seed repeats the dropout masks


@pytest.mark.parametrize("similarity", ["scaled_dot", "cosine"])
def test_training_dropout_draws_from_the_runs_generator(similarity):
    model = make(similarity=similarity, dropout_h=0.3, dropout_attn=0.3).train()
    x, mask = batch()
    state = torch.get_rng_state()
    with seeding.dropout_generator(torch.Generator().manual_seed(9)):
        a = model(x, mask)
        t = model.trace(x, mask)
    with seeding.dropout_generator(torch.Generator().manual_seed(9)):
        assert torch.equal(model(x, mask), a)  # the same generator seed, the same masks
    assert torch.equal(state, torch.get_rng_state())  # none drawn from the global RNG
    assert not torch.equal(t.logits, a)  # the generator moved on: each step new masks
    assert torch.allclose(t.attn.sum(-1), mask.double())


def test_penalised_parameters_are_the_weights_not_biases():
    model = make(similarity="bilinear", sequence_encoder="transformer")
    names = set(model.penalised_parameters())
    assert names == {
        "dense.weight", "pool_weight", "pool_vector", "out.weight", "similarity_params.bilinear",
        "sequence_encoder.layer.self_attn.in_proj_weight",
        "sequence_encoder.layer.self_attn.out_proj.weight",
        "sequence_encoder.layer.linear1.weight", "sequence_encoder.layer.linear2.weight",
    }  # fmt: skip
    mean = make(pooling="mean", sequence_encoder="lstm")  # mean pooling: W_a, u are buffers
    assert set(mean.penalised_parameters()) == {
        "dense.weight", "out.weight", "sequence_encoder.lstm.weight_ih_l0",
        "sequence_encoder.lstm.weight_hh_l0", "sequence_encoder.lstm.weight_ih_l0_reverse",
        "sequence_encoder.lstm.weight_hh_l0_reverse", "sequence_encoder.proj.weight",
    }  # fmt: skip


def test_transformer_never_masks_every_key_of_a_row(monkeypatch):
    model = make(sequence_encoder="transformer")
    seen = []
    layer = model.sequence_encoder.layer
    forward = layer.forward
    monkeypatch.setattr(layer, "forward", lambda x, **kw: seen.append(kw) or forward(x, **kw))
    x, mask = batch(lengths=(3, 1, 2))
    mask[1] = False  # an example with no real token
    out = model.encode_sequence(x, mask)
    padding = seen[0]["src_key_padding_mask"]  # True = ignore this key
    assert not padding.all(dim=1).any()  # a fully masked row gives NaN on some torch kernels
    assert torch.equal(padding[0], ~mask[0]) and torch.equal(padding[2], ~mask[2])
    assert torch.isfinite(out).all() and out[1].abs().max() == 0


# ---------------------------------------------------------------- override hooks (faithfulness)


def _trace_without_hooks(model, x, mask):
    """trace as it was computed before the override hooks, from the public building blocks."""
    cfg = model.config
    h = model.hidden(x, mask)
    attn = model.attend(h, mask, cfg.similarity, cfg.temperature)[1]
    values = attn @ h
    alpha = model.pool(values, mask, cfg.pooling)[1]
    return attn, values, alpha, model.head(values, h, mask, alpha)[-1]


@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("skip", SKIPS)
def test_trace_and_forward_without_overrides_are_bit_identical(similarity, skip):
    model = make(similarity=similarity, skip=skip).float().eval()
    x, mask = batch()
    x = x.float()
    attn, values, alpha, logits = _trace_without_hooks(model, x, mask)
    t = model.trace(x, mask)
    assert torch.equal(t.attn, attn) and torch.equal(t.values, values)
    assert torch.equal(t.alpha, alpha) and torch.equal(t.logits, logits)
    assert torch.equal(model(x, mask), model(x, mask))
    if similarity not in ("dot", "scaled_dot"):  # same path as trace: equal to the bit
        assert torch.equal(model(x, mask), logits)


def test_overrides_by_its_own_intermediates_change_nothing():
    model = make()
    x, mask = batch()
    t = model.trace(x, mask)
    again = model.trace(x, mask, attn_override=t.attn, alpha_override=t.alpha,
                        h_o_override=t.h_o, c_override=t.c)  # fmt: skip
    assert torch.equal(again.logits, t.logits)


def test_overrides_replace_each_intermediate():
    model = make(pool_activation="identity")
    x, mask = batch()
    t = model.trace(x, mask)
    eye = torch.eye(x.shape[1], dtype=x.dtype) * mask[:, :, None]  # v_i = h_i on real tokens
    no_attn = model.trace(x, mask, attn_override=eye)
    assert torch.allclose(no_attn.values, t.h * mask[..., None])
    zeros = torch.zeros(d, dtype=x.dtype)
    t0 = model.trace(x, mask, c_override=zeros, h_o_override=zeros)
    assert torch.allclose(t0.logits, model.out.bias.expand_as(t0.logits))
    uniform = mask / mask.sum(dim=1, keepdim=True)
    pooled = model.trace(x, mask, alpha_override=uniform).pooled
    assert torch.allclose(pooled, (t.values * uniform[..., None]).sum(dim=1))
    with pytest.raises(ValueError, match="alpha_override must broadcast"):
        model.trace(x, mask, alpha_override=torch.ones(7))


@pytest.mark.parametrize("skip, seq", [("mean", "none"), ("none", "none"), ("mean", "lstm"),
                                       ("none", "transformer")])  # fmt: skip
def test_weight_count_is_what_the_model_holds(skip, seq):
    """Counted from shapes (before any allocation): every parameter and buffer of the model."""
    cfg = ModelConfig(input_dim=12, hidden_dim=8, num_classes=3, skip=skip, sequence_encoder=seq)
    held = sum(t.numel() for t in DenseAttention(cfg).state_dict().values())
    assert weight_count(cfg) == held


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_exclude_self_masks_a_ii_and_renormalises_over_the_other_tokens(similarity):
    """a_ij = exp(s_ij) / sum_{k != i} exp(s_ik) over real keys, forward = trace, padding and a
    one-token example (which keeps itself) as before."""
    model = make(similarity=similarity, exclude_self=True)
    x, mask = batch(lengths=(4, 1, 3))
    t = model.trace(x, mask)
    assert torch.allclose(model(x, mask), t.logits, atol=1e-9)
    for b, n in enumerate(mask.sum(1).tolist()):
        s = t.scores[b, :n, :n].clone()
        if n > 1:
            s.fill_diagonal_(float("-inf"))
        assert torch.allclose(t.attn[b, :n, :n], torch.softmax(s, dim=-1), atol=1e-12)
        assert torch.all(t.attn[b, n:] == 0) and torch.all(t.attn[b, :, n:] == 0)
    assert t.exclude_self and t.attn[1, 0, 0].item() == pytest.approx(1.0)
    plain = make(similarity=similarity).trace(x, mask)
    assert torch.allclose(plain.scores, t.scores) and not plain.exclude_self
    assert not torch.allclose(plain.attn, t.attn)
    with pytest.raises(ConfigError, match="exclude_self"):
        ModelConfig(input_dim=D, hidden_dim=d, num_classes=C, exclude_self="yes")


# ---------------------------------------------------------------- heads (ModelConfig.heads)


def make_heads(heads, similarity, seed=0, width=8, **kw) -> DenseAttention:
    torch.manual_seed(seed)
    cfg = ModelConfig(input_dim=D, hidden_dim=width, num_classes=C, similarity=similarity,
                      heads=heads, **kw)  # fmt: skip
    model = DenseAttention(cfg).double()
    with torch.no_grad():
        for t in itertools.chain(model.parameters(), model.buffers()):
            t.add_(0.3 * torch.randn_like(t))
    return model


def head_sim_ref(model, name, hi, hj, k, heads):
    """Head k's score by plain loops: its slice of h (bilinear, additive: of their projection)."""
    p, width = model.similarity_params, len(hi)
    part = range(k * width // heads, (k + 1) * width // heads)
    si, sj = [hi[a] for a in part], [hj[a] for a in part]
    if name == "bilinear":
        ws = p.bilinear.tolist()
        return sum(hi[a] * ws[a][b] * hj[b] for a in range(width) for b in part)
    if name == "additive":
        wq, wk, w = p.additive_query.tolist(), p.additive_key.tolist(), p.additive_vector.tolist()
        return sum(w[u] * math.tanh(dot(wq[u], hi) + dot(wk[u], hj)) for u in part)
    if name == "scaled_dot":
        return dot(si, sj) / math.sqrt(len(part))
    return sim_ref(model, name, si, sj)


def head_reference(model, h, n, similarity, tau, heads):
    """Per-head scores and attention (H, n, n) and v (n, d) of one example, by plain loops."""
    width = len(h[0])
    scores = [[[head_sim_ref(model, similarity, h[i], h[j], k, heads) / tau for j in range(n)]
               for i in range(n)] for k in range(heads)]  # fmt: skip
    attn = [[softmax(row) for row in head] for head in scores]
    values = [[sum(attn[a * heads // width][i][j] * h[j][a] for j in range(n))
               for a in range(width)] for i in range(n)]  # fmt: skip
    return scores, attn, values


@pytest.mark.parametrize("heads", [2, 4])
@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_heads_match_a_plain_loop(similarity, heads):
    model = make_heads(heads, similarity, temperature=0.7)
    x, mask = batch()
    t = model.trace(x, mask)
    assert t.heads == heads and t.head_attn.shape == (3, heads, 4, 4)
    for b, n in enumerate(mask.sum(1).tolist()):
        one = t.example(b)
        scores, attn, values = head_reference(model, one.h[0].tolist(), n, similarity, 0.7, heads)
        assert torch.allclose(one.head_scores[0], torch.tensor(scores, dtype=x.dtype), atol=1e-9)
        assert torch.allclose(one.head_attn[0], torch.tensor(attn, dtype=x.dtype), atol=1e-9)
        assert torch.allclose(one.values[0], torch.tensor(values, dtype=x.dtype), atol=1e-9)
        # attn and scores are the heads' mean: rows of attn still sum to 1
        assert torch.allclose(one.attn[0], one.head_attn[0].mean(0))
        assert torch.allclose(one.attn[0].sum(-1), torch.ones(n, dtype=x.dtype))
    assert torch.allclose(model(x, mask), t.logits, atol=1e-10)


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_one_head_is_todays_model_to_the_bit(similarity):
    """heads=1 is the model before heads: same weights, same trace, and the loop reference."""
    model = make(similarity=similarity, heads=1)
    x, mask = batch()
    t = model.trace(x, mask)
    assert t.heads == 1
    assert torch.equal(t.head_attn[:, 0], t.attn) and torch.equal(t.head_scores[:, 0], t.scores)
    assert torch.equal(t.values, t.attn @ t.h)
    assert_matches_reference(model, similarity, 1.0, "learned")
    assert ModelConfig.from_dict({"input_dim": D, "hidden_dim": d, "num_classes": C}).heads == 1


def test_heads_differ_from_one_head_and_overrides_go_per_head():
    model = make_heads(2, "dot", exclude_self=True)
    x, mask = batch()
    t = model.trace(x, mask)
    one = make_heads(1, "dot", exclude_self=True)
    assert not torch.allclose(one.trace(x, mask).attn, t.attn)
    again = model.trace(x, mask, attn_override=t.head_attn)
    assert torch.equal(again.logits, t.logits)
    eye = torch.eye(4, dtype=x.dtype) * mask[:, :, None]  # (B, N, N): every head alike
    assert torch.allclose(model.trace(x, mask, attn_override=eye).values, t.h * mask[..., None])
    forced = t.head_attn.clone()
    forced[:, 1] = eye  # head 1 keeps itself: its half of v is h's half, head 0's is unchanged
    v = model.trace(x, mask, attn_override=forced).values
    assert torch.allclose(v[..., 4:], (t.h * mask[..., None])[..., 4:])
    assert torch.allclose(v[..., :4], t.values[..., :4])


def test_heads_must_divide_the_hidden_size():
    with pytest.raises(ConfigError, match="divisible by heads"):
        ModelConfig(input_dim=D, hidden_dim=6, num_classes=C, heads=4)
    with pytest.raises(ConfigError, match="heads must be a positive"):
        ModelConfig(input_dim=D, hidden_dim=6, num_classes=C, heads=0)
