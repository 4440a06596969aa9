"""The exported model.py equals the checkpoint's core: every shipped checkpoint and all six
similarities, run in a fresh Python without the project on its path."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import load_file, save_file

from dense_attention.core.config import SIMILARITY_NAMES, ModelConfig
from dense_attention.core.model import DenseAttention
from dense_attention.core.seeding import init_parameters
from dense_attention.figures.code_export import (
    CodeExportError,
    Example,
    export_classifier,
    export_code,
    used_weights,
)
from dense_attention.storage import checkpoint

ROOT = Path(__file__).resolve().parent.parent / "assets" / "checkpoints"
SHIPPED = sorted(p.parent for p in ROOT.glob("**/config.json"))
LENGTHS = (9, 5, 1)  # three examples, two of them padded

# Run by a fresh interpreter in a folder of exports: each model.py on its own batch, logits saved.
RUNNER = """
import importlib.util, sys
from pathlib import Path
from safetensors.torch import load as load_bytes
from safetensors.torch import load_file, save_file
assert importlib.util.find_spec("dense_attention") is None, "the project is importable"
for folder in sorted(Path(".").iterdir()):
    spec = importlib.util.spec_from_file_location(f"m_{folder.name}", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    batch = load_file(str(folder / "batch.safetensors"))
    net = module.load()
    save_file({"logits": net(batch["x"], batch["mask"]).detach()}, str(folder / "out.safetensors"))
"""


def _batch(input_dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(len(LENGTHS), max(LENGTHS), input_dim, generator=gen)
    mask = torch.arange(max(LENGTHS))[None, :] < torch.tensor(LENGTHS)[:, None]
    return x, mask


def _run_fresh(folder: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", script, *args] if script else [sys.executable, *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _export_and_compare(models: dict[str, DenseAttention], tmp_path: Path) -> None:
    """Export each model, run every model.py in one fresh process, compare logits within 1e-5."""
    expected = {}
    for k, (name, core) in enumerate(models.items()):
        classes = [f"class {c}" for c in range(core.config.num_classes)]
        x, mask = _batch(core.config.input_dim, seed=k)
        example = Example(x[0], "a random x")
        export_code(core.config, core.state_dict(), classes, example).write(tmp_path / name)
        save_file({"x": x, "mask": mask}, str(tmp_path / name / "batch.safetensors"))
        with torch.no_grad():
            expected[name] = core.eval()(x, mask)
    done = _run_fresh(tmp_path, RUNNER)
    assert done.returncode == 0, done.stderr
    for name, logits in expected.items():
        got = load_file(str(tmp_path / name / "out.safetensors"))["logits"]
        assert got.shape == logits.shape
        assert torch.allclose(got, logits, atol=1e-5, rtol=0), (name, (got - logits).abs().max())


def test_every_shipped_checkpoint_runs_as_model_py(tmp_path):
    assert len(SHIPPED) >= 9  # four checkpoints and bbc-topics' five similarity variants
    models = {f"{k}_{p.name}": checkpoint.load(p).core for k, p in enumerate(SHIPPED)}
    _export_and_compare(models, tmp_path)


# Every similarity, with the other choices varied so each branch of the generator is run.
CONFIGS = [
    dict(similarity="dot", temperature=0.5, activation="relu", pool_activation="sigmoid"),
    dict(similarity="scaled_dot", temperature=1.0, activation="identity", skip="none"),
    dict(similarity="cosine", temperature=0.07, activation="tanh", pooling="mean"),
    dict(similarity="neg_euclidean", temperature=2.0, pool_activation="identity"),
    dict(similarity="additive", temperature=1.0, activation="gelu", pool_activation="relu"),
    dict(similarity="bilinear", temperature=0.2, pooling="mean", skip="none"),
]


def _random_model(options: dict, seed: int) -> DenseAttention:
    core = DenseAttention(ModelConfig(input_dim=6, hidden_dim=8, num_classes=3, **options))
    init_parameters(core, seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # move the similarity and pooling weights off their fixed start
        for buffer in core.buffers():
            buffer.add_(0.3 * torch.randn(buffer.shape, generator=gen))
        for p in core.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen))
    return core


def test_all_six_similarities_run_as_model_py(tmp_path):
    assert {c["similarity"] for c in CONFIGS} == set(SIMILARITY_NAMES)
    models = {c["similarity"]: _random_model(c, seed=k) for k, c in enumerate(CONFIGS)}
    _export_and_compare(models, tmp_path)


def test_all_six_similarities_run_as_model_py_with_heads_and_exclude_self(tmp_path):
    """Several heads (each on its slice of h) and a_ii left out, for every similarity."""
    models = {
        f"{c['similarity']}_{heads}": _random_model(
            {**c, "heads": heads, "exclude_self": k % 2 == 0}, seed=k
        )
        for k, c in enumerate(CONFIGS)
        for heads in (2, 4)
    }
    assert {m.config.heads for m in models.values()} == {2, 4}
    _export_and_compare(models, tmp_path)


@pytest.mark.parametrize("options", CONFIGS, ids=lambda c: c["similarity"])
def test_model_py_holds_only_what_the_model_was_trained_with(options):
    core = _random_model(options, seed=0)
    code = export_code(
        core.config, core.state_dict(), ["a", "b", "c"], Example(torch.ones(2, 6), "")
    )
    source = code.source
    assert f"similarity {options['similarity']}" in source
    others = {
        "dot": "s = h @ h.transpose(1, 2)  #", "scaled_dot": "math.sqrt(h.shape[-1])",
        "cosine": "unit = h /", "neg_euclidean": "h[:, None, :, :]) ** 2",
        "additive": "self.W_q", "bilinear": "self.W_s",
    }  # fmt: skip
    for name, snippet in others.items():
        assert (snippet in source) == (name == options["similarity"]), name
    assert ("TAU" in source) == (options["temperature"] != 1)
    assert ("self.u" in source) == (core.config.pooling == "learned")
    assert ("h_o = " in source) == (core.config.skip == "mean")
    assert ("import math" in source) == (options["similarity"] == "scaled_dot")
    names = set(load_bytes(code.weights)) - {"example_x", "example_mask"}
    assert names == set(used_weights(core.config))


def test_model_py_is_clean_python(tmp_path):
    """What students read passes the project's own linter and formatter."""
    for k, options in enumerate(CONFIGS):
        core = _random_model(options, seed=k)
        example = Example(torch.ones(2, 6), 'a "quoted" sentence\nwith a newline')
        export_code(core.config, core.state_dict(), ["x", "y", "z"], example).write(
            tmp_path / f"m{k}"
        )
    for args in (["check", "--select", "E,F,W,I,B,UP"], ["format", "--check"]):
        done = subprocess.run(
            ["ruff", *args, "--line-length", "100", "--isolated", str(tmp_path)],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr


def test_python_model_py_prints_the_stored_examples_prediction(tmp_path):
    model = checkpoint.load(ROOT / "digits")
    x = torch.randn(16, model.core.config.input_dim, generator=torch.Generator().manual_seed(1))
    export_classifier(model, x[None], "a random picture", "The digits model").write(tmp_path)
    done = _run_fresh(tmp_path, "", "model.py")
    assert done.returncode == 0, done.stderr
    with torch.no_grad():
        probs = torch.softmax(model.core(x[None]), dim=-1)[0]
    lines = done.stdout.splitlines()
    assert lines[0] == "example: a random picture"
    assert lines[-1] == f"prediction: {model.classes[int(probs.argmax())]}"
    top = lines[1].split()
    assert top[0] == model.classes[int(probs.argmax())]
    assert float(top[1]) == pytest.approx(float(probs.max()), abs=1e-4)


@pytest.mark.parametrize("encoder", ["lstm", "transformer"])
def test_a_sequence_encoder_is_refused_with_a_clear_message(encoder):
    core = DenseAttention(ModelConfig(input_dim=6, hidden_dim=8, num_classes=3,
                                      sequence_encoder=encoder))  # fmt: skip
    with pytest.raises(CodeExportError, match=f"sequence encoder \\({encoder}\\).*core only"):
        export_code(core.config, core.state_dict(), ["a", "b", "c"], Example(torch.ones(2, 6), ""))


def test_bad_examples_and_class_names_are_refused():
    core = DenseAttention(ModelConfig(input_dim=6, hidden_dim=8, num_classes=3))
    with pytest.raises(CodeExportError, match="class names"):
        export_code(core.config, core.state_dict(), ["a"], Example(torch.ones(2, 6), ""))
    with pytest.raises(CodeExportError, match="example x"):
        export_code(core.config, core.state_dict(), ["a", "b", "c"], Example(torch.ones(2, 5), ""))


def test_the_zip_holds_the_two_files():
    core = DenseAttention(ModelConfig(input_dim=6, hidden_dim=8, num_classes=3))
    code = export_code(
        core.config, core.state_dict(), ["a", "b", "c"], Example(torch.ones(2, 6), "")
    )
    with zipfile.ZipFile(io.BytesIO(code.zip())) as archive:
        assert sorted(archive.namelist()) == ["model.py", "model.safetensors"]
        assert archive.read("model.py").decode() == code.source
        assert archive.read("model.safetensors") == code.weights
