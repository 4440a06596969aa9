"""Checkpoint round trip and every way a checkpoint folder can be bad."""

import io
import json
import zipfile

import pytest
import torch
from safetensors.torch import save_file

from dense_attention import SIMILARITIES, DenseAttention, ModelConfig
from dense_attention.inputs.classifier import Classifier
from dense_attention.storage import checkpoint
from dense_attention.storage.checkpoint import WEIGHTS_FILE as WEIGHTS
from dense_attention.storage.checkpoint import CheckpointError


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
    "unknown field": (lambda f: edit_config(f, {"layers": 4}), "unknown ModelConfig field"),
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


# --------------------------------------------------------------------------- checkpoint ZIPs


@pytest.fixture(scope="module")
def digits_model():
    from dense_attention.data.builtin import load_dataset
    from dense_attention.inputs.classifier import build_classifier

    torch.manual_seed(0)
    digits = load_dataset("digits", limit=200)
    return build_classifier(digits, hidden_dim=8).eval(), digits


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def members(raw: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_zip_round_trip_gives_identical_logits(digits_model):
    model, digits = digits_model
    raw = checkpoint.to_zip(model, {"dataset": "digits"}, {"test_accuracy": 0.5, "loss": [2, 1]})
    assert sorted(members(raw)) == ["config.json", "metrics.json", "model.safetensors"]
    loaded = checkpoint.from_zip(raw)
    assert isinstance(loaded.model, Classifier) and not loaded.model.training
    assert loaded.model.config == model.config
    assert loaded.metadata == {"dataset": "digits"}
    assert loaded.metrics == {"test_accuracy": 0.5, "loss": [2, 1]}
    (pixels,) = model.prepare(digits.test.items[:5])
    assert torch.equal(loaded.model(pixels), model(pixels))


def test_zip_holds_what_save_writes(tmp_path, digits_model):
    model, _ = digits_model
    folder = checkpoint.save(tmp_path, model, {"dataset": "digits"})
    files = members(checkpoint.to_zip(model, {"dataset": "digits"}))
    assert sorted(files) == ["config.json", "model.safetensors"]  # no metrics.json unless given
    for name, data in files.items():
        assert data == (folder / name).read_bytes()
    assert checkpoint.from_zip(checkpoint.to_zip(model)).metrics is None


def test_a_checkpoint_folder_zipped_whole_loads(tmp_path, digits_model):
    model, digits = digits_model
    files = members(checkpoint.to_zip(model, {"dataset": "digits"}))
    nested = zip_of({"digits/": b"", **{f"digits/{name}": data for name, data in files.items()}})
    loaded = checkpoint.from_zip(nested)
    (pixels,) = model.prepare(digits.test.items[:3])
    assert torch.equal(loaded.model(pixels), model(pixels))
    assert loaded.metadata == {"dataset": "digits"}


def torch_save_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save(model_for().state_dict(), buffer)  # a real pickle-based checkpoint, never loaded
    return buffer.getvalue()


def with_config(model_zip: bytes, **changes) -> bytes:
    files = members(model_zip)
    header = json.loads(files["config.json"]) | changes
    return zip_of({**files, "config.json": json.dumps(header).encode()})


BAD_ZIPS = {
    "random bytes": (lambda z: bytes(range(256)) * 8, "not a ZIP file"),
    "truncated": (lambda z: z[: len(z) // 2], "not a ZIP file, or a damaged one"),
    "empty": (lambda z: b"", "not a ZIP file"),
    "only config.json": (
        lambda z: zip_of({"config.json": members(z)["config.json"]}),
        "has config.json but no model.safetensors",
    ),
    "no config.json": (
        lambda z: zip_of({"model.safetensors": members(z)["model.safetensors"]}),
        "has no config.json",
    ),
    "a torch.save file as the upload": (
        lambda z: torch_save_bytes(),
        "data.pkl, a pickle.*Pickle-based checkpoints are refused",
    ),
    "a torch.save file inside": (
        lambda z: zip_of({**members(z), "model.pt": torch_save_bytes()}),
        "model.pt, a pickle.*Pickle-based checkpoints are refused: they can run code when loaded",
    ),
    "a data.pkl deep down": (
        lambda z: zip_of({**members(z), "a/b/c/data.pkl": b"\x80\x04N."}),
        "a/b/c/data.pkl, a pickle",
    ),
    "foreign format": (lambda z: with_config(z, format="keras"), "not a Dense Attention Lab"),
    "newer version": (lambda z: with_config(z, version=99), "has version 99"),
    "bare file names only outside the root": (
        lambda z: zip_of({f"../{name}": data for name, data in members(z).items()}),
        "has no config.json",
    ),
    "absolute member names": (
        lambda z: zip_of({f"/{name}": data for name, data in members(z).items()}),
        "has no config.json",
    ),
    "two checkpoints": (
        lambda z: zip_of({f"{d}/{n}": data for d in "ab" for n, data in members(z).items()}),
        "several checkpoints",
    ),
    "garbage weights": (
        lambda z: zip_of({**members(z), "model.safetensors": b"\x00" * 64}),
        "^model.safetensors is not a readable safetensors",  # its name in the ZIP, not in /tmp
    ),
    "metrics not an object": (
        lambda z: zip_of({**members(z), "metrics.json": b"[1, 2]"}),
        "metrics.json must be a JSON object",
    ),
}


@pytest.mark.parametrize("case", BAD_ZIPS)
def test_bad_zip_raises_checkpoint_error(case):
    spoil, message = BAD_ZIPS[case]
    good = checkpoint.to_zip(model_for())
    with pytest.raises(CheckpointError, match=message):
        checkpoint.from_zip(spoil(good))


def test_foreign_format_in_a_folder_names_the_member():
    files = members(with_config(checkpoint.to_zip(model_for()), format="keras"))
    nested = zip_of({f"ckpt/{name}": data for name, data in files.items()})
    with pytest.raises(CheckpointError, match="^ckpt/config.json is not a Dense Attention Lab"):
        checkpoint.from_zip(nested)


def test_zip_bombs_are_refused_from_the_directory(monkeypatch):
    good = checkpoint.to_zip(model_for())
    bomb = zip_of({**members(good), "padding.txt": b"\x00" * 2**20})  # 1 MB that packs to ~1 kB
    assert len(bomb) < 50_000
    monkeypatch.setattr(checkpoint, "MAX_UNZIPPED_BYTES", 2**19)
    with pytest.raises(CheckpointError, match="would unpack to 1.0 MB"):
        checkpoint.from_zip(bomb)


def test_oversized_zip_is_refused_before_it_is_opened(monkeypatch):
    monkeypatch.setattr(checkpoint, "MAX_ZIP_BYTES", 100)
    with pytest.raises(CheckpointError, match="the file is 0.0 MB; checkpoints up to"):
        checkpoint.from_zip(checkpoint.to_zip(model_for()))


def test_a_config_too_large_to_build_is_refused_before_allocating(tmp_path):
    model = DenseAttention(ModelConfig(input_dim=4, hidden_dim=8, num_classes=2))
    checkpoint.save(tmp_path, model)
    header = json.loads((tmp_path / checkpoint.CONFIG_FILE).read_text())
    header["config"]["hidden_dim"] = 10**6  # 4 x 10^6 x 10^6 bytes: terabytes
    (tmp_path / checkpoint.CONFIG_FILE).write_text(json.dumps(header))
    with pytest.raises(checkpoint.CheckpointError, match="over the 200 MiB limit"):
        checkpoint.load(tmp_path)


def text_model_without_positions():
    from dense_attention.inputs.classifier import ClassifierConfig
    from dense_attention.inputs.text_encoder import TextConfig

    text = TextConfig(max_len=8, embed_dim=4, pos_dim=0, vocab=(0, 100, 101, 102))
    return Classifier(ClassifierConfig(ModelConfig(4, 2, 2), ("a", "b"), text=text)).eval()


def test_a_crafted_config_asking_for_a_billion_tokens_is_refused():
    raw = checkpoint.to_zip(text_model_without_positions())
    header = json.loads(members(raw)["config.json"])
    header["config"]["text"]["max_len"] = 10**9  # no position table: the weights still fit
    with pytest.raises(CheckpointError, match="max_len=1000000000 is over the limit of 512"):
        checkpoint.from_zip(with_config(raw, config=header["config"]))


def test_a_crafted_config_asking_for_huge_pictures_is_refused(digits_model):
    raw = checkpoint.to_zip(digits_model[0])
    config = json.loads(members(raw)["config.json"])["config"]
    config["image"].update(size=2048, patch=2048)  # one patch of 2048 x 2048 pixels
    with pytest.raises(CheckpointError, match="size=2048 is over the limit of 256 pixels"):
        checkpoint.from_zip(with_config(raw, config=config))


def test_a_member_over_its_limit_stops_being_read(monkeypatch):
    raw = checkpoint.to_zip(model_for())
    padded = members(raw)["config.json"] + b" " * 2**20  # valid JSON, 1 MB of blanks
    monkeypatch.setattr(checkpoint, "MAX_JSON_BYTES", 2**19, raising=False)
    with pytest.raises(CheckpointError, match="config.json unpacks to more than 0.5 MB"):
        checkpoint.from_zip(zip_of({**members(raw), "config.json": padded}))
