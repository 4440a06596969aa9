"""ModelConfig validation and its dict round trip."""

import pytest

from dense_attention import ModelConfig
from dense_attention.core.config import ConfigError


def test_round_trip():
    cfg = ModelConfig(8, 16, 3, similarity="cosine", temperature=0.5, activation="gelu")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    cfg = ModelConfig(8, 16, 3, dropout_h=0.2, dropout_attn=0.1, sequence_encoder="lstm")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_fields_added_later_default_to_the_old_behaviour():
    old = dict(input_dim=8, hidden_dim=16, num_classes=3, similarity="cosine")
    cfg = ModelConfig.from_dict(old)
    assert (cfg.dropout_h, cfg.dropout_attn, cfg.sequence_encoder) == (0.0, 0.0, "none")


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(similarity="manhattan"), "similarity"),
        (dict(activation="swish"), "activation"),
        (dict(pooling="max"), "pooling"),
        (dict(pool_activation="softplus"), "pool_activation"),
        (dict(skip="concat"), "skip"),
        (dict(temperature=0), "temperature"),
        (dict(temperature=-1.0), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(temperature=float("inf")), "temperature"),
        (dict(temperature=1e-300), "temperature must be a number from 0.001 to 1000"),
        (dict(temperature=1e4), "temperature"),
        (dict(temperature="1"), "temperature"),
        (dict(hidden_dim=0), "hidden_dim"),
        (dict(hidden_dim=2.5), "hidden_dim"),
        (dict(num_classes=True), "num_classes"),
        (dict(dropout_h=1.0), "dropout_h"),
        (dict(dropout_h=-0.1), "dropout_h"),
        (dict(dropout_attn=True), "dropout_attn"),
        (dict(sequence_encoder="gru"), "sequence_encoder"),
        (dict(heads=0), "heads"),
        (dict(heads=1.5), "heads"),
        (dict(heads=3), "divisible by heads"),
    ],
)
def test_invalid_values(kw, message):
    args = dict(input_dim=8, hidden_dim=16, num_classes=3) | kw
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**args)


def test_unknown_and_missing_fields():
    # (heads was the example here until ModelConfig.heads existed; layers is not a field)
    with pytest.raises(ConfigError, match="unknown ModelConfig field.*layers"):
        ModelConfig.from_dict(dict(input_dim=8, hidden_dim=16, num_classes=3, layers=2))
    with pytest.raises(ConfigError, match="num_classes"):
        ModelConfig.from_dict(dict(input_dim=8, hidden_dim=16))
    with pytest.raises(ConfigError, match="JSON object"):
        ModelConfig.from_dict([8, 16, 3])


def test_every_offered_temperature_is_a_valid_config():
    from dense_attention.core.config import TEMPERATURES

    for tau in TEMPERATURES:
        assert ModelConfig(8, 16, 3, temperature=tau).temperature == tau


def test_a_checkpoint_header_with_nan_temperature_is_refused():
    data = ModelConfig(8, 16, 3).to_dict() | {"temperature": float("nan")}
    with pytest.raises(ConfigError, match="temperature"):
        ModelConfig.from_dict(data)
