"""The inputs of bench_browser's size table: bench checkpoints in one folder and texts of N tokens.

Bench models, made for timing: their predictions do not matter.
- text: the home model (assets/checkpoints/bbc-topics, minilm_contextual, max_len 128) and each
  of its similarity variants (similarities/<name>/) copied with max_len 512, MiniLM's own limit;
  its learned positions `pos` grow from 128 to 512 rows, rows 128..511 a copy of row 127 (never
  trained: a 512-token text's attention is not what a model trained that long would give). Its
  other weights, metrics.json and example sentences are the home model's, so a similarity
  change loads the variant trained with it, as on the home page.
- images: Fashion-MNIST classifiers of 16, 64 and 256 patches (28x28 in patches of 7, 32x32 in
  patches of 4 and of 2: the Image page box-resizes a 28x28 test picture to 32x32), with the
  shipped fashion-mnist model's settings, untrained (seeded random weights); their metadata
  names the dataset and split, so the Image page offers its test-set examples.
Run on its own (`python bench/size_models.py`) it builds the folder, loads each checkpoint
and explains a 512-token text, to check them.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dense_attention.core import seeding  # noqa: E402
from dense_attention.inputs.classifier import Classifier, ClassifierConfig  # noqa: E402
from dense_attention.inputs.image_encoder import ImageConfig  # noqa: E402
from dense_attention.inputs.text_encoder import MINILM_MAX_LEN, load_tokenizer  # noqa: E402
from dense_attention.storage import catalog, checkpoint  # noqa: E402

SHIPPED = ROOT / "assets" / "checkpoints"
HOME = "bbc-topics"  # the home page's model
TEXT_MODEL = f"{HOME}-{MINILM_MAX_LEN}"  # the bench copy, read up to 512 tokens
TEXT_SIZES = (16, 64, 128, 512)  # N, [CLS] and [SEP] included
IMAGE_SOURCE = "fashion-mnist"
IMAGE_SHAPES = {16: (28, 7), 64: (32, 4), 256: (32, 2)}  # patches -> (image size, patch side)
SEED = 0


def image_model_name(patches: int) -> str:
    return f"{IMAGE_SOURCE}-{patches}-patches"


def widen_text(source: Path, target: Path, max_len: int = MINILM_MAX_LEN) -> None:
    """`source` (a text checkpoint) saved to `target` reading up to `max_len` tokens: its
    positions table extended with copies of its last row; metrics.json copied along."""
    model = checkpoint.load(source)
    text = model.config.text
    wide = Classifier(replace(model.config, text=replace(text, max_len=max_len)))
    weights = model.state_dict()
    pos = weights["encoder.pos.weight"]  # (max_len, pos_dim)
    extra = pos[-1:].expand(max_len - pos.shape[0], -1)
    weights["encoder.pos.weight"] = torch.cat([pos, extra])
    wide.load_state_dict(weights)
    checkpoint.save(target, wide, checkpoint.read_metadata(source))
    if (source / checkpoint.METRICS_FILE).is_file():
        shutil.copy(source / checkpoint.METRICS_FILE, target / checkpoint.METRICS_FILE)


def image_model(target: Path, patches: int) -> None:
    """An untrained (seeded) classifier of `patches` patches with the shipped Fashion-MNIST
    model's settings, saved to `target` with that model's dataset and split."""
    source = SHIPPED / IMAGE_SOURCE
    config = checkpoint.load(source).config
    size, patch = IMAGE_SHAPES[patches]
    image = ImageConfig(size=size, channels=config.image.channels, patch=patch,
                        pos_dim=config.image.pos_dim)  # fmt: skip
    core = replace(config.model, input_dim=image.input_dim)
    model = seeding.init_parameters(Classifier(ClassifierConfig(core, config.classes, image=image)),
                                    SEED)  # fmt: skip
    metadata = {**checkpoint.read_metadata(source), "test_accuracy": None, "bench": "untrained"}
    checkpoint.save(target, model, metadata)


def build(folder: Path) -> None:
    """The bench checkpoints in `folder` (a checkpoint root for DENSE_ATTENTION_CHECKPOINTS)."""
    home = SHIPPED / HOME
    widen_text(home, folder / TEXT_MODEL)
    for variant in sorted((home / catalog.VARIANTS_DIR).iterdir()):
        widen_text(variant, folder / TEXT_MODEL / catalog.VARIANTS_DIR / variant.name)
    for patches in IMAGE_SHAPES:
        image_model(folder / image_model_name(patches), patches)


def text_of(n: int, source: list[str]) -> str:
    """A text of exactly n tokens with [CLS] and [SEP]: the `source` sentences repeated, cut at
    a word, topped up with "news" (one WordPiece) if the cut falls short."""
    tokenizer = load_tokenizer()
    words, kept, count = " ".join(source * (4 * n // 10 + 1)).split(), [], 0
    for word in words:
        pieces = len(tokenizer.tokenize(word))
        if count + pieces > n - 2:
            break
        kept.append(word)
        count += pieces
    return " ".join(kept + ["news"] * (n - 2 - count))


def token_count(model: Classifier, text: str) -> int:
    """N as the model reads `text` (the library's own tokenizer, truncation included)."""
    return int(model.encoder.tokenize([text]).ids.shape[1])


def check(folder: Path) -> None:
    """Each bench checkpoint loads; the text model reads and explains each size in full."""
    text_model = checkpoint.load(folder / TEXT_MODEL)
    examples = list(catalog.examples_for(catalog.discover_checkpoints(folder)[TEXT_MODEL]))
    for n in TEXT_SIZES:
        text = text_of(n, examples)
        assert token_count(text_model, text) == n, (n, token_count(text_model, text))
    explanation = text_model.explain(text_of(MINILM_MAX_LEN, examples))
    print(f"{TEXT_MODEL}: {len(explanation.tokens)} tokens explained, "
          f"attention {tuple(explanation.trace.attn.shape)}")  # fmt: skip
    variants = catalog.similarity_variants(catalog.discover_checkpoints(folder)[TEXT_MODEL])
    for name, info in variants.items():
        assert checkpoint.load(info.path).config.text.max_len == MINILM_MAX_LEN, name
    print(f"  and its variants {', '.join(variants)}, each with max_len {MINILM_MAX_LEN}")
    for patches in IMAGE_SHAPES:
        model = checkpoint.load(folder / image_model_name(patches))
        assert model.config.image.num_patches == patches
        print(f"{image_model_name(patches)}: {model.config.image}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        check(Path(tmp))
