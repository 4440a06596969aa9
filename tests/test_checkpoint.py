"""Checkpoint round trip and every way a checkpoint folder can be bad."""

import json

import pytest
import torch
from safetensors.torch import save_file

from dense_attention import SIMILARITIES, DenseAttention, ModelConfig, checkpoint
from dense_attention.checkpoint import WEIGHTS_FILE as WEIGHTS
from dense_attention.checkpoint import CheckpointError


def model_for(similarity="scaled_dot", **kw):
    torch.manual_seed(0)
    return DenseAttention(ModelConfig(6, 8, 3, similarity=similarity, **kw))


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_round_trip_gives_identical_logits(tmp_path, similarity):
    model = model_for(similarity, pooling="mean", skip="none", temperature=0.3)
    checkpoint.save(tmp_path / "ckpt", model, {"dataset": "toy"})
    loaded = checkpoint.load(tmp_path / "ckpt")
    x = torch.randn(3, 5, 6)
    assert loaded.config == model.config
    assert torch.equal(loaded(x), model(x))
    for name in SIMILARITIES:  # fixed buffers of the other similarities survive too
        want = model.trace(x, similarity=name).attn
        assert torch.equal(loaded.trace(x, similarity=name).attn, want)
    assert checkpoint.read_metadata(tmp_path / "ckpt") == {"dataset": "toy"}
    assert not list((tmp_path / "ckpt").glob("*.tmp"))  # atomic writes leave no temp files


@pytest.fixture
def saved(tmp_path):
    return checkpoint.save(tmp_path / "ckpt", model_for())


def edit_config(folder, config=None, **header_changes):
    path = folder / "config.json"
    header = json.loads(path.read_text()) | header_changes
    header["config"] |= config or {}
    path.write_text(json.dumps(header))


BAD = {
    "missing config": (lambda f: (f / "config.json").unlink(), "config.json is missing"),
    "missing weights": (lambda f: (f / "model.safetensors").unlink(), "missing"),
    "config not json": (lambda f: (f / "config.json").write_text("{oops"), "not valid JSON"),
    "foreign format": (lambda f: edit_config(f, format="keras"), "not a Dense Attention"),
    "newer version": (lambda f: edit_config(f, version=99), "version"),
    "unknown kind": (lambda f: edit_config(f, kind="GPT"), "unknown model kind"),
    "unknown field": (lambda f: edit_config(f, {"heads": 4}), "unknown ModelConfig field"),
    "unknown value": (lambda f: edit_config(f, {"similarity": "manhattan"}), "similarity"),
    "weights for another size": (lambda f: edit_config(f, {"hidden_dim": 9}), "wrong shape"),
    "truncated weights": (
        lambda f: (f / WEIGHTS).write_bytes((f / WEIGHTS).read_bytes()[:100]),
        "not a readable safetensors",
    ),
    "garbage weights": (
        lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 64),
        "not a readable safetensors",
    ),
    "pickle instead of safetensors": (
        lambda f: torch.save(model_for().state_dict(), f / "model.safetensors"),
        "not a readable safetensors",
    ),
    "missing and extra tensors": (
        lambda f: save_file(
            {"dense.weight": torch.zeros(8, 6), "extra": torch.zeros(1)}, f / "model.safetensors"
        ),
        "missing .*unexpected extra",
    ),  # fmt: skip
    "nan weights": (
        lambda f: save_file(
            {k: v.fill_(float("nan")) for k, v in model_for().state_dict().items()},
            f / "model.safetensors",
        ),
        "non-finite",
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_checkpoint_raises_checkpoint_error(saved, case):
    spoil, message = BAD[case]
    spoil(saved)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load(saved)


def test_not_a_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        checkpoint.load(tmp_path / "nowhere")
