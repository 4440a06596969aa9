"""The dataset page: the job's rows are the library's, the filters and slices show what the
library gives, and bad input (an empty slice, a one-class file, data of another kind) is said."""

import json

import numpy as np
import pytest
from pagetest import APP, decode, run
from streamlit.testing.v1 import AppTest

from dense_attention.data.builtin import load_dataset
from dense_attention.explain import dataset_view, faithfulness
from dense_attention.server.jobs import JobKind
from dense_attention.storage import catalog, checkpoint
from dense_attention.ui import browser, state

PAGE = "views/dataset.py"


def dataset_page(model: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[state.SELECTED_MODEL] = {"any": model}
    return run(run(at).switch_page(PAGE))


@pytest.fixture(scope="module")
def digits():
    info = catalog.discover_checkpoints(catalog.checkpoint_root())["digits"]
    model = checkpoint.load(info.path)
    ds = load_dataset("digits", seed=0)
    view = dataset_view.run(model, ds.test, seed=0, means=faithfulness.stored_means(info.path))
    return model, view


@pytest.fixture(scope="module")
def ran() -> AppTest:
    at = dataset_page("digits")
    assert at.button(key="dataset_start").label == "Run the model over 500 test inputs"
    run(at.button(key="dataset_start").click())
    job = browser.workspaces().get(at.session_state[state.WORKSPACE]).jobs[JobKind.DATASET]
    job.join(180)
    assert job.finished and job.error is None, (job.state, job.error)
    return run(at)


def test_the_table_is_the_librarys_rows(ran, digits):
    _, view = digits
    table = ran.dataframe(key=state.DATASET_TABLE).value
    assert list(table["index"]) == list(view.rows["index"])  # all 359: fewer than 500
    assert list(table["prediction"]) == list(view.rows["prediction"])
    assert list(table["verdict"]) == list(view.rows["verdict"])
    np.testing.assert_allclose(table["uniform_dp"], view.rows["uniform_dp"], atol=1e-6)
    shown = {m.label: m.value for m in ran.metric}
    accuracy = view.rows["correct"].mean()
    assert shown[f"Accuracy of the {len(view.rows)} inputs shown"] == f"{accuracy:.1%}"
    (fig,) = [json.loads(c.proto.spec) for c in ran.get("plotly_chart")]
    counts = decode(fig["data"][0]["z"])
    assert (counts == dataset_view.confusion(view.rows, view.classes)).all()


def test_the_wrong_filter_keeps_the_wrong_predictions(ran, digits):
    _, view = digits
    at = run(ran.radio(key=state.DATASET_OUTCOME).set_value("wrong"))
    table = at.dataframe(key=state.DATASET_TABLE).value
    wrong = view.rows[~view.rows["correct"]]
    assert len(wrong) > 0 and list(table["index"]) == list(wrong["index"])
    assert (table["label"] != table["prediction"]).all()
    assert at.metric[0].value == "0.0%"
    # wrong and correct at once is nothing: said, no NaN and no empty chart
    at = run(at.radio(key=state.DATASET_OUTCOME).set_value("correct"))
    at = run(at.multiselect(key=state.DATASET_CLASSES).set_value(["0"]))
    at = run(at.toggle(key=state.DATASET_FLIPS).set_value(True))
    at = run(at.toggle(key=state.DATASET_DISAGREES).set_value(True))
    rows = dataset_view.filtered(view.rows, ["0"], "correct", True, True)
    if len(rows) == 0:
        assert any("No input matches these filters" in i.value for i in at.info)
        assert not at.get("plotly_chart")
    slices = at.dataframe[0].value  # the slices, above the table
    assert not any("nan" in str(v).lower() for v in slices["inputs"])
    run(at.radio(key=state.DATASET_OUTCOME).set_value("all"))


def test_a_one_class_file_is_refused_with_a_message():
    at = dataset_page("digits")
    run(at.radio(key=state.DATASET_SOURCE).set_value("Upload test data (CSV or ZIP)"))
    raw = b"text,label\n" + b"".join(b"sentence %d,only\n" % k for k in range(30))
    at.file_uploader(key=state.DATASET_UPLOAD).set_value(("one.csv", raw, "text/csv"))
    at = run(at)
    assert at.error and "class" in at.error[0].value
    assert not at.dataframe


def test_data_of_another_kind_is_refused_with_a_message():
    at = dataset_page("digits")
    run(at.radio(key=state.DATASET_SOURCE).set_value("Upload test data (CSV or ZIP)"))
    raw = b"text,label\n" + b"".join(
        b"sentence %d,%s\n" % (k, b"ab"[k % 2 : k % 2 + 1]) for k in range(30)
    )
    at.file_uploader(key=state.DATASET_UPLOAD).set_value(("two.csv", raw, "text/csv"))
    at = run(at)
    assert any("holds text data; the model reads image" in e.value for e in at.error)
