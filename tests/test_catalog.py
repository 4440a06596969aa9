"""catalog: discovering the shipped checkpoints and reading what they were trained on."""

import shutil

import pytest

from dense_attention import catalog, checkpoint
from dense_attention.config import ModelConfig
from dense_attention.model import DenseAttention


def test_discovery_skips_folders_that_are_not_checkpoints(tmp_path, found):
    name, info = next(iter(found.items()))
    shutil.copytree(info.path, tmp_path / name)
    (tmp_path / "half-written").mkdir()
    (tmp_path / "half-written" / "config.json").write_text("{not json")
    (tmp_path / "notes").mkdir()
    raw = tmp_path / "raw-model"  # a bare DenseAttention checkpoint: not a classifier
    checkpoint.save(raw, DenseAttention(ModelConfig(input_dim=2, hidden_dim=2, num_classes=2)))
    discovered = catalog.discover_checkpoints(tmp_path)
    assert list(discovered) == [name]
    assert discovered[name].kind == info.kind and discovered[name].summary


def test_training_metadata_names_the_dataset_and_split(found):
    for info in found.values():
        meta = catalog.training_metadata(info)
        assert meta["dataset"] in info.summary and "split_seed" in meta
    assert catalog.training_metadata(None) == {}


def test_a_rewritten_checkpoint_changes_the_stamps(tmp_path, found):
    name, info = next(iter(found.items()))
    shutil.copytree(info.path, tmp_path / name)
    before = catalog.folder_stamps(tmp_path)
    config = tmp_path / name / checkpoint.CONFIG_FILE
    config.write_text(config.read_text())
    stamp = config.stat().st_mtime_ns
    assert dict(catalog.folder_stamps(tmp_path))[name] == stamp
    assert before != catalog.folder_stamps(tmp_path) or stamp == dict(before)[name]
    assert catalog.folder_stamps(tmp_path / "missing") == ()


def test_each_shipped_text_checkpoint_has_its_own_examples(found):
    for info in found.values():
        examples = catalog.examples_for(info)
        if info.kind == "image":
            assert examples == catalog.GENERIC_EXAMPLES
        elif info.name in ("bbc-topics", "tweet-sentiment"):
            assert len(examples) >= 3 and set(examples).isdisjoint(catalog.GENERIC_EXAMPLES)
            assert all(isinstance(s, str) and s.strip() for s in examples)
    assert catalog.examples_for(None) == catalog.GENERIC_EXAMPLES


@pytest.mark.parametrize("metrics", [None, "{not json", '{"examples": "one string"}',
                                     '{"examples": [3, ""]}', "[1, 2]"])  # fmt: skip
def test_examples_fall_back_to_generic_ones(tmp_path, found, metrics):
    info = next(i for i in found.values() if i.kind == "text")
    folder = tmp_path / info.name
    shutil.copytree(info.path, folder)
    (folder / checkpoint.METRICS_FILE).unlink()
    if metrics is not None:
        (folder / checkpoint.METRICS_FILE).write_text(metrics)
    copy = catalog.discover_checkpoints(tmp_path)[info.name]
    assert catalog.examples_for(copy) == catalog.GENERIC_EXAMPLES
