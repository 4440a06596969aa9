"""Input widgets of the text pages (the sentence, kept across pages), uploads read once, and the
tokens and prediction the model made of them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from ..core.errors import UNEXPECTED_MESSAGE, DenseAttentionError
from ..core.i18n import tr
from ..explain import verdict
from ..inputs.classifier import Classifier, Explanation
from ..inputs.text_encoder import CHARS_PER_TOKEN_CAP
from ..storage import catalog
from . import browser, lesson, state
from .cache import checkpoints
from .share import SHARED_TEXT_MAX, share_view
from .styles import md, token_chips_html

log = logging.getLogger(__name__)
CHIPS_MAX = 48  # more tokens than this are shown in a scrolling box

# Sentences one click away for a model without examples of its own (e.g. one trained here).
EXAMPLE_SENTENCES = catalog.GENERIC_EXAMPLES


def examples_of(model_name: str) -> tuple[str, ...]:
    """The example sentences of the picked model, best first: a shipped text checkpoint's own
    (from its metrics.json: sentences it gets right, most structured attention first), a model
    trained in this browser its own (test sentences it gets right, kept in its metadata), else
    EXAMPLE_SENTENCES."""
    if model_name.endswith(browser.USER_SUFFIX):
        own = browser.user_metadata(model_name).get(catalog.EXAMPLES_KEY)
        own = own if isinstance(own, list) else []
        sentences = tuple(t for t in own if isinstance(t, str) and t.strip())
        return sentences or EXAMPLE_SENTENCES
    return catalog.examples_for(checkpoints().get(model_name))


def _default_sentence(examples: Sequence[str]) -> None:
    """The sentence box starts on the model's first example; a sentence that is still the
    default of the model picked before follows the newly picked model (a typed or shared
    sentence stays)."""
    first = examples[0] if examples else ""
    previous = st.session_state.get(state.SENTENCE_DEFAULT)
    if state.SENTENCE not in st.session_state or st.session_state[state.SENTENCE] == previous:
        st.session_state[state.SENTENCE] = first
        st.session_state[state.SENTENCE_DEFAULT] = first


def read_once(file: Any, key: str, parse: Callable[[bytes, str], Any]) -> Any:
    """parse(bytes, file name) of an uploaded file, once per file (kept under `key`). A
    DenseAttentionError (DataError, CheckpointError...) is shown as an error and stops the page,
    for as long as the file stays in the uploader; any other exception is a bug, logged once,
    and the page shows the generic message instead."""
    cached = st.session_state.get(key)
    if cached is None or cached[0] != file.file_id:
        try:
            with st.spinner(tr("Reading {name}…", name=md(file.name))):
                result: Any = parse(file.getvalue(), file.name)
        except DenseAttentionError as err:
            result = err
        except Exception:  # noqa: BLE001 - a bug: logged, then shown as the generic message
            log.exception("reading the upload %r failed", file.name)
            result = RuntimeError(UNEXPECTED_MESSAGE)
        st.session_state[key] = cached = (file.file_id, result)
    if isinstance(cached[1], Exception):
        st.error(md(cached[1]), icon=":material/error:")
        st.stop()
    return cached[1]


def _use_example() -> None:
    example = st.session_state.get(state.EXAMPLE_WIDGET)
    if example:
        st.session_state[state.SENTENCE] = example
    st.session_state[state.EXAMPLE_WIDGET] = None  # a pill is a shortcut, not a lasting choice


def _shared_sentence() -> str:
    """The sentence of the text pages, also written into the URL (when it is short enough)."""
    text = st.session_state[state.SENTENCE]
    shared = len(text) <= SHARED_TEXT_MAX
    share_view(text=text if shared else None, text_not_shared=None if shared else 1)
    _link_notices(text)
    return text


def _link_notices(text: str) -> None:
    """What a link does not carry, told to its sender; a receiver told the sender's was cut."""
    if len(text) > SHARED_TEXT_MAX:
        st.caption(
            tr(
                "This text is {len:,} characters: a link to this page carries "
                "texts up to {shared_text_max:,}, so whoever opens it gets the "
                "example sentence instead (and is told so). Share the text "
                "itself alongside the link.",
                len=len(text),
                shared_text_max=SHARED_TEXT_MAX,
            )
        )
        return
    shown = st.session_state.get(state.TEXT_NOT_SHARED)
    if shown is True:  # first run after the link: remember the text it opened with
        st.session_state[state.TEXT_NOT_SHARED] = shown = text
    if shown == text:  # until the receiver changes it
        st.info(
            tr(
                "The link you opened came from a text too long to put in a link: "
                "this is the example sentence, not the sender's text."
            ),
            icon=":material/link_off:",
        )


