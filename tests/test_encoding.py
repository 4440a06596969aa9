"""Tests for inputs.encoding: the caps every config obeys and the integer check."""

from __future__ import annotations

import pytest

from dense_attention.core.config import ConfigError
from dense_attention.inputs.encoding import MAX_IMAGE_SIZE, MAX_TOKENS, check_int
from dense_attention.inputs.image_encoder import ImageConfig
from dense_attention.inputs.text_encoder import MINILM_MAX_LEN, TextConfig


def test_configs_cap_tokens_and_picture_size() -> None:
    assert TextConfig(max_len=512, pos_dim=0).max_len == 512  # MiniLM's own limit
    with pytest.raises(ConfigError, match="max_len=1000000000 is over the limit of 512"):
        TextConfig(max_len=10**9, pos_dim=0)  # 88 KB of weights, 1,002 tokens for 1,000 words
    assert ImageConfig(size=256, patch=16).num_patches == 256
    with pytest.raises(ConfigError, match="size=2048 is over the limit of 256 pixels"):
        ImageConfig(size=2048, channels=3, patch=2048, pos_dim=0)
    with pytest.raises(ConfigError, match="makes 1024 patches; the limit is 512"):
        ImageConfig(size=64, patch=2)


def test_the_caps_are_minilms_length_and_256_pixels() -> None:
    assert MAX_TOKENS == MINILM_MAX_LEN == 512 and MAX_IMAGE_SIZE == 256


@pytest.mark.parametrize("value", [True, 2.0, "3", -1, None])
def test_check_int_refuses_what_is_not_an_integer_at_least_the_minimum(value) -> None:
    with pytest.raises(ConfigError, match="pos_dim must be an integer >= 0"):
        check_int("pos_dim", value, 0)
    check_int("pos_dim", 0, 0)  # the minimum itself passes
