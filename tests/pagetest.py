"""Shared helpers of the AppTest page tests: run the app, open a page, read its figures.

Pages use the first text checkpoint under assets/checkpoints (or the folder named by
$DENSE_ATTENTION_CHECKPOINTS); the tests fail, never skip, when there is none.
"""

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from dense_attention.core.errors import UNEXPECTED_MESSAGE
from dense_attention.storage import catalog, checkpoint
from dense_attention.training.train import pick_device
from dense_attention.ui import state

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


def _home_info() -> catalog.CheckpointInfo | None:
    """The first text checkpoint: the home page's model."""
    infos = catalog.discover_checkpoints(catalog.checkpoint_root()).values()
    return next((c for c in infos if c.kind == "text"), None)


def retrained(similarity: str):
    """The home model's checkpoint trained with `similarity` (under its similarities/ folder),
    loaded as the app loads it when that similarity is picked; fails if there is none."""
    variants = catalog.similarity_variants(_home_info())
    assert similarity in variants, f"no {similarity} variant of the home model: {sorted(variants)}"
    return checkpoint.load(variants[similarity].path, device=pick_device())


HOME_EXAMPLES = catalog.examples_for(_home_info())  # the example pills with the default model
EXAMPLE = HOME_EXAMPLES[0]  # the text page's first example, its default sentence
ATOL = 2e-5  # the app and the test may run MiniLM with different thread counts


def run(target) -> AppTest:
    """Run the app (or the app of a widget just set) and check that nothing raised, not even a
    bug that an error boundary caught (it shows UNEXPECTED_MESSAGE and logs the traceback)."""
    at = target.run()
    assert not at.exception, [e.message for e in at.exception]
    assert UNEXPECTED_MESSAGE not in [e.value for e in at.error], "a bug was caught: see the log"
    return at


def open_page(page: str | None = None) -> AppTest:
    at = run(AppTest.from_file(APP, default_timeout=60))
    return run(at.switch_page(page)) if page else at


def figures(at: AppTest) -> list[dict]:
    """Every plotly figure on the page, as the browser would receive it."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def titled(at: AppTest, prefix: str) -> list[dict]:
    return [f for f in figures(at) if f["layout"]["title"]["text"].startswith(prefix)]


def decode(value) -> np.ndarray:
    """A plotly data array from figure JSON: a list, or binary {"dtype", "bdata", "shape"}
    (figures.heatmaps sends token x feature matrices and those over HOVER_CELLS_MAX cells so)."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(size) for size in str(value.get("shape", flat.size)).split(",")]
        return flat.reshape(shape).astype(float)
    return np.array(value, dtype=float)


def z(fig: dict) -> np.ndarray:
    return decode(fig["data"][0]["z"])


def attention_matrices(at: AppTest) -> list[np.ndarray]:
    """z of every attention heatmap of the walk-through and the formula panel."""
    return [z(f) for f in titled(at, "Attention a")]


def latex_text(at: AppTest) -> str:
    return "\n".join(latex.value for latex in at.latex)


def set_sentence(at: AppTest, text: str) -> AppTest:
    return run(at.text_area(key=state.SENTENCE_WIDGET).set_value(text))
