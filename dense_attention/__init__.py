"""Dense Attention Lab: a dense layer combined with attention, with every intermediate traced."""

from .core.config import ModelConfig
from .core.errors import DenseAttentionError
from .core.model import DenseAttention
from .core.similarity import SIMILARITIES
from .core.trace import Trace

__all__ = ["SIMILARITIES", "DenseAttention", "DenseAttentionError", "ModelConfig", "Trace"]
