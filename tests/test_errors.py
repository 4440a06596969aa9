"""errors: one base under every error meant for a user, and the page's boundary
(ui.errors.friendly_errors) that shows those messages and logs anything else as a bug."""

import inspect
import logging

from streamlit.testing.v1 import AppTest

import dense_attention
from dense_attention.core.config import ConfigError
from dense_attention.core.errors import UNEXPECTED_MESSAGE, DenseAttentionError
from dense_attention.data.archive import ZipRefused
from dense_attention.data.dataset import DataError
from dense_attention.explain.faithfulness import FaithfulnessError
from dense_attention.figures.export import ExportError
from dense_attention.inputs.classifier import NonFiniteTrace
from dense_attention.inputs.encoding import EncodingError
from dense_attention.storage.checkpoint import CheckpointError
from dense_attention.training.train import TrainingError
from dense_attention.ui.styles import md

USER_ERRORS = (
    ConfigError, CheckpointError, DataError, EncodingError, ExportError, FaithfulnessError,
    NonFiniteTrace, TrainingError, ZipRefused,
)  # fmt: skip


def _library_error_classes() -> set[type]:
    """Every exception class defined in a module of the library."""
    import importlib
    import pkgutil

    found = set()
    for info in pkgutil.walk_packages(dense_attention.__path__, "dense_attention."):
        if ".ui" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        found |= {
            value for value in vars(module).values()
            if inspect.isclass(value) and issubclass(value, BaseException)
            and value.__module__ == info.name
        }  # fmt: skip
    return found


def test_every_error_of_the_library_derives_from_the_one_base():
    defined = _library_error_classes()
    assert set(USER_ERRORS) <= defined
    assert [c.__name__ for c in defined if not issubclass(c, DenseAttentionError)] == []
    assert "DenseAttentionError" in dense_attention.__all__


def test_only_config_and_checkpoint_errors_are_also_value_errors():
    """Their callers catch them as ValueError (see their docstrings); the others are not, so a
    boundary that still caught ValueError would miss them in a test."""
    assert {c for c in USER_ERRORS if issubclass(c, ValueError)} == {ConfigError, CheckpointError}


def errors_script() -> None:
    import streamlit as st

    from dense_attention.inputs.encoding import EncodingError
    from dense_attention.storage import checkpoint
    from dense_attention.ui.errors import friendly_errors

    with friendly_errors(stop=False):
        raise EncodingError("Type some text: the input is empty")
    with friendly_errors(stop=False):
        raise checkpoint.CheckpointError("model.safetensors is missing")
    with friendly_errors(stop=False):
        raise ValueError("secret internals of a bug")
    with friendly_errors():
        raise KeyError("another bug")
    st.write("not reached")


def test_friendly_errors_show_library_messages_and_a_generic_one_for_a_bug(caplog):
    with caplog.at_level(logging.ERROR, logger="dense_attention.ui.errors"):
        at = AppTest.from_function(errors_script, default_timeout=30).run()
    assert not at.exception  # never a traceback on the page
    assert at.info[0].value == md("Type some text: the input is empty")  # shown escaped
    assert [e.value for e in at.error] == [
        md("model.safetensors is missing"),
        UNEXPECTED_MESSAGE,
        UNEXPECTED_MESSAGE,
    ]
    assert not at.markdown  # the last one stopped the page
    bugs = [r for r in caplog.records if r.name == "dense_attention.ui.errors"]
    assert [r.exc_info[0] for r in bugs] == [ValueError, KeyError]  # logged with tracebacks
    assert "secret internals" not in " ".join(e.value for e in at.error)
