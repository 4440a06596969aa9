"""Dense Attention Lab: a dense layer combined with attention, with every intermediate traced."""

from .config import ModelConfig
from .model import DenseAttention
from .similarity import SIMILARITIES
from .trace import Trace

__all__ = ["SIMILARITIES", "DenseAttention", "ModelConfig", "Trace"]
