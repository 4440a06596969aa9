"""ui's checkpoint ZIP widgets: a download button, and an upload that joins this session."""

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dense_attention.core.config import ModelConfig
from dense_attention.core.model import DenseAttention
from dense_attention.data.builtin import load_dataset
from dense_attention.inputs.classifier import build_classifier
from dense_attention.server import store
from dense_attention.storage import checkpoint
from dense_attention.ui import browser, state
from dense_attention.ui.styles import md


def upload_script() -> None:
    import streamlit as st

    from dense_attention.ui import browser, checkpoint_zip, state

    checkpoint_zip.checkpoint_upload("up")
    st.write("models=" + ",".join(sorted(browser.user_models())))
    st.write(f"picked={st.session_state.get(state.SELECTED_MODEL, {}).get('image')}")
    for name, model in browser.user_models().items():
        checkpoint_zip.checkpoint_download(model, name, {"test_accuracy": 0.5}, key=f"zip_{name}")


@pytest.fixture(scope="module")
def digits_zip() -> bytes:
    torch.manual_seed(0)
    model = build_classifier(load_dataset("digits", limit=200), hidden_dim=8)
    return checkpoint.to_zip(model, {"dataset": "digits"})


def upload(at: AppTest, name: str, raw: bytes) -> AppTest:
    at = at.file_uploader(key="up").set_value((name, raw, "application/zip")).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_an_uploaded_checkpoint_joins_the_session_models_once(digits_zip):
    at = AppTest.from_function(upload_script, default_timeout=60).run()
    assert at.markdown[0].value == "models=" and not at.success
    at = upload(at, "digits.zip", digits_zip)
    assert at.markdown[0].value == "models=digits-upload"
    assert md("digits-upload") in at.success[0].value and "model picker" in at.success[0].value
    assert at.markdown[1].value == f"picked=digits-upload{browser.USER_SUFFIX}"
    at = at.run()  # a rerun with the same file in the uploader does not load it again
    assert at.markdown[0].value == "models=digits-upload" and at.success
    at = upload(at, "digits.zip", digits_zip)  # the same name again: a new model, a new name
    assert at.markdown[0].value == "models=digits-upload,digits-upload-2"
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download checkpoint (ZIP)"] * 2
    # Kept on disk too: a restarted server (a new store.Workspaces on the folder) has both.
    token = at.session_state[state.WORKSPACE]
    restarted = store.Workspaces(store.data_dir()).get(token)
    assert sorted(restarted.models) == ["digits-upload", "digits-upload-2"]
    assert restarted.metadata["digits-upload"] == {"dataset": "digits"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not a zip at all", "not a ZIP file"),
        ("torch.save", "Pickle-based checkpoints are refused"),
        ("bare", "bare DenseAttention"),
    ],
)
def test_a_bad_upload_is_an_error_message_not_a_traceback(raw, message):
    if raw == "torch.save":
        raw = torch_save_zip()
    elif raw == "bare":
        raw = checkpoint.to_zip(DenseAttention(ModelConfig(4, 8, 2)))
    at = AppTest.from_function(upload_script, default_timeout=60).run()
    at = upload(at, "model.zip", raw)
    assert md(message) in at.error[0].value and md("model.zip") in at.error[0].value
    assert at.markdown[0].value == "models=" and not at.success


def torch_save_zip() -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buffer)  # itself a ZIP, holding archive/data.pkl
    return buffer.getvalue()
