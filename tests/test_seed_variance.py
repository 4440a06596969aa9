"""explain/seed_variance.py: the recipe trained with k seeds, and the spreads across them."""

import json
import shutil

import numpy as np
import pytest
import tiny
import torch
from scipy.spatial.distance import jensenshannon

from dense_attention.core.config import TrainConfig
from dense_attention.explain import seed_variance as sv
from dense_attention.storage import catalog

TRAIN = TrainConfig(epochs=2, batch_size=8, lr=1e-2, patience=5, device="cpu")


def _recipe() -> sv.Recipe:
    return sv.Recipe(config=tiny.image_classifier().config, training=TRAIN, dataset="tiny")


def _jsd(p, q) -> float:
    return float(jensenshannon(p, q) ** 2)  # scipy gives the distance, sqrt(JSD), natural log


def test_spread_to_mean_matches_scipy_and_is_zero_for_equal_seeds():
    q = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]], dtype=torch.float64)
    mean = q.mean(0).numpy()
    expected = np.mean([_jsd(row, mean) for row in q.numpy()])
    assert float(sv.spread_to_mean(q)) == pytest.approx(expected, abs=1e-12)
    assert float(sv.spread_to_mean(q[:1].expand(4, -1))) == pytest.approx(0.0, abs=1e-12)
    one_hot = torch.eye(2, dtype=torch.float64)  # two seeds on disjoint tokens
    assert float(sv.spread_to_mean(one_hot)) < np.log(2)


