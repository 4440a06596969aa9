"""verdict: the one verdict against hand-made numbers (a table of cases), the ablation tables,
what-if runs."""

import math

import numpy as np
import pytest
import torch
from tiny import text_classifier

from dense_attention.core.config import ModelConfig
from dense_attention.explain import faithfulness as fa
from dense_attention.explain import verdict
from dense_attention.explain.faithfulness import FaithfulnessError
from dense_attention.inputs.classifier import Classifier, ClassifierConfig
from dense_attention.inputs.text_encoder import TextConfig


def text_model(**model_options) -> Classifier:
    return text_classifier(**model_options)


SENTENCE = "the cat sat on the mat"


@pytest.fixture(scope="module")
def model():
    return text_model(skip="none", temperature=0.1)


def test_what_if_knock_out_equals_a_masked_rerun(model):
    f = fa.features_of(model, SENTENCE)
    with torch.no_grad():
        mask = f.mask.clone()
        mask[0, [1, 3]] = False
        expected = model.core.trace(f.x, mask).probs[0].numpy()
    np.testing.assert_allclose(verdict.what_if(model, f, [1, 3]), expected, atol=1e-6)


def test_what_if_without_changes_is_the_prediction(model):
    f = fa.features_of(model, SENTENCE)
    explained = model.explain(SENTENCE).trace.probs[0].numpy()
    np.testing.assert_allclose(verdict.what_if(model, f), explained, atol=1e-6)


def test_dragged_alpha_puts_the_value_on_the_token_and_sums_to_one(model):
    f = fa.features_of(model, SENTENCE)
    with torch.no_grad():
        trace = model.core.trace(f.x, f.mask)
    alpha = verdict._dragged_alpha(trace, 2, 0.7, f.mask)  # noqa: SLF001 - the helper itself
    assert float(alpha[0, 2]) == pytest.approx(0.7)
    assert float(alpha.sum()) == pytest.approx(1.0, abs=1e-6)
    rest = trace.alpha[0].clone()
    rest[2] = 0
    others = alpha[0].clone()
    others[2] = 0
    np.testing.assert_allclose(others.numpy(), (rest * 0.3 / rest.sum()).numpy(), atol=1e-6)
    with torch.no_grad():
        expected = model.core.trace(f.x, f.mask, alpha_override=alpha).probs[0].numpy()
    np.testing.assert_allclose(verdict.what_if(model, f, alpha=(2, 0.7)), expected, atol=1e-6)


def test_knocking_out_every_token_is_refused(model):
    f = fa.features_of(model, SENTENCE)
    with pytest.raises(FaithfulnessError, match="every token"):
        verdict.what_if(model, f, list(range(f.x.shape[1])))
    with pytest.raises(FaithfulnessError, match=r"\[0, 1\]"):
        verdict.what_if(model, f, alpha=(0, 1.5))


def test_spread_of_uniform_and_one_hot_attention(model):
    trace = model.explain(SENTENCE).trace
    n = trace.attn.shape[-1]
    uniform = trace.__class__(**{**trace.__dict__, "attn": torch.full_like(trace.attn, 1 / n)})
    spread = verdict.attention_spread(uniform)
    assert spread.entropy == pytest.approx(math.log(n)) and spread.near_uniform
    one_hot = torch.eye(n)[None]
    peaked = verdict.attention_spread(trace.__class__(**{**trace.__dict__, "attn": one_hot}))
    assert peaked.entropy == pytest.approx(0.0) and peaked.ratio == 0 and not peaked.near_uniform


P0 = 0.7  # p of the predicted class "a" in the hand-made results below
BASE = {"no_attention": 0.0, "uniform": 0.0, "permuted": 0.0, "uniform_alpha": 0.0,
        "h_o_mean": 0.0}  # fmt: skip


def _ablation(name: str, delta: float, flip: bool = False) -> fa.Ablation:
    """An ablation of class "a" (p 0.7) moved by `delta`; a flip puts "b" on top."""
    p = P0 + delta
    probs = np.array([p, 1 - p - 0.01, 0.01]) if flip else np.array([p, (1 - p) / 2, (1 - p) / 2])
    return fa.Ablation(name, probs, delta, abs(delta), 0.0, float(flip))


def _ablations(**deltas) -> dict[str, fa.Ablation]:
    flips = {k.removesuffix("_flip") for k in deltas if k.endswith("_flip")}
    deltas = {k.removesuffix("_flip"): v for k, v in deltas.items()}
    return {n: _ablation(n, d, n in flips) for n, d in {**BASE, **deltas}.items()}


def _config(**options) -> ModelConfig:
    return ModelConfig(input_dim=4, hidden_dim=4, num_classes=3, **options)


