"""verdict: plain-language verdicts against the numbers, the ablation table, what-if runs."""

import math

import numpy as np
import pytest
import torch

from dense_attention.core.config import ModelConfig
from dense_attention.explain import faithfulness as fa
from dense_attention.explain import verdict
from dense_attention.explain.faithfulness import FaithfulnessError
from dense_attention.inputs.classifier import Classifier, ClassifierConfig
from dense_attention.inputs.text_encoder import TextConfig


def text_model(**model_options) -> Classifier:
    torch.manual_seed(0)
    cfg = ClassifierConfig(
        model=ModelConfig(input_dim=12, hidden_dim=8, num_classes=3, **model_options),
        classes=("a", "b", "c"),
        text=TextConfig("learned", 16, 8, 4),
    )
    model = Classifier(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    return model


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


def test_uniform_effect_matches_the_analysis(model):
    f = fa.features_of(model, SENTENCE)
    result = fa.analyze(model, SENTENCE, ig_steps=4)
    delta, flipped = verdict.uniform_effect(model, f)
    assert delta == pytest.approx(result.ablations["uniform"].delta, abs=1e-6)
    assert flipped == result.ablations["uniform"].flipped


def test_spread_of_uniform_and_one_hot_attention(model):
    trace = model.explain(SENTENCE).trace
    n = trace.attn.shape[-1]
    uniform = trace.__class__(**{**trace.__dict__, "attn": torch.full_like(trace.attn, 1 / n)})
    spread = verdict.attention_spread(uniform)
    assert spread.entropy == pytest.approx(math.log(n)) and spread.near_uniform
    one_hot = torch.eye(n)[None]
    peaked = verdict.attention_spread(trace.__class__(**{**trace.__dict__, "attn": one_hot}))
    assert peaked.entropy == pytest.approx(0.0) and peaked.ratio == 0 and not peaked.near_uniform


def _result(uniform_probs, p0=(0.7, 0.2, 0.1), h_o_zero=(0.7, 0.2, 0.1)):
    def ablation(name, probs):
        probs = np.asarray(probs)
        delta = float(probs[0] - p0[0])
        flip = float(np.argmax(probs) != 0)
        return fa.Ablation(name, probs, delta, abs(delta), 0.0, flip)

    ablations = {"uniform": ablation("uniform", uniform_probs),
                 "h_o_zero": ablation("h_o_zero", h_o_zero)}  # fmt: skip
    empty = fa.KnockOut(np.zeros((1, 3)), np.zeros(1), np.zeros(1, bool))
    return fa.Faithfulness(("x",), ("a", "b", "c"), 0, np.asarray(p0), ablations, empty, {}, 0.0,
                           {}, {})  # fmt: skip


def test_the_verdict_follows_the_numbers():
    flat, peaked = verdict.Spread(2.19, 2.20), verdict.Spread(0.4, 2.20)
    flips = verdict.judge(_result((0.2, 0.7, 0.1)), peaked)
    assert flips.matters and flips.text.startswith("Uniform attention flips the prediction")
    assert "70.0% → 20.0%" in flips.text
    moves = verdict.judge(_result((0.5, 0.3, 0.2)), peaked)
    assert moves.matters and "moves p by -0.20" in moves.text
    nothing = verdict.judge(_result((0.7, 0.2, 0.1)), flat)
    assert not nothing.matters
    assert nothing.text == (
        "Attention is almost uniform here (entropy 2.19 of max 2.20) and removing it changes "
        "nothing."
    )
    skip = verdict.judge(_result((0.7, 0.2, 0.1), h_o_zero=(0.1, 0.8, 0.1)), flat)
    assert skip.text.endswith("this model decides from h_o (removing it changes the prediction)")


def test_ablation_and_dataset_tables():
    table = verdict.ablation_table(_result((0.2, 0.7, 0.1)))
    row = table.iloc[0]
    assert row["ablation"] == verdict.ABLATION_LABELS["uniform"] and row["prediction"] == "b"
    assert row["p_original_class"] == pytest.approx(0.2) and row["flip_rate"] == 1.0
    block = {"flip_rate": {"uniform": 0.1, "c_mean": 0.4}, "mean_abs_delta": {"uniform": 0.2}}
    data = verdict.dataset_table(block)
    assert list(data["flip_rate"]) == [0.1, 0.4]
    assert data["mean_abs_delta_p"].iloc[0] == 0.2 and data["mean_abs_delta_p"].isna().iloc[1]


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
