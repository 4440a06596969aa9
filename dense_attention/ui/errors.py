"""Library errors as messages on the page, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from ..inputs.encoding import EncodingError
from .styles import md


@contextmanager
def friendly_errors(stop: bool = True) -> Iterator[None]:
    """Turn the library's errors into a message instead of a traceback.

    Input problems (EncodingError: empty text, unreadable image) are an st.info prompt; any other
    ValueError (CheckpointError, DataError, ConfigError...) or OSError is an st.error. With
    `stop`, the page stops there; otherwise it goes on after the message.
    """
    try:
        yield
    except EncodingError as err:
        st.info(md(err), icon=":material/edit:")
    except (ValueError, OSError) as err:
        st.error(md(err), icon=":material/error:")
    else:
        return
    if stop:
        st.stop()
