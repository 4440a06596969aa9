"""The dataset page: which test split, the job that runs the model over it (cached per model and
data), the filters and slices, the confusion matrix, and the table whose row opens its input in
the walk-through and on the attention page."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..core.i18n import N_, tr
from ..data import uploads
from ..data.builtin import DATASETS
from ..explain import dataset_view
from ..explain.dataset_view import DatasetView
from ..explain.faithfulness import stored_means
from ..server import jobs, memo, metrics, work
from ..server.hashing import digest
from ..server.jobs import JobKind
from ..storage import catalog, checkpoint
from . import browser, state
from .cache import checkpoints
from .errors import friendly_errors
from .inputs import read_once
from .job_panels import job_controls, job_panel
from .sidebar import Picked
from .styles import md

OWN, UPLOAD = N_("The model's test split"), N_("Upload test data (CSV or ZIP)")
SAMPLE, WHOLE = N_("A seeded random sample"), N_("The whole test split")
# Finished views, by a digest of the model's weights, the data, the sample and the means: a
# view is only found by whoever has the same model and data, so sharing it leaks nothing.
RESULTS = memo.ByteLRU(max_bytes=256 * 2**20, max_item_bytes=64 * 2**20)


def _metadata(picked: Picked) -> dict[str, Any]:
    info = checkpoints().get(picked.label)
    return catalog.training_metadata(info) if info else browser.user_metadata(picked.label)


def _trained_upload(picked: Picked) -> work.DataChoice | None:
    """The uploaded data this browser's last training job fit `picked` on, while it is kept."""
    job = browser.workspace().jobs.get(JobKind.TRAIN)
    result = job.result if job is not None else None
    if isinstance(result, metrics.TrainedModel) and result.model is picked.model:
        return job.request.data if job.request.data.uploaded is not None else None
    return None


def _own_data(picked: Picked) -> work.DataChoice | None:
    meta = _metadata(picked)
    if meta.get("dataset") in DATASETS:
        return work.DataChoice(meta["dataset"], meta.get("limit"), seed=meta.get("split_seed", 0))
    return _trained_upload(picked)


def dataset_source(picked: Picked) -> work.DataChoice | None:
    """The data widgets: the model's own test split (when known) or an uploaded file; None
    (after saying why) until there is data."""
    own = _own_data(picked)
    sources = [OWN, UPLOAD] if own is not None else [UPLOAD]
    source = st.radio(
        tr("Data"),
        sources,
        horizontal=True,
        key=state.DATASET_SOURCE,
        format_func=lambda v: md(tr(v)),
    )
    if source == OWN:
        st.caption(
            tr("The test split of **{name}**: the model never trained on it.", name=md(own.name))
        )
        return own
    file = st.file_uploader(
        tr("Test data"), type=["csv", "zip"], key=state.DATASET_UPLOAD,
        help=tr("A CSV of text,label rows, or a ZIP with one folder of pictures per " "class."),
    )  # fmt: skip
    st.caption(
        tr(
            "The file is split as the Train page splits it (seed 0) and its test "
            "part is used: for the file the model was trained on, those are the rows "
            "it never saw.",
        )
    )
    if file is None:
        st.info(tr("Upload test data labelled with the model's classes."), icon=":material/upload:")
        return None
    data = read_once(file, state.DATASET_UPLOADED, uploads.parse_upload)
    model = picked.model
    if data.kind != model.config.kind:
        st.error(tr(
            "This file holds {kind} data; the model reads {kind2}.",
            kind=md(data.kind), kind2=md(model.config.kind),
        ),
                 icon=":material/error:")  # fmt: skip
        return None
    with friendly_errors():  # classes the model does not know: said, the page stops
        dataset_view.aligned_labels(data.test.labels, data.classes, model.classes)
    return work.DataChoice(data.name, uploaded=data)


def dataset_sample() -> tuple[int | None, int]:
    """The sample widgets: (at most this many inputs, None for the whole split; its seed)."""
    left, right = st.columns([2, 1])
    size = dataset_view.SAMPLE_SIZE
    how = left.radio(
        tr("Inputs"), [SAMPLE, WHOLE], horizontal=True, key=state.DATASET_SAMPLE,
        format_func=lambda v: md(
            tr("{sample} of {size}", sample=tr(v), size=size) if v == SAMPLE else tr(v)
        ),
        help=tr("Never the first N: a split may be sorted by label."),
    )  # fmt: skip
    seed = right.number_input(tr("Sample seed"), 0, 10_000, 0, key=state.DATASET_SEED)
    return (size if how == SAMPLE else None), int(seed)


def _model_key(picked: Picked) -> str:
    if picked.cache_key is not None:
        return picked.cache_key
    tensors = list(picked.model.core.state_dict().values())
    return digest(tensors, repr(picked.model.config))


def _data_key(data: work.DataChoice) -> str:
    if data.uploaded is None:
        return digest(data.name, data.limit, data.seed)
    test = data.uploaded.test
    return digest(list(test.items), test.labels, data.uploaded.classes)


def _request(picked: Picked, data: work.DataChoice, limit: int | None, seed: int, key: str):
    info = checkpoints().get(picked.label)
    means = stored_means(info.path) if info is not None else None
    model_zip = checkpoint.to_zip(picked.model)
    return work.DatasetViewRequest(model_zip, data, limit, seed, means, key)


def _kept(key: str) -> DatasetView | None:
    """The finished view for `key`: kept, or this browser's finished job's (then kept)."""
    job = browser.workspace().jobs.get(JobKind.DATASET)
    if job is not None and job.state == jobs.DONE and isinstance(job.result, DatasetView):
        RESULTS.get_or_build(job.request.key, lambda: job.result)
    return RESULTS.get(key)


def dataset_result(
    picked: Picked, data: work.DataChoice, limit: int | None, seed: int
) -> DatasetView | None:
    """The view of `picked` over `data`'s sample: kept from before, or a job to start (with its
    progress); None until it is there."""
    key = digest(_model_key(picked), _data_key(data), limit, seed)
    view = _kept(key)
    if view is not None:
        return view
    how = tr("the whole test split") if limit is None else tr("{limit} test inputs", limit=limit)

    def start() -> jobs.Job:
        return jobs.dataset_view_job(_request(picked, data, limit, seed, key))

    job_controls(JobKind.DATASET, tr("Run the model over {how}", how=how), start)
    job_panel(JobKind.DATASET, lambda job: None)
    return None