def sentence_input(examples: Sequence[str] = EXAMPLE_SENTENCES) -> str:
    """A sentence box (kept across pages) with example sentences one click away."""
    _default_sentence(examples)
    if lesson.current().hides("text"):  # a lesson link's sentence, with no box to change it
        return _shared_sentence()
    locked = lesson.current().locks("text")
    st.text_area(
        tr("Your sentence"),
        height=90,
        placeholder=tr("Type a sentence, then press Ctrl+Enter"),
        help=tr("Press Ctrl+Enter (⌘+Enter on a Mac) or click outside the box to apply."),
        disabled=locked,
        **state.bound_to(state.SENTENCE_WIDGET, state.SENTENCE),
    )
    lesson.lock_note("text")
    st.pills(
        tr("Or try an example"),
        list(examples),
        format_func=md,
        key=state.EXAMPLE_WIDGET,
        on_change=_use_example,
        disabled=locked,
    )
    return _shared_sentence()


def sentence_line(
    examples: Sequence[str] = EXAMPLE_SENTENCES, key: str = state.PRESENT_SENTENCE
) -> str:
    """A one-line box for the sentence of the text pages (st.session_state[SENTENCE])."""
    _default_sentence(examples)
    if not lesson.current().hides("text"):
        locked = lesson.current().locks("text")
        st.text_input(tr("Sentence"), disabled=locked, **state.bound_to(key, state.SENTENCE))
        lesson.lock_note("text")
    return _shared_sentence()


def token_box(n: int, height: int = 160):
    """A container for n tokens' worth of text: it scrolls past CHIPS_MAX tokens, so hundreds
    of tokens do not push the rest of the page far down."""
    return st.container(height=height) if n > CHIPS_MAX else st.container()


def show_tokens(explanation: Explanation, text: str, max_len: int) -> None:
    """The tokens the model read, and a notice when the text was cut to the model's maximum."""
    kept = len(explanation.tokens)
    token_box(kept).html(token_chips_html(explanation.tokens))
    if explanation.truncated:
        capped = len(text) > max_len * CHARS_PER_TOKEN_CAP  # the count past the cap is a floor
        total = f"{tr('at least ') if capped else ''}{kept + explanation.truncated:,}"
        st.warning(
            tr(
                "Long text: this model reads at most {max_len} tokens, [CLS] and "
                "[SEP] included. **{kept} of {total} tokens kept**; the rest is "
                "cut off.",
                max_len=max_len,
                kept=kept,
                total=total,
            ),
            icon=":material/content_cut:",
        )


def caution(model: Classifier, text: str) -> None:
    """A visible caution beside the prediction when the input cannot support it."""
    note = verdict.input_caution(model, text)
    if note:
        st.warning(md(note), icon=":material/help:")


def prediction_line(explanation: Explanation) -> str:
    """ "Prediction: **sport** (97.1%)" for markdown."""
    probs = explanation.trace.probs[0]
    k = int(probs.argmax())
    return tr(
        "Prediction: **{name}** ({p:.1%})", name=md(explanation.classes[k]), p=float(probs[k])
    )
