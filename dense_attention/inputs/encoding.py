"""What both encoders share: EncodingError, the caps on what a config may ask for, a check."""

from __future__ import annotations

from typing import Any

from ..core.config import ConfigError
from ..core.errors import DenseAttentionError
from ..core.i18n import tr

__all__ = ["MAX_IMAGE_SIZE", "MAX_TOKENS", "EncodingError", "check_int"]

# Caps on what a config (a shipped, trained or uploaded checkpoint) may ask for: attention costs
# N^2 per view, and a picture's figures grow with its pixels. A crafted checkpoint with
# max_len 10^9 made 1,000 pasted words 1,002 tokens (36 s a view); one asking for 2048x2048
# pictures took the server from 0.9 to 3 GB on one view of the Image page.
MAX_TOKENS = 512  # N, text tokens or image patches: MiniLM's limit (its position embeddings)
MAX_IMAGE_SIZE = 256  # pixels a side of the model's input picture


class EncodingError(DenseAttentionError):
    """Raw input that cannot be encoded (empty text, unreadable image); the message says why."""


def check_int(name: str, value: Any, minimum: int) -> None:
    """Refuse a config field that is not an integer >= minimum (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            tr(
                "{name} must be an integer >= {minimum}, got {value!r}",
                name=name,
                minimum=minimum,
                value=value,
            )
        )