def _random_seeds(k=3, e=4, n=5, c=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    alpha = torch.rand(k, e, n, generator=gen, dtype=torch.float64).softmax(-1)
    attn = torch.rand(k, e, n, n, generator=gen, dtype=torch.float64).softmax(-1)
    probs = torch.rand(k, e, c, generator=gen, dtype=torch.float64).mul(4).softmax(-1)
    return alpha, attn, probs


def test_spreads_against_an_independent_computation():
    alpha, attn, probs = _random_seeds()
    s = sv.spreads(alpha, attn, probs, torch.ones(4, 5, dtype=torch.bool))
    for e in range(4):
        a = alpha[:, e].numpy()
        assert s.alpha_jsd[e] == pytest.approx(np.mean([_jsd(x, a.mean(0)) for x in a]), abs=1e-9)
        rows = attn[:, e].numpy()  # (k, n, n)
        want = np.mean([[_jsd(rows[s_, i], rows[:, i].mean(0)) for s_ in range(3)]
                        for i in range(5)])  # fmt: skip
        assert s.row_jsd[e] == pytest.approx(want, abs=1e-9)
        votes = np.bincount(probs[:, e].argmax(-1).numpy(), minlength=3)
        assert s.agreement[e] == pytest.approx(votes.max() / 3)
        assert votes[s.majority[e]] == votes.max()
        assert s.p_std[e] == pytest.approx(probs[:, e, s.majority[e]].numpy().std(), abs=1e-7)


def test_padding_changes_no_spread():
    alpha, attn, probs = _random_seeds(e=1, n=4)
    pad_alpha = torch.cat([alpha, torch.zeros(3, 1, 2, dtype=torch.float64)], -1)
    pad_attn = torch.zeros(3, 1, 6, 6, dtype=torch.float64)
    pad_attn[..., :4, :4] = attn
    mask = torch.tensor([[True] * 4 + [False] * 2])
    padded = sv.spreads(pad_alpha, pad_attn, probs, mask)
    plain = sv.spreads(alpha, attn, probs, torch.ones(1, 4, dtype=torch.bool))
    for name in ("alpha_jsd", "row_jsd", "output_jsd", "agreement", "p_std"):
        assert getattr(padded, name) == pytest.approx(getattr(plain, name), abs=1e-12)


def test_majority_and_agreement_on_a_split_vote():
    probs = torch.tensor([[[0.9, 0.1]], [[0.8, 0.2]], [[0.3, 0.7]]])  # 2 of 3 say class 0
    alpha = torch.full((3, 1, 2), 0.5)
    s = sv.spreads(alpha, alpha[..., None].expand(3, 1, 2, 2), probs, torch.ones(1, 2).bool())
    assert s.majority[0] == 0 and s.agreement[0] == pytest.approx(2 / 3)
    assert s.alpha_jsd[0] == pytest.approx(0.0) and s.row_jsd[0] == pytest.approx(0.0)


def test_seeds_are_checked():
    with pytest.raises(sv.SeedVarianceError, match="one seed"):
        sv.check_seeds([1])
    with pytest.raises(sv.SeedVarianceError, match="repeat"):
        sv.check_seeds([1, 1])


def test_train_seeds_repeats_bit_for_bit_and_seeds_differ():
    ds = tiny.image_dataset()
    a = sv.train_seeds(_recipe(), ds, [1, 2])
    b = sv.train_seeds(_recipe(), ds, [1, 2])
    for m, n in zip(a, b, strict=True):
        for (k, p), q in zip(m.state_dict().items(), n.state_dict().values(), strict=True):
            assert torch.equal(p, q), k
    w1, w2 = (m.core.dense.weight for m in a)
    assert not torch.equal(w1, w2)


def test_run_summary_is_the_spreads_medians():
    ds = tiny.image_dataset()
    steps = []
    result = sv.run(_recipe(), ds, [1, 2, 3], limit=8, on_step=lambda i, e: steps.append(i))
    assert sorted(set(steps)) == [0, 1, 2] and len(result.models) == 3
    summary = result.summary()
    assert summary["examples"] == 8 == len(result.spreads)
    assert summary["median_alpha_jsd"] == pytest.approx(np.median(result.spreads.alpha_jsd),
                                                        rel=1e-3)  # fmt: skip
    assert 0 < summary["median_alpha_jsd"] < np.log(2)  # different seeds, different α
    assert all(0 <= a <= 1 for a in result.accuracies)
    assert json.loads(json.dumps(result.to_dict()))["seeds"] == [1, 2, 3]
    assert "median alpha JSD" in result.text()


def test_input_spread_matches_the_batched_measure():
    ds = tiny.image_dataset()
    models = sv.train_seeds(_recipe(), ds, [1, 2])
    found = sv.input_spread(models, ds.test.items[0])
    batched = sv.measure(models, models[0].tensors(ds.test))
    assert found.alpha.shape == (2, 4) and found.probs.shape == (2, 2)
    assert found.spread.alpha_jsd[0] == pytest.approx(batched.alpha_jsd[0], abs=1e-6)
    assert found.spread.row_jsd[0] == pytest.approx(batched.row_jsd[0], abs=1e-6)
    assert found.spread.output_jsd[0] == pytest.approx(batched.output_jsd[0], abs=1e-6)


def test_answer_says_what_the_numbers_say():
    model = tiny.image_classifier()
    picture = tiny.image_dataset().test.items[0]
    same = sv.input_spread([model, model, model], picture)  # one model thrice: no spread at all
    assert same.spread.alpha_jsd[0] == pytest.approx(0.0, abs=1e-9)
    sample = sv.Spreads(*(np.array([0.01, 0.2, 0.3]),) * 3, np.zeros(3, int), np.ones(3),
                        np.zeros(3))  # fmt: skip
    text = sv.answer(same, sample)
    assert text.startswith("Yes: ") and "All 3 seeds predict a" in text
    assert "steadier than 100% of the 3 test inputs" in text
    split = sv.InputSpread(same.tokens, same.classes, same.alpha, same.probs, sv.Spreads(
        np.array([0.5]), np.array([0.1]), np.array([0.1]), np.array([1]), np.array([2 / 3]),
        np.array([0.2])))  # fmt: skip
    assert sv.answer(split, sample).startswith("No: the prediction itself changes")
    assert sv.answer(split).startswith("2 of 3 seeds predict b")


def test_checkpoint_recipe_reads_the_shipped_training(tmp_path):
    folder = catalog.REPO_ROOT / "assets" / "checkpoints" / "digits"
    recipe = sv.checkpoint_recipe(folder)
    stored = json.loads((folder / "metrics.json").read_text())
    header = json.loads((folder / "config.json").read_text())
    assert recipe.training.epochs == stored["train_config"]["epochs"]
    assert recipe.training.lr == stored["train_config"]["lr"]
    assert recipe.fit_on == stored["fit_on"] and recipe.dataset == "digits"
    assert recipe.config.model.hidden_dim == header["config"]["model"]["hidden_dim"]
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    (bare / "metrics.json").unlink()
    with pytest.raises(sv.SeedVarianceError, match="no train_config"):
        sv.checkpoint_recipe(bare)


def test_an_unknown_dataset_cannot_be_loaded_again():
    with pytest.raises(sv.SeedVarianceError, match="not a built-in dataset"):
        _recipe().load_data()
