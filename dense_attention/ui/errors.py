"""The page's error boundary: the library's errors as messages, a bug as a logged generic one."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from ..core.errors import UNEXPECTED_MESSAGE, DenseAttentionError
from ..core.i18n import tr
from ..inputs.encoding import EncodingError
from .styles import md

log = logging.getLogger(__name__)


def show_unexpected(where: str) -> None:
    """Log the exception being handled, with its traceback, and show UNEXPECTED_MESSAGE: call
    it in an `except` clause for an error that is not a DenseAttentionError (a bug)."""
    log.exception("unexpected error in %s", where)
    st.error(tr(UNEXPECTED_MESSAGE), icon=":material/bug_report:")


@contextmanager
def friendly_errors(stop: bool = True) -> Iterator[None]:
    """Turn errors into a message on the page instead of a traceback.

    Input problems (EncodingError: empty text, unreadable image) are an st.info prompt; any
    other DenseAttentionError (CheckpointError, DataError, ConfigError...) an st.error with its
    message. Any other exception is a bug: logged with its traceback, and the page shows
    UNEXPECTED_MESSAGE, never the error's own text. With `stop`, the page stops there;
    otherwise it goes on after the message. (st.stop and st.rerun pass through: they are not
    Exceptions.)
    """
    try:
        yield
    except EncodingError as err:
        st.info(md(err), icon=":material/edit:")
    except DenseAttentionError as err:
        st.error(md(err), icon=":material/error:")
    except Exception:  # noqa: BLE001 - a bug: logged, and a generic message instead of its text
        show_unexpected("a page")
    else:
        return
    if stop:
        st.stop()
