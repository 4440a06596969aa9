"""Classifier: encoder + DenseAttention end to end, its config, checkpoints and explanations."""

import json

import numpy as np
import pytest
import torch

from dense_attention.core.config import ConfigError, ModelConfig
from dense_attention.data.builtin import load_dataset
from dense_attention.inputs.classifier import (
    Classifier,
    ClassifierConfig,
    NonFiniteTrace,
    build_classifier,
)
from dense_attention.inputs.image_encoder import ImageConfig
from dense_attention.inputs.text_encoder import TextConfig
from dense_attention.storage import checkpoint


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", limit=200)


@pytest.fixture(scope="module")
def texts():
    return load_dataset("bbc-topics", limit=100)


def test_image_classifier_matches_its_parts(digits):
    model = build_classifier(digits, hidden_dim=8)
    split = model.tensors(digits.test)
    x, mask = model.encoder(split.inputs[0])
    assert torch.equal(model(*split.inputs), model.core(x, mask))
    assert model.config.image.patch == 2 and x.shape[1] == 16  # 8x8 digits -> 16 patches
    ex = model.explain(digits.test.items[0])
    assert ex.tokens == model.encoder.patch_labels() and ex.truncated == 0
    assert torch.allclose(ex.trace.logits[0], model(*split.take(slice(0, 1)).inputs)[0])


@pytest.mark.parametrize("mode", ["learned", "minilm_contextual"])
def test_text_classifier_precomputed_features_equal_raw_path(texts, mode):
    model = build_classifier(texts, hidden_dim=8, text=TextConfig(mode=mode, max_len=24))
    split = model.tensors(texts.test)
    ids, mask = model.prepare(texts.test.items)
    assert torch.allclose(model(*split.inputs), model(ids, mask), atol=1e-5)
    if mode == "learned":
        assert len(model.config.text.vocab) < 30522  # vocabulary trimmed to the training split
    ex = model.explain("The striker scored twice in the final")
    assert ex.tokens[0] == "[CLS]" and ex.tokens[-1] == "[SEP]" and "striker" in ex.originals
    assert "striker" in ex.tokens or (mode == "learned" and "[UNK] (striker)" in ex.hover_tokens)
    np.testing.assert_allclose(ex.trace.attn[0].sum(-1).numpy(), 1, atol=1e-5)


def test_checkpoint_round_trip(tmp_path, texts):
    model = build_classifier(texts, hidden_dim=8, similarity="additive")
    checkpoint.save(tmp_path, model, {"dataset": "bbc-topics"})
    loaded = checkpoint.load(tmp_path)
    assert isinstance(loaded, Classifier) and loaded.config == model.config
    ids, mask = model.prepare(["Markets rallied", "A long sentence about the election campaign"])
    assert torch.equal(loaded(ids, mask), model.eval()(ids, mask))


def test_config_consistency_errors():
    model = ModelConfig(input_dim=20, hidden_dim=4, num_classes=2)
    image = ImageConfig(size=8, channels=1, patch=4, pos_dim=4)  # 16 + 4 = 20 features
    ClassifierConfig(model, ("a", "b"), image=image)
    with pytest.raises(ConfigError, match="exactly one"):
        ClassifierConfig(model, ("a", "b"))
    with pytest.raises(ConfigError, match="features"):
        ClassifierConfig(model, ("a", "b"), image=ImageConfig(8, 1, 2, 4))
    with pytest.raises(ConfigError, match="class names"):
        ClassifierConfig(model, ("a",), image=image)
    cfg = ClassifierConfig(model, ("a", "b"), image=image)
    assert ClassifierConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="exactly"):
        ClassifierConfig.from_dict({**cfg.to_dict(), "extra": 1})


