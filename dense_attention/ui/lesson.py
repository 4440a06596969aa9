"""Lesson links: a link's `hide=` and `lock=` take controls away from whoever opens it (hidden:
absent; locked: shown, disabled, with a note), and the panel that makes such a link.

Controls: model (the picker), text (the sentence box and its examples), and the live settings
similarity, temperature and pooling. E.g. `?hide=similarity,temperature&lock=model,text` sends
an exercise on one model and one sentence where only the pooling may be changed.
`questions=on` adds a predict-then-reveal question under each step and on each slide
(ui.questions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import streamlit as st

from ..core.i18n import N_, tr
from . import state

CONTROLS = ("model", "text", "similarity", "temperature", "pooling")
LOCK_NOTE = N_("Locked by this lesson link.")
PARAMS = ("hide", "lock", "questions")
QUESTIONS_ON = "on"  # questions=on


@dataclass(frozen=True)
class Lesson:
    """The controls a lesson link hides and locks (a hidden control is never also locked), and
    whether it asks questions."""

    hidden: frozenset[str] = frozenset()
    locked: frozenset[str] = frozenset()
    questions: bool = False  # predict, then reveal: a question per step and per slide

    def hides(self, control: str) -> bool:
        return control in self.hidden

    def locks(self, control: str) -> bool:
        return control in self.locked and control not in self.hidden

    @property
    def constrained(self) -> frozenset[str]:
        """Controls the user may not change: hidden or locked."""
        return self.hidden | self.locked

    def params(self) -> dict[str, str | None]:
        """hide=, lock= and questions= as a link writes them (None: absent), in CONTROLS order."""
        ordered = lambda names: ",".join(c for c in CONTROLS if c in names) or None  # noqa: E731
        return {
            "hide": ordered(self.hidden),
            "lock": ordered(self.locked - self.hidden),
            "questions": QUESTIONS_ON if self.questions else None,
        }


def parse(text: str | None) -> frozenset[str]:
    """The known control names in a comma-separated list; unknown names are ignored."""
    names = {part.strip().lower() for part in (text or "").split(",")}
    return frozenset(names & set(CONTROLS))


def restore(param: Callable[[str], str | None]) -> None:
    """Once per session (share.restore_view): the link's hide=, lock= and questions= into the
    session."""
    hidden = parse(param("hide"))
    asks = (param("questions") or "").strip().lower() == QUESTIONS_ON
    st.session_state[state.LESSON] = Lesson(hidden, parse(param("lock")) - hidden, asks)


def current() -> Lesson:
    """This session's lesson: what its link hid and locked (nothing without one)."""
    found = st.session_state.get(state.LESSON)
    return found if isinstance(found, Lesson) else Lesson()


def lock_note(control: str) -> None:
    """The note under a locked control."""
    if current().locks(control):
        st.caption(":material/lock: " + tr(LOCK_NOTE))


def link(hidden: list[str], locked: list[str], questions: bool = False) -> str:
    """A link to this page as it is now (the URL's view parameters) with hide=, lock= and
    questions=."""
    view = {k: v for k, v in st.query_params.to_dict().items() if k not in PARAMS}
    lesson = Lesson(frozenset(hidden), frozenset(locked) - frozenset(hidden), questions)
    query = urlencode(view | {k: v for k, v in lesson.params().items() if v}, safe=",")
    base = (st.context.url or "").split("?")[0]
    return f"{base}?{query}" if query else base


def lesson_panel() -> None:
    """The sidebar's "Make a lesson link": pick controls to hide and to lock, copy the link.
    Not drawn for someone who opened a lesson link (the exercise stays as sent)."""
    if current().constrained:
        return
    with st.sidebar.expander(tr("Make a lesson link"), icon=":material/school:"):
        st.caption(
            tr("A link to this view for a class: hidden controls are absent, locked ones are "
               "shown but cannot be changed.")
        )  # fmt: skip
        hidden = st.multiselect(tr("Hide"), CONTROLS, key=state.LESSON_HIDE)
        locked = st.multiselect(tr("Lock"), CONTROLS, key=state.LESSON_LOCK,
                                help=tr("A control both hidden and locked is hidden."))  # fmt: skip
        asks = st.checkbox(tr("Ask questions (predict, then reveal)"), key=state.LESSON_QUESTIONS,
                           help=tr("A question under each step and on each slide; a click on a "
                                   "choice shows the answer with its numbers."))  # fmt: skip
        st.code(link(hidden, locked, asks), language=None, wrap_lines=True)