# (case, ablation deltas, mean diagonal, config options, paths that decide, words that must
# show, words that must not)
CASES = [
    ("mixing decides", {"no_attention": -0.2, "uniform": -0.3}, 0.3, {}, ("mixing", "shape"),
     ["Token-to-token attention decides: replacing it by the identity (v_i = h_i) moves p by "
      "−0.20.", "It puts 30% on the diagonal", "uniform attention (a_ij = 1/N) moves p by −0.30"],
     ["does not decide", "shape decides"]),
    ("shape, not mixing", {"no_attention": 0.004, "uniform": -0.25}, 0.63, {}, ("shape",),
     ["mostly keeps each token itself (63% on the diagonal)", "changes p by +0.004",
      "uniform attention (a_ij = 1/N) moves p by −0.25, taking that diagonal away: its shape "
      "decides, not what it mixes in from other tokens."], ["Token-to-token attention decides"]),
    ("the issue's example: pooling decides", {"no_attention": 0.003, "uniform_alpha": -0.19},
     0.52, {}, ("pooling",),
     ["Here token-to-token attention mostly keeps each token itself (52% on the diagonal); "
      "replacing it by the identity (v_i = h_i) changes p by +0.003",
      "The pooling α decides: uniform α (α_i = 1/N) moves p by −0.19."], ["No single path"]),
    ("skip decides", {"h_o_mean_flip": -0.4}, 0.2, {}, ("skip",),
     ["The skip input h_o decides: replacing h_o by its training mean moves p by −0.40 and "
      "flips the prediction to 'b'."], ["Token-to-token attention decides"]),
    ("a little everywhere", {"uniform": -0.05, "uniform_alpha": 0.03, "h_o_mean": 0.001}, 0.4,
     {}, (), ["it moves p a little but does not decide",
              "Uniform α (α_i = 1/N) moves p by +0.030: the pooling α counts a little",
              "The skip input h_o barely matters: replacing h_o by its training mean changes p "
              "by +0.001.", "No single path decides"], ["The pooling α decides", "h_o decides"]),
    ("a flip decides whatever Δp", {"permuted_flip": -0.05}, 0.4, {}, ("shape",),
     ["shuffling each row of the attention moves p by −0.050 and flips the prediction in "
      "100% of its draws: its shape decides"], []),
    ("mean pooling: no α", {"uniform_alpha": -0.5}, 0.4, {"pooling": "mean"}, (),
     ["No single path decides"], ["α", "pooling"]),
    ("skip none: no h_o", {"h_o_mean": -0.5, "h_o_zero": -0.5}, 0.4, {"skip": "none"}, (),
     ["No single path decides"], ["h_o", "skip"]),
    ("below the rounding", {"no_attention": -0.00004, "uniform": 0.0}, 0.9, {}, (),
     ["changes p by < 0.001 and uniform attention (a_ij = 1/N) changes p by 0"],
     ["0.000", "−0 ", "-0"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "deltas", "diag", "options", "decides", "shown", "absent"),
                         CASES, ids=[c[0] for c in CASES])  # fmt: skip
def test_the_verdict_table(case, deltas, diag, options, decides, shown, absent):
    found = verdict.judge(_ablations(**deltas), diag, _config(**options), ("a", "b", "c"))
    assert found.decides == decides, case
    assert found.diagonal == diag
    for words in shown:
        assert words in found.text, (case, words, found.text)
    for words in absent:
        assert words not in found.text and words not in found.headline, (case, words)
    assert found.matters == any(p != "skip" for p in decides)


def test_the_headline_names_what_decides_and_its_tone():
    def headline(diag=0.3, **deltas):
        found = verdict.judge(_ablations(**deltas), diag, _config(), ("a", "b", "c"))
        return found.headline, found.tone

    assert headline(no_attention=-0.2) == ("Token-to-token attention decides", "mixing")
    assert headline(uniform=-0.2) == ("The shape of token-to-token attention decides",
                                      "attention")  # fmt: skip
    assert headline(uniform_alpha=0.3, h_o_mean=-0.2) == (
        "The pooling α and the skip input h_o decide",
        "attention",
    )
    assert headline(h_o_mean=-0.2) == ("The skip input h_o decides", "other")
    assert headline() == ("No single path decides this prediction", "other")


@pytest.mark.parametrize(("delta", "shown"), [
    (-0.19, "−0.19"), (0.0035, "+0.004"), (-0.0949, "−0.095"), (0.0951, "+0.10"),
    (-0.00049, "< 0.001"), (0.0, "0"), (-0.0005, "−0.001"),
])  # fmt: skip
def test_delta_p_is_rounded_and_never_minus_zero(delta, shown):
    assert verdict.fmt_delta(delta) == shown


def test_the_verdict_needs_the_token_attention_ablations():
    with pytest.raises(FaithfulnessError, match="identity and uniform"):
        verdict.judge({"uniform": _ablation("uniform", 0.1)}, 0.5, _config(), ("a", "b", "c"))


def test_the_badges_verdict_is_the_analysis_verdict(model):
    """The badge's cheap path (ablations only) and the attention page's full analysis give the
    same numbers, so the same words; the diagonal is the trace's own mean of a_ii."""
    f = fa.features_of(model, SENTENCE)
    trace = model.explain(SENTENCE).trace
    full = verdict.verdict_of(fa.analyze(model, SENTENCE, ig_steps=4), trace, model.config.model)
    quick = verdict.judge_input(model, f)
    assert quick == full
    n = trace.attn.shape[-1]
    assert quick.diagonal == pytest.approx(sum(float(trace.attn[0, i, i]) for i in range(n)) / n)
    assert "h_o" not in quick.text  # the fixture model has skip = "none"
    live = verdict.judge_input(model, f, settings={"pooling": "mean", "temperature": 5.0})
    assert "pooling" not in live.effects and "α" not in live.text


def _result(ablations) -> fa.Faithfulness:
    empty = fa.KnockOut(np.zeros((1, 3)), np.zeros(1), np.zeros(1, bool))
    return fa.Faithfulness(("x",), ("a", "b", "c"), 0, np.array([P0, 0.2, 0.1]), ablations, empty,
                           {}, 0.0, {}, {})  # fmt: skip


def test_ablation_and_dataset_tables():
    result = _result(_ablations(uniform_flip=-0.5, no_attention=-0.00004, h_o_zero=0.1))
    table = verdict.ablation_table(result)
    row = table.iloc[1]
    assert row["ablation"] == verdict.ABLATION_LABELS["uniform"] and row["prediction"] == "b"
    assert row["p_original_class"] == pytest.approx(0.2) and row["flip_rate"] == 1.0
    identity = table.iloc[0]["delta_p"]
    assert identity == 0.0 and str(identity) == "0.0"  # rounded: never shown as -0.000
    assert len(table) == len(result.ablations)
    lean = verdict.ablation_table(result, _config(skip="none", pooling="mean"))
    assert not any("h_o" in a or "α" in a for a in lean["ablation"])
    assert len(lean) == len(result.ablations) - 3  # uniform_alpha, h_o_mean, h_o_zero
    block = {"flip_rate": {"uniform": 0.1, "c_mean": 0.4}, "mean_abs_delta": {"uniform": 0.2}}
    data = verdict.dataset_table(block)
    assert list(data["flip_rate"]) == [0.1, 0.4]
    assert data["mean_abs_delta_p"].iloc[0] == 0.2 and data["mean_abs_delta_p"].isna().iloc[1]
    block["flip_rate"]["h_o_zero"] = 0.3
    assert len(verdict.dataset_table(block, _config(skip="none"))) == 2


def test_mostly_unknown_input_and_a_lone_stop_word_get_a_caution():
    from dense_attention.inputs.text_encoder import CLS_ID, SEP_ID, UNK_ID, load_tokenizer

    known = load_tokenizer()("the cat sat", add_special_tokens=False)["input_ids"]
    vocab = tuple(sorted({0, UNK_ID, CLS_ID, SEP_ID, *known}))
    cfg = ClassifierConfig(
        model=ModelConfig(input_dim=12, hidden_dim=8, num_classes=3),
        classes=("a", "b", "c"),
        text=TextConfig("learned", 16, 8, 4, vocab),
    )
    model = Classifier(cfg).eval()
    assert verdict.input_caution(model, "the cat sat") is None
    note = verdict.input_caution(model, "quantum chromodynamics")
    assert note is not None and note.startswith("Most of this input is unknown to the model")
    pieces = load_tokenizer()("quantum chromodynamics", add_special_tokens=False)["input_ids"]
    assert f"({len(pieces)} of {len(pieces)} word pieces" in note
    assert "single stop word ('the')" in verdict.input_caution(model, "the")
    assert verdict.input_caution(model, "cat") is None


def test_the_head_ablation_table_replaces_one_head_at_a_time():
    model = text_model(heads=4, temperature=0.2)
    result = fa.analyze(model, SENTENCE, ig_steps=4, permutations=2, random_orders=2)
    table = verdict.head_ablation_table(result)
    assert list(table["head"]) == [1, 2, 3, 4]
    f = fa.features_of(model, SENTENCE)
    with torch.no_grad():
        trace = model.core.trace(f.x, f.mask)
        n = int(f.mask.sum())
        replacements = {"uniform": torch.full((1, n, n), 1.0 / n), "identity": torch.eye(n)[None]}
        p0, predicted = float(trace.probs[0].max()), int(trace.probs[0].argmax())
        for k in range(4):
            for prefix, replacement in replacements.items():
                attn = trace.head_attn.clone()
                attn[:, k] = replacement  # head k alone, written out here
                probs = model.core.trace(f.x, f.mask, attn_override=attn).probs[0]
                row = table.iloc[k]
                assert row[f"{prefix}_delta_p"] == pytest.approx(
                    float(probs[predicted]) - p0, abs=1e-3
                )
                assert row[f"{prefix}_flips"] == (int(probs.argmax()) != predicted)
                assert row[f"{prefix}_prediction"] == model.config.classes[int(probs.argmax())]
    assert table.filter(like="delta_p").abs().to_numpy().max() > 0  # the heads do something
    one = fa.analyze(model_one := text_model(), SENTENCE, ig_steps=4, permutations=2)
    assert model_one.config.model.heads == 1 and verdict.head_ablation_table(one).empty