@pytest.mark.parametrize("seq", ["lstm", "transformer"])
def test_text_classifier_with_sequence_encoder_ignores_padding(tmp_path, texts, seq):
    torch.manual_seed(0)
    model = build_classifier(texts, hidden_dim=8, text=TextConfig(max_len=24),
                             sequence_encoder=seq, dropout_h=0.1).eval()  # fmt: skip
    short, long = "Markets rallied", "A long sentence about the election campaign and its results"
    ids, mask = model.prepare([short, long])
    assert not mask[0].all()  # the short text is padded
    alone = model(*model.prepare([short]))
    assert torch.allclose(model(ids, mask)[0], alone[0], atol=1e-5)
    ex = model.explain(short)
    np.testing.assert_allclose(ex.trace.attn[0].sum(-1).numpy(), 1, atol=1e-5)
    checkpoint.save(tmp_path, model)
    loaded = checkpoint.load(tmp_path)
    assert loaded.config.model.sequence_encoder == seq
    assert torch.equal(loaded(ids, mask), model(ids, mask))


def test_checkpoint_saved_before_the_new_fields_loads_with_identical_logits(tmp_path, digits):
    torch.manual_seed(0)
    model = build_classifier(digits, hidden_dim=8, similarity="cosine").eval()
    checkpoint.save(tmp_path, model)
    path = tmp_path / "config.json"
    header = json.loads(path.read_text())
    for name in ("dropout_h", "dropout_attn", "sequence_encoder"):  # as written before they existed
        del header["config"]["model"][name]
    path.write_text(json.dumps(header))
    loaded = checkpoint.load(tmp_path)
    assert loaded.config == model.config
    split = model.tensors(digits.test)
    assert torch.equal(loaded(*split.inputs), model(*split.inputs))


def test_penalised_parameters_leave_the_encoder_alone(texts):
    model = build_classifier(texts, hidden_dim=8, text=TextConfig(max_len=24))
    names = set(model.penalised_parameters())
    assert names == {"core.dense.weight", "core.pool_weight", "core.pool_vector", "core.out.weight"}
    assert {"encoder.tok.weight", "encoder.pos.weight"} <= {n for n, _ in model.named_parameters()}


def test_an_overflowing_trace_is_a_clear_value_error_not_a_nan_figure():
    core = ModelConfig(4, 2, 2, temperature=1e-3)
    config = ClassifierConfig(core, ("a", "b"), image=ImageConfig(4, 1, 2, 0))
    model = Classifier(config).eval()
    with torch.no_grad():
        model.core.dense.weight.fill_(1e30)  # finite weights whose scores overflow float32
    with pytest.raises(NonFiniteTrace, match="overflows the model: scores, attn"):
        model.explain(np.full((4, 4), 0.5, dtype=np.float32))


def test_unknown_tokens_are_labelled_unk_with_their_text_in_the_hover():
    """Issue #13.4: a token the model reads as [UNK] (outside a learned vocabulary, or MiniLM's
    own [UNK] such as an emoji) is labelled [UNK], not as the text it replaced."""
    from dense_attention.inputs.text_encoder import CLS_ID, SEP_ID, UNK_ID, load_tokenizer

    known = load_tokenizer()("the cat sat", add_special_tokens=False)["input_ids"]
    cfg = ClassifierConfig(
        model=ModelConfig(input_dim=12, hidden_dim=8, num_classes=2),
        classes=("a", "b"),
        text=TextConfig("learned", 16, 8, 4, tuple(sorted({0, UNK_ID, CLS_ID, SEP_ID, *known}))),
    )
    ex = Classifier(cfg).eval().explain("The cat chased 🦄")
    assert ex.tokens == ["[CLS]", "the", "cat", "[UNK]", "[UNK]", "[SEP]"]
    assert ex.originals == ("[CLS]", "the", "cat", "chased", "🦄", "[SEP]")
    assert ex.hover_tokens == ["[CLS]", "the", "cat", "[UNK] (chased)", "[UNK] (🦄)", "[SEP]"]
    images = build_classifier(load_dataset("digits", limit=50), hidden_dim=4)
    patches = images.explain(load_dataset("digits", limit=50).test.items[0])
    assert patches.hover_tokens == patches.tokens and patches.originals == ()
