"""seeding: generator-driven initialisation and dropout leave torch's global RNG alone."""

import math
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dense_attention import DenseAttention, ModelConfig
from dense_attention.core.seeding import dropout, dropout_generator, init_parameters


def model(sequence_encoder="none", pooling="learned", similarity="additive"):
    cfg = ModelConfig(input_dim=8, hidden_dim=6, num_classes=3, pooling=pooling,
                      similarity=similarity, sequence_encoder=sequence_encoder)  # fmt: skip
    return DenseAttention(cfg)


@pytest.mark.parametrize("sequence_encoder", ["none", "lstm", "transformer"])
@pytest.mark.parametrize("pooling", ["learned", "mean"])
def test_init_from_a_seed_ignores_how_the_global_rng_stood(sequence_encoder, pooling):
    torch.manual_seed(1)
    a = init_parameters(model(sequence_encoder, pooling), seed=7)
    torch.manual_seed(2)
    b = model(sequence_encoder, pooling)
    state = torch.get_rng_state()
    init_parameters(b, seed=7)
    assert torch.equal(state, torch.get_rng_state())  # nothing drawn from the global RNG
    for (name, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), name
    c = init_parameters(model(sequence_encoder, pooling), seed=8)
    assert not torch.equal(c.dense.weight, a.dense.weight)
    assert not torch.equal(c.pool_weight, a.pool_weight)  # a buffer under mean pooling: redrawn


def test_init_keeps_each_layers_default_distribution():
    m = init_parameters(model("transformer"), seed=0)
    bound = 1 / math.sqrt(8)
    assert m.dense.weight.abs().max() <= bound and m.dense.weight.std() > bound / 3
    assert m.pool_weight.abs().max() <= 1 / math.sqrt(6) and m.pool_bias.eq(0).all()
    attn = m.sequence_encoder.layer.self_attn
    assert attn.in_proj_bias.eq(0).all() and attn.out_proj.bias.eq(0).all()
    assert m.sequence_encoder.layer.norm1.weight.eq(1).all()
    fixed = model()  # the similarity weights have a fixed initialisation, never redrawn
    assert torch.equal(fixed.similarity_params.additive_query, m.similarity_params.additive_query)
    emb = init_parameters(nn.Embedding(50, 4, padding_idx=0), seed=0)
    assert emb.weight[0].eq(0).all() and 0.7 < emb.weight[1:].std() < 1.3


def test_dropout_draws_from_the_installed_generator():
    x = torch.ones(2000)
    state = torch.get_rng_state()
    with dropout_generator(torch.Generator().manual_seed(3)):
        a = dropout(x, 0.25)
    with dropout_generator(torch.Generator().manual_seed(3)):
        b = dropout(x, 0.25)
        assert dropout(x, 1.0).eq(0).all()
    assert torch.equal(state, torch.get_rng_state())
    assert torch.equal(a, b)
    assert a.unique().tolist() == pytest.approx([0.0, 1 / 0.75])
    assert 0.2 < (a == 0).float().mean() < 0.3


def test_without_a_generator_dropout_is_f_dropout():
    x = torch.randn(50)
    torch.manual_seed(4)
    expected = F.dropout(x, 0.3)
    torch.manual_seed(4)
    assert torch.equal(dropout(x, 0.3), expected)


def test_the_generator_belongs_to_the_thread_that_installed_it():
    mine = torch.Generator().manual_seed(0)
    before, state = mine.get_state(), torch.get_rng_state()
    with dropout_generator(mine):
        other = threading.Thread(target=dropout, args=(torch.ones(100), 0.5))
        other.start()
        other.join()
    assert torch.equal(mine.get_state(), before)  # the other thread drew nothing from it...
    assert not torch.equal(torch.get_rng_state(), state)  # ...but from the global RNG
