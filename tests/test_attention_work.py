"""explain.attention_work: the four figures against a per-example computation, the criterion."""

import numpy as np
import pytest
import torch

from dense_attention.core.config import ModelConfig
from dense_attention.data.dataset import Dataset, Split
from dense_attention.explain import attention_work as aw
from dense_attention.explain import faithfulness as fa
from dense_attention.inputs.classifier import Classifier, ClassifierConfig
from dense_attention.inputs.image_encoder import ImageConfig


def _dataset(n: int = 60) -> Dataset:
    rng = np.random.default_rng(0)
    images = rng.random((n, 8, 8, 1)).astype(np.float32)
    labels = np.sort(np.arange(n) % 3)  # sorted by label, as tweet-sentiment's test split is
    split = Split(images, labels)
    return Dataset("tiny", "image", ("a", "b", "c"), split, split, split, seed=0)


def _classifier(exclude_self: bool = False) -> Classifier:
    torch.manual_seed(0)
    model = ModelConfig(input_dim=8, hidden_dim=8, num_classes=3, similarity="dot",
                        temperature=0.3, exclude_self=exclude_self)  # fmt: skip
    image = ImageConfig(size=8, channels=1, patch=2, pos_dim=4)
    return Classifier(ClassifierConfig(model=model, classes=("a", "b", "c"), image=image)).eval()


def _by_hand(model: Classifier, split: Split) -> dict[str, float]:
    """The four figures one example at a time, with faithfulness.analyze_features's ablations."""
    rows = []
    for item in split.items:
        f = fa.features_of(model, item)
        ab = fa.ablate(fa._prepare(model.core, f.x, f.mask, None), None, permutations=1)
        attn = model.core.trace(f.x, f.mask).attn[0].detach().numpy()
        uni, ide = ab["uniform"], ab["no_attention"]
        rows.append([uni.flip_rate, uni.abs_delta, ide.flip_rate, ide.abs_delta,
                     np.diag(attn).mean(), fa.entropy_ratio(attn)])  # fmt: skip
    return dict(zip(["uf", "ud", "if", "id", "diag", "ent"], np.mean(rows, axis=0), strict=True))


@pytest.mark.parametrize("exclude_self", [False, True])
def test_the_figures_equal_a_per_example_computation(exclude_self):
    model, ds = _classifier(exclude_self), _dataset()
    work = aw.measure(model, ds.test, limit=30, seed=3, batch_size=7)
    sample = fa.sample_split(ds.test, 30, 3)
    want = _by_hand(model, sample)
    got = [work.uniform_flip_rate, work.uniform_abs_delta, work.identity_flip_rate,
           work.identity_abs_delta, work.mean_diagonal, work.entropy_ratio]  # fmt: skip
    np.testing.assert_allclose(got, list(want.values()), atol=1e-5)
    assert work.examples == work.sampled == 30
    if exclude_self:
        assert work.mean_diagonal == 0.0


def test_the_sample_is_random_and_stratified_never_the_first_n():
    labels = _dataset().test.labels
    sample = fa.sample_split(_dataset().test, 30, 0)
    assert np.bincount(sample.labels).tolist() == [10, 10, 10]  # the first 30 would be 20 a, 10 b
    assert len(set(np.bincount(labels[:30], minlength=3).tolist())) > 1


GOOD = dict(uniform_flip_rate=0.2, uniform_abs_delta=0.1, identity_flip_rate=0.05,
            identity_abs_delta=0.2, mean_diagonal=0.3, entropy_ratio=0.5)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "failure"),
    [
        ({}, None),
        ({"uniform_flip_rate": 0.09, "uniform_abs_delta": 0.149}, "uniform"),
        ({"identity_abs_delta": 0.149}, "identity"),
        ({"mean_diagonal": 0.51}, "diagonal"),
        ({"entropy_ratio": 0.81}, "entropy"),
        ({"mean_diagonal": 0.5, "entropy_ratio": 0.8, "identity_abs_delta": 0.15}, None),
    ],
)
def test_the_criterion_at_its_thresholds(change, failure):
    work = aw.AttentionWork(examples=100, **{**GOOD, **change})
    verdict = aw.criterion(work)
    assert verdict.does_work == (failure is None)
    named = [f for f in ("uniform", "identity", "diagonal", "entropy")
             if any(f in text for text in verdict.failures)]  # fmt: skip
    assert named == ([] if failure is None else [failure])
    block = aw.metrics_block(work)
    assert aw.criterion(aw.AttentionWork.from_dict(block)) == verdict


def test_the_lesson_cell_is_the_largest_off_diagonal_link_weighted_by_alpha():
    attn = torch.tensor([[0.9, 0.1, 0.0], [0.3, 0.1, 0.6], [0.5, 0.4, 0.1]])
    assert aw.lesson_cell(attn, torch.tensor([0.2, 0.7, 0.1])) == (1, 2)  # 0.42 beats 0.05
    assert aw.lesson_cell(attn, torch.tensor([0.05, 0.05, 0.9])) == (2, 0)
    assert aw.lesson_cell(torch.ones(1, 1), torch.ones(1)) == (0, 0)


def test_heads_block_against_one_example_at_a_time():
    torch.manual_seed(0)
    model = ModelConfig(input_dim=8, hidden_dim=8, num_classes=3, similarity="dot",
                        temperature=0.3, heads=2)  # fmt: skip
    image = ImageConfig(size=8, channels=1, patch=2, pos_dim=4)
    clf = Classifier(ClassifierConfig(model=model, classes=("a", "b", "c"), image=image)).eval()
    for p in clf.core.parameters():
        p.requires_grad_(False).add_(torch.randn_like(p))
    split = _dataset(12).test
    block = aw.heads_block(clf, split, None, 0)
    per_example = [fa.head_ablations_of(clf.core, f.x, f.mask)
                   for f in (fa.features_of(clf, item) for item in split.items)]  # fmt: skip
    for k, head in enumerate(block["per_head"]):
        for name, key in (("uniform", "uniform"), ("no_attention", "identity")):
            delta = np.mean([abs(e[k][name].delta) for e in per_example])
            flips = np.mean([e[k][name].flip_rate for e in per_example])
            assert head[f"{key}_abs_delta"] == pytest.approx(delta, abs=2e-4)
            assert head[f"{key}_flip_rate"] == pytest.approx(flips, abs=1e-4)
    assert block["heads"] == 2 and len(block["pairwise_jsd"]) == 2
    assert block["mean_pairwise_jsd"] == block["pairwise_jsd"][0][1] > 0
