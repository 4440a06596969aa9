"""Dense Attention Lab: a dense layer combined with attention, with every intermediate traced."""

import threading

from .core.config import ModelConfig
from .core.errors import DenseAttentionError
from .core.model import DenseAttention
from .core.similarity import SIMILARITIES
from .core.trace import Trace

# app.py imports the Streamlit layer under this lock. A fresh server's first runs execute app.py
# in several threads at once (a reconnecting page and a new one); importing dense_attention.ui
# in two threads could meet Python's import-deadlock avoidance, which hands one thread the
# half-initialised package: "cannot import name 'ui' from 'dense_attention'" (seen in CI).
IMPORT_LOCK = threading.RLock()

__all__ = ["SIMILARITIES", "DenseAttention", "DenseAttentionError", "ModelConfig", "Trace"]
