"""The library's one error base: an error whose message is written for the user."""

from __future__ import annotations

from .i18n import N_

# What a user sees for any other exception (a bug): never its text, never a traceback.
UNEXPECTED_MESSAGE = N_(
    "Something went wrong inside the app; it was logged with its traceback for the developers. "
    "Try again, or try another input or setting."
)


class DenseAttentionError(Exception):
    """A problem the user can act on (an input, a file, a setting); its message says what.

    Every error the library raises for a user derives from this class, and the boundaries that
    turn errors into messages (`ui.errors.friendly_errors`, `server.executor.run_work`, the CLI)
    catch this class only: any other exception is a bug, logged with its traceback and shown
    as `UNEXPECTED_MESSAGE`.
    """
