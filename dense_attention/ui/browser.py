"""This browser's workspace: its trained and uploaded models and its jobs, found by a random
token kept in the session and in a cookie, so a reload keeps them and no other browser sees them.
Its models are kept on disk too (store.py, under $DAL_DATA_DIR): a restarted server finds them.

The cookie is written by page JavaScript (Streamlit cannot set one server-side), so it is not
HttpOnly: the token is a bearer secret for this browser's models and nothing else.
"""

from __future__ import annotations

import re
import secrets
import threading
from typing import Any

import streamlit as st

from ..core.i18n import tr
from ..inputs.classifier import Classifier
from ..server import jobs, metrics, store
from . import state
from .styles import md

WORKSPACE_COOKIE = "dal_workspace"  # a random token; nothing else about the user is stored
COOKIE_MAX_AGE_S = 6 * 3600
USER_SUFFIX = " (this session)"  # ends the picker label of a model of this browser


def label(name: str) -> str:
    """The model picker's label of this browser's model `name`."""
    return f"{name}{USER_SUFFIX}"


@st.cache_resource(show_spinner=False)
def workspaces() -> store.Workspaces:
    """Token -> Workspace for the whole server, kept on disk under store.data_dir(). Only a
    browser holding a token (its own, in a cookie) reaches that workspace: sessions never see
    each other's models."""
    return store.Workspaces()


def _cookie_token() -> str | None:
    try:
        token = st.context.cookies.get(WORKSPACE_COOKIE)
    except Exception:  # noqa: BLE001 - no browser (AppTest, bare mode): no cookie
        return None
    return token if isinstance(token, str) and re.fullmatch(r"[0-9a-f]{32}", token) else None


def workspace() -> store.StoredWorkspace:
    """This browser's workspace (models, results, jobs). Reading it changes nothing but the
    session's token, chosen once (the cookie's, or a new random one)."""
    token = st.session_state.get(state.WORKSPACE)
    if token is None:
        cookie = _cookie_token()  # adopted only when this server knows it: never a made-up one
        known = cookie is not None and workspaces().known(cookie)
        token = st.session_state[state.WORKSPACE] = cookie if known else secrets.token_hex(16)
    return workspaces().get(token)


def user_models() -> dict[str, Classifier]:
    """Models trained or uploaded in this browser: name -> Classifier (only it sees them)."""
    return workspace().models


def user_metadata(picker_label: str) -> dict[str, Any]:
    """The training metadata (dataset, split_seed, limit) of this browser's model shown as
    `picker_label`; {} when unknown (e.g. an uploaded ZIP without it)."""
    name = picker_label.removesuffix(USER_SUFFIX)
    return dict(workspace().metadata.get(name, {}))


def stopped_runs() -> set[str]:
    """Names of this browser's models whose training the user stopped: never picked unasked."""
    return {name for name, run in workspace().results.items() if run.stopped_by_user}


def pick(model: Classifier, name: str) -> None:
    """Make this browser's model `name` the picked model of its kind on every page."""
    picks = st.session_state.setdefault(state.SELECTED_MODEL, {})
    picks[model.config.kind] = picks["any"] = label(name)


def _register(
    spaces: store.Workspaces, space: store.StoredWorkspace, trained: metrics.TrainedModel
) -> str:
    """Add a finished run to this browser's models once (under space.lock), on disk too; its
    name. A run the user stopped is named so."""
    known = next((n for n, r in space.results.items() if r is trained), None)
    if known is not None:
        return known
    name = f"{trained.dataset} #{len(space.results) + 1}"
    if trained.stopped_by_user:
        name += tr(" (stopped in epoch {history})", history=len(trained.history))
    while name in space.models:
        name += "+"
    space.models[name] = trained.model
    space.results[name] = trained
    held_out = {"held_out": trained.held_out} if trained.held_out else {}
    space.metadata[name] = {**trained.training_metadata(), **held_out}
    spaces.save(space, name)  # on disk: a restarted server finds it again
    return name


def watch(space: store.StoredWorkspace, job: jobs.Job) -> None:
    """When `job` ends, even with no page of this browser open: its trained model joins the
    workspace and the disk (again, now with its baseline), and its record there is cleared."""
    spaces = workspaces()

    def wait() -> None:
        job.join()
        trained = job.result
        if isinstance(trained, metrics.TrainedModel):
            with space.lock:
                known = any(r is trained for r in space.results.values())
                name = _register(spaces, space, trained)
                if known:  # registered by a page before its baseline was measured
                    spaces.save(space, name)
        spaces.record_jobs(space)

    threading.Thread(target=wait, name=f"watch-job-{job.id}", daemon=True).start()


def unreadable_models() -> None:
    """In the sidebar: each of this browser's stored models that could not be loaded (or its
    whole list), with why, and a button to remove it; the files stay until then."""
    space = workspace()
    for name, reason in sorted(space.unreadable.items()):
        if name == store.INDEX_FILE:
            what, button = (
                tr("This browser's list of saved models is damaged"),
                tr("Set the list aside"),
            )
        else:
            what, button = (
                tr("Your model **{name}** could not be loaded", name=md(name)),
                tr("Remove it"),
            )
        st.warning(
            tr("{what}: {reason}. Its files are kept.", what=what, reason=md(reason)),
            icon=":material/broken_image:",
        )
        if st.button(button, key=f"{state.REMOVE_UNREADABLE}{name}"):
            workspaces().remove_unreadable(space, name)
            st.rerun()


def save_model(name: str) -> bool:
    """Keep this browser's model `name` (in user_models(), with its metadata) on disk."""
    return workspaces().save(workspace(), name)


def interrupted(slot: jobs.JobKind) -> str | None:
    """What to tell of this browser's job in `slot` that a server stop interrupted, if any."""
    space = workspace()
    return None if slot in space.jobs else space.interrupted.get(slot)


def collect_finished() -> None:
    """A finished training job's model joins this browser's models (once, whichever tab or
    watch() sees it first) and, unless the user stopped it, becomes the picked model of its kind
    (once per session). Jobs that started or ended are recorded on disk (a server that dies
    leaves them "interrupted")."""
    space, spaces = workspace(), workspaces()
    spaces.record_jobs(space)
    job = space.jobs.get(jobs.JobKind.TRAIN)
    trained = job.result if job is not None else None
    if not isinstance(trained, metrics.TrainedModel):
        return
    with space.lock:  # two tabs of one browser rerun at once: register the model once
        name = _register(spaces, space, trained)
    if st.session_state.get(state.RUN_PICKED) != job.id:
        st.session_state[state.RUN_PICKED] = job.id
        if not trained.stopped_by_user:
            pick(trained.model, name)


def remember_browser() -> None:
    """Every run (app.py): collect a finished model, and give this browser its workspace token
    in a cookie once per session, so a reload finds the same workspace. A one-pixel iframe runs
    one line of JavaScript for it (the token is ours, 32 hex digits, never user input)."""
    collect_finished()
    token = st.session_state[state.WORKSPACE]
    if st.session_state.get(state.COOKIE_WRITTEN):  # once per session: it also renews max-age
        return
    st.session_state[state.COOKIE_WRITTEN] = True
    with st.sidebar:
        st.iframe(
            f"<script>window.parent.document.cookie = '{WORKSPACE_COOKIE}={token}; path=/; "
            f"max-age={COOKIE_MAX_AGE_S}; SameSite=Strict';</script>",
            height=1,
        )
