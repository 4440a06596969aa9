"""faithfulness: each measure against an independent computation, planted models, bad inputs."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tiny import dense_model, image_classifier, image_dataset, shaken

from dense_attention import DenseAttention, ModelConfig
from dense_attention.core.trace import attention_entropy
from dense_attention.explain import faithfulness as fa
from dense_attention.explain import study
from dense_attention.inputs.classifier import Classifier, ClassifierConfig
from dense_attention.inputs.encoding import EncodingError
from dense_attention.inputs.image_encoder import ImageConfig
from dense_attention.inputs.text_encoder import TextConfig

D, d, C = 6, 8, 3


def make(seed=0, **kw) -> DenseAttention:
    return dense_model(seed, "scaled_dot", (D, d, C), **kw)


def inputs(seed=1, n=7):
    return torch.randn(1, n, D, generator=torch.Generator().manual_seed(seed))


def prob(model, x, mask=None):
    with torch.no_grad():
        return torch.softmax(model(x, mask), dim=-1)[0]


@pytest.fixture(scope="module")
def result():
    model = make()
    means = fa.TrainingMeans(h_o=np.full(d, 0.1, np.float32), c=np.zeros(d, np.float32),
                             examples=1, split="train")  # fmt: skip
    return model, inputs(), fa.analyze_features(model, inputs(), means=means, ig_steps=64)


def test_integrated_gradients_are_complete_within_captums_delta(result):
    model, x, r = result
    p_x, p_0 = prob(model, x)[r.predicted], prob(model, torch.zeros_like(x))[r.predicted]
    total = float(r.importance["integrated_gradients"].sum())
    assert total - float(p_x - p_0) == pytest.approx(r.ig_delta, abs=1e-5)
    assert abs(r.ig_delta) < 0.01


def test_occlusion_equals_a_rerun_with_the_token_masked(result):
    model, x, r = result
    for j in range(x.shape[1]):
        mask = torch.ones(1, x.shape[1], dtype=torch.bool)
        mask[0, j] = False
        p = prob(model, x, mask)[r.predicted]
        assert r.importance["occlusion"][j] == pytest.approx(float(r.probs[r.predicted] - p),
                                                             abs=1e-6)  # fmt: skip
        assert r.knockout.flipped[j] == (int(prob(model, x, mask).argmax()) != r.predicted)


def test_uniform_attention_equals_a_model_built_by_hand(result):
    model, x, r = result
    with torch.no_grad():
        h = F.gelu(x[0] @ model.dense.weight.T + model.dense.bias)  # (n, d)
        v = h.mean(dim=0).expand_as(h)  # a_ij = 1/N: every v_i is the mean of h
        e = torch.tanh(v @ model.pool_weight.T + model.pool_bias) @ model.pool_vector
        c = torch.tanh((torch.softmax(e, dim=0)[:, None] * v).sum(dim=0))
        logits = model.out.weight @ torch.cat([c, h.mean(dim=0)]) + model.out.bias
    expected = torch.softmax(logits, dim=0).numpy()
    np.testing.assert_allclose(r.ablations["uniform"].probs, expected, atol=1e-6)
    assert r.ablations["uniform"].delta == pytest.approx(
        float(expected[r.predicted] - r.probs[r.predicted]), abs=1e-6
    )


def test_ablations_alone_are_the_analysis_ablations_and_skip_padding(result):
    """ablations_of (the badge's cheap path) gives the full analysis's numbers, same draws."""
    model, x, r = result
    means = fa.TrainingMeans(h_o=np.full(d, 0.1, np.float32), c=np.zeros(d, np.float32),
                             examples=1, split="train")  # fmt: skip
    padded = torch.cat([x, torch.randn(1, 2, D)], dim=1)
    mask = torch.tensor([[True] * x.shape[1] + [False, False]])
    alone = fa.ablations_of(model, padded, mask, means)
    assert list(alone) == list(r.ablations)
    for name, ablation in alone.items():
        np.testing.assert_allclose(ablation.probs, r.ablations[name].probs, atol=1e-6)
        assert ablation.delta == pytest.approx(r.ablations[name].delta, abs=1e-6)
        assert ablation.flip_rate == r.ablations[name].flip_rate


def test_alpha_and_received_follow_their_formulas(result):
    model, x, r = result
    with torch.no_grad():
        t = model.trace(x)
    np.testing.assert_allclose(r.importance["alpha"], t.alpha[0].detach(), atol=1e-7)
    received = [sum(float(t.alpha[0, i] * t.attn[0, i, j]) for i in range(7)) for j in range(7)]
    np.testing.assert_allclose(r.importance["received"], received, atol=1e-6)


def test_padding_changes_nothing():
    model, x = make(), inputs()
    padded = torch.cat([x[:, :3], 100 * torch.randn(1, 2, D), x[:, 3:]], dim=1)
    mask = torch.tensor([[True] * 3 + [False] * 2 + [True] * 4])
    a, b = fa.analyze_features(model, x), fa.analyze_features(model, padded, mask)
    np.testing.assert_allclose(a.knockout.probs, b.knockout.probs, atol=1e-6)
    for name in fa.ABLATIONS[:4]:
        np.testing.assert_allclose(a.ablations[name].probs, b.ablations[name].probs, atol=1e-6)
    tokens = fa.analyze_features(model, padded, mask, tokens=list("abcdefghi")).tokens
    assert tokens == tuple("abcfghi")


def test_every_ablation_gives_finite_probabilities_summing_to_one(result):
    _, x, r = result
    assert list(r.ablations) == list(fa.ABLATIONS)
    for ab in r.ablations.values():
        assert np.isfinite(ab.probs).all() and ab.probs.sum() == pytest.approx(1, abs=1e-5)
        assert 0 <= ab.flip_rate <= 1 and ab.abs_delta >= abs(ab.delta) - 1e-7
    np.testing.assert_allclose(r.knockout.probs.sum(axis=1), 1, atol=1e-5)
    assert r.ablations["permuted"].delta_std >= 0 and r.ablations["uniform"].delta_std == 0


def test_deletion_curves_and_agreement(result):
    _, x, r = result
    assert set(r.deletion) == {*fa.METHODS, fa.RANDOM}
    occ = r.deletion["occlusion"]
    assert occ.removed[0] == 0 and occ.removed[-1] == x.shape[1]
    assert occ.probs[0] == pytest.approx(float(r.probs[r.predicted]), abs=1e-6)
    assert occ.aopc == pytest.approx(np.mean(occ.probs[0] - occ.probs), abs=1e-7)
    assert r.kendall[("alpha", "received")] is not None and len(r.kendall) == 10
    m = r.tau_matrix()
    assert m.shape == (5, 5) and np.allclose(m, m.T, equal_nan=True)


def test_entropy_ratio_is_0_for_one_key_rows_1_for_uniform_and_ignores_padding():
    n = 5
    assert fa.entropy_ratio(torch.eye(n)) == 0
    assert fa.entropy_ratio(torch.full((1, n, n), 1 / n)) == pytest.approx(1)
    padded = torch.zeros(1, 7, 7)
    padded[0, :n, :n] = 1 / n
    assert fa.entropy_ratio(padded, torch.arange(7)[None] < n) == pytest.approx(1)
    assert np.isnan(fa.entropy_ratio(torch.ones(1, 1, 1)))


def test_the_results_entropy_ratio_is_the_traces_mean_row_entropy_over_log_n(result):
    model, x, r = result
    with torch.no_grad():
        entropy = attention_entropy(model.trace(x).attn)[0]  # (N,) nats
    assert r.entropy_ratio == pytest.approx(entropy.mean() / np.log(x.shape[1]), rel=1e-6)
    assert 0 < r.entropy_ratio < 1


def test_permuted_attention_shuffles_within_rows():
    attn = torch.softmax(torch.randn(1, 5, 5), dim=-1)
    out = fa.permuted_attention(attn, 4, torch.Generator().manual_seed(0))
    assert out.shape == (4, 5, 5)
    assert torch.allclose(out.sort(dim=-1).values, attn.sort(dim=-1).values.expand(4, 5, 5))


# ---------------------------------------------------------------- planted models


def _summary(model, n_inputs=12, n=6):
    results = [fa.analyze_features(model, _planted_input(i, n), ig_steps=8, permutations=10)
               for i in range(n_inputs)]  # fmt: skip
    return study.summarize(results)


def _planted_input(seed, n):
    """Token 0 is the key everyone attends to (big feature 0), of class k; the rest class k+1."""
    k = seed % C
    x = torch.zeros(1, n, D)
    x[0, :, 0] = 1.0
    x[0, 0, 0] = 3.0
    x[0, 0, 1 + k] = 1.0
    x[0, 1:, 1 + (k + 1) % C] = 1.0
    return x


def _planted(skip):
    cfg = ModelConfig(input_dim=D, hidden_dim=D, num_classes=C, similarity="dot",
                      temperature=0.1, activation="identity", pooling="mean",
                      pool_activation="identity", skip=skip)  # fmt: skip
    model = DenseAttention(cfg).eval()
    with torch.no_grad():
        model.dense.weight.copy_(torch.eye(D))
        model.dense.bias.zero_()
        model.out.weight.zero_()
        model.out.bias.zero_()
    return model


def test_a_model_where_only_h_o_matters_never_flips_under_attention_ablations():
    model = _planted("mean")
    with torch.no_grad():
        model.out.weight[:, D + 1 : D + 1 + C] = 10 * torch.eye(C)  # reads h_o alone
    s = _summary(model)
    for name in ("uniform", "permuted", "no_attention", "uniform_alpha"):
        assert s.flip_rate[name] == 0 and s.mean_abs_delta[name] < 1e-6
    assert s.flip_rate["h_o_zero"] > 0.5


def test_peaked_attention_without_skip_flips_often():
    model = _planted("none")
    with torch.no_grad():
        model.out.weight[:, 1 : 1 + C] = 10 * torch.eye(C)  # c = the key token's class
    s = _summary(model)
    assert s.flip_rate["uniform"] >= 0.9 and s.flip_rate["permuted"] >= 0.5
    assert s.flip_rate["no_attention"] >= 0.5 and s.mean_abs_delta["uniform"] > 0.5
    assert s.flip_rate["h_o_zero"] == 0  # skip="none": h_o is not an input of the output


# ---------------------------------------------------------------- bad input


def test_a_one_token_input_gives_a_degenerate_result_without_nan():
    r = fa.analyze_features(make(), inputs(n=1))
    assert all(v.shape == (1,) and np.isfinite(v).all() for v in r.importance.values())
    assert all(tau is None for tau in r.kendall.values())
    assert all(np.isfinite(c.probs).all() for c in r.deletion.values())
    assert np.isfinite(r.knockout.probs).all() and r.ablations["uniform"].delta == 0
    assert np.isnan(r.entropy_ratio)  # one token attends nowhere else: undefined, by design
    assert study.summarize([r]).entropy_ratio is None


def test_no_real_token_and_bad_settings_are_clear_errors():
    with pytest.raises(fa.FaithfulnessError, match="no real token"):
        fa.analyze_features(make(), inputs(), torch.zeros(1, 7, dtype=torch.bool))
    with pytest.raises(fa.FaithfulnessError, match="one input"):
        fa.analyze_features(make(), torch.randn(2, 3, D))
    with pytest.raises(fa.FaithfulnessError, match="at least 2 steps"):
        fa.analyze_features(make(), inputs(), ig_steps=1)


def _text_classifier():
    torch.manual_seed(0)
    text = TextConfig(mode="learned", max_len=16, embed_dim=8, pos_dim=4)
    cfg = ClassifierConfig(model=ModelConfig(input_dim=12, hidden_dim=d, num_classes=2),
                           classes=("a", "b"), text=text)  # fmt: skip
    return Classifier(cfg).eval()


def test_an_all_unknown_text_gives_finite_results():
    r = fa.analyze(_text_classifier(), "☃ ☃ ☃")
    assert r.tokens == ("[CLS]", "☃", "☃", "☃", "[SEP]") and r.grid is None
    assert all(np.isfinite(v).all() for v in r.importance.values())
    assert all(tau is None or -1 <= tau <= 1 for tau in r.kendall.values())
    with pytest.raises(EncodingError, match="empty"):
        fa.analyze(_text_classifier(), "   ")


def test_images_one_pixel_and_one_patch():
    torch.manual_seed(0)
    image = ImageConfig(size=8, channels=1, patch=4, pos_dim=4)
    cfg = ClassifierConfig(model=ModelConfig(input_dim=20, hidden_dim=d, num_classes=2),
                           classes=("a", "b"), image=image)  # fmt: skip
    r = fa.analyze(Classifier(cfg), np.ones((1, 1), dtype=np.float32))
    assert r.grid == (2, 2) and r.importance_grid("occlusion").shape == (2, 2)
    assert r.tokens == ("r0c0", "r0c1", "r1c0", "r1c1")
    tiny = ClassifierConfig(model=ModelConfig(input_dim=1, hidden_dim=d, num_classes=2),
                            classes=("a", "b"), image=ImageConfig(1, 1, 1, 0))  # fmt: skip
    r = fa.analyze(Classifier(tiny), np.ones((1, 1), dtype=np.float32))
    assert r.importance_grid("integrated_gradients").shape == (1, 1)
    assert np.isfinite(r.probs).all() and all(t is None for t in r.kendall.values())
    with pytest.raises(fa.FaithfulnessError, match="for images"):
        fa.analyze(_text_classifier(), "hello").importance_grid("alpha")


# ---------------------------------------------------------------- training means, study


def _tiny_dataset():
    return image_dataset()


def _image_classifier():
    return image_classifier(d)


def test_training_means_are_the_mean_of_traces_and_round_trip(tmp_path):
    model, ds = _image_classifier(), _tiny_dataset()
    means = fa.training_means(model, ds, max_examples=None, batch_size=7)
    with torch.no_grad():
        t = model.trace(*model.prepare(ds.train.items))
    np.testing.assert_allclose(means.h_o, t.h_o.mean(dim=0), atol=1e-6)
    np.testing.assert_allclose(means.c, t.c.mean(dim=0), atol=1e-6)
    assert (means.examples, means.split) == (40, "train")
    assert fa.training_means(model, ds, "train+val", max_examples=10).examples == 10
    (tmp_path / "metrics.json").write_text(json.dumps({"faithfulness": {
        "training_means": means.to_dict()}}))  # fmt: skip
    back = fa.stored_means(tmp_path)
    np.testing.assert_allclose(back.h_o, means.h_o, atol=1e-6)
    assert fa.stored_means(tmp_path / "missing") is None


def test_live_settings_are_what_is_analysed():
    model, x = make(), inputs()
    live = {"similarity": "cosine", "temperature": 0.1}
    r = fa.analyze_features(model, x, settings=live, ig_steps=8)
    with torch.no_grad():
        expected = torch.softmax(model(x, None, **live), dim=-1)[0]
        uniform = model.trace(x, attn_override=fa.uniform_attention(torch.ones(1, 7, dtype=bool)),
                              **live).probs[0]  # fmt: skip
    np.testing.assert_allclose(r.probs, expected.numpy(), atol=1e-6)
    np.testing.assert_allclose(r.ablations["uniform"].probs, uniform.numpy(), atol=1e-6)
    as_trained = fa.analyze_features(model, x, ig_steps=8)
    assert not np.allclose(as_trained.probs, r.probs)


def test_one_head_at_a_time():
    """Head k's uniform / identity ablation: only a^k replaced, against a hand-built v."""
    torch.manual_seed(0)
    cfg = ModelConfig(input_dim=5, hidden_dim=8, num_classes=3, heads=4, similarity="dot")
    model = shaken(DenseAttention(cfg).eval(), 0.5).requires_grad_(False)
    x = torch.randn(1, 6, 5)
    per_head = fa.head_ablations_of(model, x)
    assert len(per_head) == 4 and all(set(h) == set(fa.HEAD_ABLATIONS) for h in per_head)
    t = model.trace(x)
    p0 = t.probs[0]
    for k, results in enumerate(per_head):
        uniform = t.head_attn.clone()
        uniform[:, k] = 1 / 6
        values = t.values.clone()  # v^k = mean of h^k; the other heads' slices unchanged
        values[..., 2 * k : 2 * k + 2] = t.h[..., 2 * k : 2 * k + 2].mean(dim=1, keepdim=True)
        assert torch.allclose(model.trace(x, attn_override=uniform).values, values, atol=1e-6)
        want = model.trace(x, attn_override=uniform).probs[0]
        got = results["uniform"]
        assert got.delta == pytest.approx(float(want[p0.argmax()] - p0.max()), abs=1e-6)
        assert got.flip_rate == float(want.argmax() != p0.argmax())
        eye = t.head_attn.clone()
        eye[:, k] = torch.eye(6)
        want = model.trace(x, attn_override=eye).probs[0]
        assert results["no_attention"].delta == pytest.approx(
            float(want[p0.argmax()] - p0.max()), abs=1e-6
        )
    assert fa.head_ablations_of(make(), inputs()) == ()  # one head: none
