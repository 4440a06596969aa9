"""toy: the Model page's tiny fixed model and sentence."""

import torch

from dense_attention.core.toy import toy_example


def test_toy_example_is_fixed_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    a, b = toy_example(), toy_example()
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.trace().logits, b.trace().logits)
    assert torch.equal(a.x[0, 0], a.x[0, 4])  # the two "the" share one embedding
    assert not a.trace().attn.requires_grad
