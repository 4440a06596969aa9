"""Tests for inputs.encoders: text and images -> x, mask, and the labels to draw them."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

from dense_attention.core.config import ConfigError
from dense_attention.inputs.encoders import (
    TEXT_MODES,
    EncodingError,
    ImageConfig,
    ImageEncoder,
    TextConfig,
    TextEncoder,
    load_minilm,
    load_tokenizer,
    minilm_path,
)

SENTENCES = [
    "The cat sat on the mat.",
    "Attention pools the tokens that matter most for the prediction, one weight each.",
    "playing 😀 مرحبا بالعالم 你好世界 नमस्ते दुनिया",
]


@pytest.fixture(scope="module", params=TEXT_MODES)
def text_encoder(request) -> TextEncoder:
    torch.manual_seed(0)
    return TextEncoder(TextConfig(mode=request.param, max_len=32)).eval()


# --------------------------------------------------------------------------------------------
# Text: tokenization


@pytest.mark.parametrize("text", ["", "   ", "\n\t  \u3000"])
def test_empty_text_raises(text: str) -> None:
    with pytest.raises(EncodingError, match="Type some text: the input is empty"):
        TextEncoder(TextConfig()).tokenize([text])


def test_batch_with_one_empty_text_raises_and_names_it() -> None:
    with pytest.raises(EncodingError, match=r"empty \(text #1\)"):
        TextEncoder(TextConfig()).tokenize(["fine", " "])
    with pytest.raises(EncodingError):
        TextEncoder(TextConfig()).tokenize([])


def test_text_without_readable_characters_raises() -> None:
    with pytest.raises(EncodingError, match="no readable characters"):
        TextEncoder(TextConfig()).tokenize(["\u200b\u0301"])


@pytest.mark.parametrize(
    "text",
    ["😀🎉 👍🏽", "مرحبا بالعالم", "你好，世界", "नमस्ते दुनिया", "  padded  text  ", "ünïcödé CAFÉ"],
)
def test_any_script_tokenizes_with_cls_and_sep(text: str) -> None:
    batch = TextEncoder(TextConfig()).tokenize([text])
    tokens = batch.tokens[0]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and len(tokens) > 2
    assert batch.ids[0, 0] == 101 and batch.ids[0, len(tokens) - 1] == 102
    assert len(tokens) == int(batch.mask[0].sum()) == batch.ids.shape[1]
    assert batch.truncated == [0]
    assert "[UNK]" not in tokens  # unknown pieces show the original text instead


def test_wordpieces_and_unknown_spans_are_displayed() -> None:
    tokens = TextEncoder(TextConfig()).tokenize(["Tokenizing 😀"]).tokens[0]
    assert tokens == ["[CLS]", "token", "##izing", "😀", "[SEP]"]


def test_truncation_counts_the_cut_tokens() -> None:
    batch = TextEncoder(TextConfig(max_len=8)).tokenize(["a b c d e f g h i j", "a b"])
    assert batch.ids.shape == (2, 8)
    assert batch.tokens[0] == ["[CLS]", *"abcdef", "[SEP]"]
    assert batch.truncated == [4, 0]
    assert batch.mask.sum(1).tolist() == [8, 4]


@pytest.mark.parametrize("words", [10_000, 1_000_000])
def test_very_long_text_is_truncated_fast(words: int) -> None:
    encoder = TextEncoder(TextConfig(max_len=64))
    start = time.perf_counter()
    x, mask, batch = encoder.encode([" ".join(["playing"] * words)])
    assert time.perf_counter() - start < 2.0  # tokenizing all 8 M characters would take ~8 s
    assert x.shape == (1, 64, encoder.config.input_dim) and bool(mask.all())
    assert batch.tokens[0][-1] == "[SEP]"
    assert 0.9 * words <= batch.truncated[0] <= words  # every word is one token here


def test_special_token_ids_match_the_tokenizer() -> None:
    tok = load_tokenizer()
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id) == (
        0,
        100,
        101,
        102,
    )
    assert len(tok) == 30522
    assert minilm_path().endswith("model")


# --------------------------------------------------------------------------------------------
# Text: embeddings


def test_x_shape_matches_input_dim(text_encoder: TextEncoder) -> None:
    x, mask, batch = text_encoder.encode(SENTENCES)
    n = batch.ids.shape[1]
    assert x.shape == (3, n, text_encoder.config.input_dim) and x.dtype == torch.float32
    assert mask.dtype == torch.bool and mask.shape == (3, n)
    assert [len(t) for t in batch.tokens] == mask.sum(1).tolist()
    assert torch.isfinite(x).all()
    assert (x[~mask] == 0).all()


def test_batch_padding_does_not_change_real_positions(text_encoder: TextEncoder) -> None:
    short, long = SENTENCES[0], SENTENCES[1]
    x_alone, mask_alone, _ = text_encoder.encode([short])
    x_batch, mask_batch, _ = text_encoder.encode([long, short])
    n = int(mask_alone.sum())
    assert x_batch.shape[1] > n and int(mask_batch[1].sum()) == n
    torch.testing.assert_close(x_batch[1, :n], x_alone[0, :n], atol=1e-5, rtol=1e-5)


def test_minilm_modes_keep_the_checkpoint_small() -> None:
    for mode in ("minilm_static", "minilm_contextual"):
        state = TextEncoder(TextConfig(mode=mode, max_len=64, pos_dim=16)).state_dict()
        assert list(state) == ["pos.weight"] and state["pos.weight"].shape == (64, 16)


def test_learned_mode_keeps_only_vocab_rows() -> None:
    vocab = TextEncoder.build_vocab(SENTENCES)
    encoder = TextEncoder(TextConfig(vocab=vocab, embed_dim=8))
    state = encoder.state_dict()
    assert sorted(state) == ["pos.weight", "tok.weight", "vocab_ids"]
    assert state["tok.weight"].shape == (len(vocab), 8)
    assert state["vocab_ids"].tolist() == list(vocab)
    assert all(v.shape[0] < 30522 for v in state.values())


def test_learned_state_dict_round_trip() -> None:
    config = TextConfig(vocab=TextEncoder.build_vocab(SENTENCES))
    first, second = TextEncoder(config), TextEncoder(config)
    second.load_state_dict(first.state_dict())
    x1, _, _ = first.encode(SENTENCES)
    x2, _, _ = second.encode(SENTENCES)
    torch.testing.assert_close(x1, x2, atol=0, rtol=0)


def test_unseen_ids_use_the_unk_row_and_gradients_flow() -> None:
    vocab = TextEncoder.build_vocab(["the cat"])
    encoder = TextEncoder(TextConfig(vocab=vocab, embed_dim=4, pos_dim=2))
    x, mask, batch = encoder.encode(["the zebra"])
    unk_row = encoder.tok.weight[vocab.index(100)]
    torch.testing.assert_close(x[0, 2, :4], unk_row)  # "zebra" is not in the vocab
    assert batch.tokens[0] == ["[CLS]", "the", "zebra", "[SEP]"]
    x.sum().backward()
    assert encoder.tok.weight.grad.abs().sum() > 0 and encoder.pos.weight.grad.abs().sum() > 0


def test_build_vocab_is_sorted_deterministic_and_bounded() -> None:
    texts = ["the cat", "the dog", "the cat sat", ""]
    vocab = TextEncoder.build_vocab(texts)
    assert vocab == tuple(sorted(vocab)) == TextEncoder.build_vocab(list(reversed(texts)))
    assert {0, 100, 101, 102} <= set(vocab) and len(vocab) == 4 + 4  # the cat dog sat
    the, cat = load_tokenizer().convert_tokens_to_ids(["the", "cat"])
    assert TextEncoder.build_vocab(texts, min_count=2) == tuple(
        sorted((0, 100, 101, 102, the, cat))
    )
    assert TextEncoder.build_vocab(texts, max_size=5) == tuple(sorted((0, 100, 101, 102, the)))


def test_static_embeddings_are_minilm_word_embeddings() -> None:
    encoder = TextEncoder(TextConfig(mode="minilm_static", pos_dim=3))
    x, mask, batch = encoder.encode(SENTENCES)
    table = load_minilm().embeddings.word_embeddings.weight
    expected = table[batch.ids] * mask.unsqueeze(-1)
    torch.testing.assert_close(x[..., :384], expected, atol=0, rtol=0)
    torch.testing.assert_close(x[0, :2, 384:], encoder.pos.weight[:2])


def test_contextual_embeddings_are_minilm_last_hidden_state() -> None:
    from transformers import AutoModel

    reference = AutoModel.from_pretrained(minilm_path(), local_files_only=True).eval()
    encoder = TextEncoder(TextConfig(mode="minilm_contextual", pos_dim=0))
    x, mask, batch = encoder.encode(SENTENCES)
    with torch.no_grad():
        hidden = reference(input_ids=batch.ids, attention_mask=batch.mask.long()).last_hidden_state
    assert x.shape[-1] == 384 == encoder.config.input_dim
    torch.testing.assert_close(x[mask], hidden[mask], atol=1e-5, rtol=1e-4)


def test_text_config_validation_and_json_round_trip() -> None:
    config = TextConfig(mode="learned", vocab=(102, 0, 101, 100, 2009))
    assert config.vocab == (0, 100, 101, 102, 2009)
    assert TextConfig.from_dict({**config.to_dict(), "vocab": [0, 100, 101, 102, 2009]}) == config
    assert TextConfig(mode="minilm_static", embed_dim=32, pos_dim=16).input_dim == 400
    with pytest.raises(ConfigError):
        TextConfig(mode="bag_of_words")
    with pytest.raises(ConfigError):
        TextConfig(vocab=(5, 6))  # no special tokens
    with pytest.raises(EncodingError):
        TextEncoder(TextConfig(max_len=4))(torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 5))


# --------------------------------------------------------------------------------------------
# Images: preparing pixels

RNG = np.random.default_rng(0)
PHOTO = Image.fromarray(RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8))


def _in_mode(mode: str) -> Image.Image:
    if mode == "I;16":
        return Image.fromarray(np.asarray(PHOTO.convert("L")).astype(np.uint16) * 257)
    return PHOTO.convert(mode)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(
    "mode", ["RGB", "RGBA", "L", "LA", "P", "PA", "I;16", "I", "F", "1", "CMYK", "YCbCr", "LAB"]
)
def test_every_pil_mode_prepares(mode: str, channels: int) -> None:
    image = _in_mode(mode)
    assert image.mode == mode
    pixels = ImageEncoder(ImageConfig(channels=channels)).prepare([image])
    assert pixels.shape == (1, channels, 8, 8) and pixels.dtype == torch.float32
    assert torch.isfinite(pixels).all() and pixels.min() >= 0 and pixels.max() <= 1


def test_high_bit_depth_is_scaled_like_8_bit() -> None:
    encoder = ImageEncoder(ImageConfig())
    gray = encoder.prepare(PHOTO.convert("L"))
    one_level = 1.3 / 255  # the 8-bit path rounds after resizing, the others do not
    torch.testing.assert_close(encoder.prepare(_in_mode("I;16")), gray, atol=one_level, rtol=0)
    torch.testing.assert_close(encoder.prepare(PHOTO.convert("I")), gray, atol=one_level, rtol=0)


def test_transparency_is_composited_over_white() -> None:
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert (ImageEncoder(ImageConfig(size=4, channels=3)).prepare(clear) == 1).all()


@pytest.mark.parametrize("shape", [(1, 1), (10, 4000), (4000, 10), (3000, 3000)])
def test_extreme_sizes(shape: tuple[int, int]) -> None:
    image = Image.new("L", shape[::-1], 30)  # PIL sizes are (width, height)
    start = time.perf_counter()
    pixels = ImageEncoder(ImageConfig(size=8, patch=2)).prepare(image)
    assert time.perf_counter() - start < 2.0
    assert pixels.shape == (1, 1, 8, 8)
    torch.testing.assert_close(pixels, torch.full_like(pixels, 30 / 255))


def test_aspect_ratio_is_kept_and_padded_with_the_background() -> None:
    strip = Image.new("L", (4000, 10), 255)
    strip.paste(0, (0, 0, 2000, 10))  # left half black
    pixels = ImageEncoder(ImageConfig(size=8)).prepare(strip)[0, 0]
    row = (8 - 1) // 2  # the strip becomes one centred row of 8 x 1 pixels
    assert pixels[row, :4].max() < 0.1 and pixels[row, 4:].min() > 0.9
    others = torch.cat([pixels[:row], pixels[row + 1 :]])
    assert ((others - others[0, 0]).abs() < 1e-6).all()  # all padding, one colour


def _exif_rotated_jpeg() -> Image.Image:
    stored = Image.new("L", (16, 8), 255)  # wide: left half black, right half white
    stored.paste(0, (0, 0, 8, 8))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: display rotated 90 degrees clockwise
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    buffer.seek(0)
    return Image.open(buffer)


def test_exif_orientation_is_applied() -> None:
    image = _exif_rotated_jpeg()
    assert image.size == (16, 8)  # as stored
    pixels = ImageEncoder(ImageConfig(size=8)).prepare(image)[0, 0]
    # Shown tall: the black left half is now on top, and the image is 4 wide by 8 tall.
    centre = pixels[:, 2:6]
    assert centre[:4].mean() < 0.1 and centre[4:].mean() > 0.9


def test_numpy_uint8_and_float_inputs() -> None:
    encoder = ImageEncoder(ImageConfig(size=8, channels=1))
    digits = RNG.integers(0, 256, (5, 8, 8), dtype=np.uint8)
    exact = torch.from_numpy(digits).float().div(255).unsqueeze(1)
    torch.testing.assert_close(encoder.prepare(digits), exact)  # 8x8 at size 8: untouched
    torch.testing.assert_close(encoder.prepare(digits / 255.0), exact)
    torch.testing.assert_close(encoder.prepare(digits[..., None]), exact)
    torch.testing.assert_close(encoder.prepare(list(digits / 255.0)), exact)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("shape", [(12, 16, 3), (30, 7, 3), (3, 5, 3), (28, 28, 1), (9, 9, 4)])
def test_numpy_batches_resize_as_pil_does(shape: tuple[int, int, int], channels: int) -> None:
    encoder = ImageEncoder(ImageConfig(size=8, channels=channels))
    batch = RNG.integers(0, 256, (3, *shape), dtype=np.uint8)
    with_pil = encoder.prepare(
        [Image.fromarray(a.squeeze(-1) if a.shape[-1] == 1 else a) for a in batch]
    )
    one_level = 1.3 / 255  # PIL rounds 8-bit results (and its luma), the batch path does not
    torch.testing.assert_close(encoder.prepare(batch), with_pil, atol=one_level, rtol=0)
    floats = batch / 255.0
    torch.testing.assert_close(encoder.prepare(floats), encoder.prepare(list(floats)))


def test_a_large_numpy_batch_is_fast() -> None:
    fashion_like = RNG.integers(0, 256, (5000, 28, 28, 1), dtype=np.uint8)
    start = time.perf_counter()
    pixels = ImageEncoder(ImageConfig(size=8)).prepare(fashion_like)
    assert time.perf_counter() - start < 3.0  # image by image: ~1 s per 5000 on this CPU
    assert pixels.shape == (5000, 1, 8, 8)


def test_bad_image_inputs_raise() -> None:
    encoder = ImageEncoder(ImageConfig())
    for bad in [
        np.full((1, 8, 8), 16.0),
        np.zeros((1, 8, 8), np.int64),
        np.zeros((1, 8, 8, 5)),
        [],
    ]:
        with pytest.raises(EncodingError):
            encoder.prepare(bad)
    with pytest.raises(EncodingError):
        encoder(torch.zeros(1, 3, 8, 8))  # config says 1 channel
    with pytest.raises(ConfigError):
        ImageConfig(size=8, patch=3)


# --------------------------------------------------------------------------------------------
# Images: patches, positions, boxes


@pytest.mark.parametrize("channels,size,patch", [(1, 8, 2), (3, 12, 4), (3, 6, 1), (1, 8, 8)])
def test_patches_reconstruct_the_image(channels: int, size: int, patch: int) -> None:
    encoder = ImageEncoder(ImageConfig(size=size, channels=channels, patch=patch))
    pixels = torch.rand(2, channels, size, size)
    patches = encoder.patches(pixels)
    assert patches.shape == (2, encoder.config.num_patches, patch * patch * channels)
    rebuilt = torch.zeros_like(pixels)
    for k, (top, left, bottom, right) in enumerate(encoder.patch_boxes()):
        # each patch is flattened in (p, p, C) order
        rebuilt[:, :, top:bottom, left:right] = (
            patches[:, k].reshape(2, patch, patch, channels).permute(0, 3, 1, 2)
        )
    assert torch.equal(rebuilt, pixels)
    assert torch.equal(encoder.unpatch(patches), pixels)


def test_patch_order_is_row_major() -> None:
    encoder = ImageEncoder(ImageConfig(size=4, patch=2))
    pixels = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert encoder.patches(pixels)[0].tolist() == [
        [0, 1, 4, 5],
        [2, 3, 6, 7],
        [8, 9, 12, 13],
        [10, 11, 14, 15],
    ]
    assert encoder.patch_labels() == ["r0c0", "r0c1", "r1c0", "r1c1"]


def test_patch_boxes_tile_the_image_without_overlap() -> None:
    config = ImageConfig(size=12, patch=4, channels=3)
    boxes = ImageEncoder(config).patch_boxes()
    cover = np.zeros((12, 12), dtype=int)
    for top, left, bottom, right in boxes:
        assert bottom - top == right - left == 4
        cover[top:bottom, left:right] += 1
    assert (cover == 1).all()
    assert len(boxes) == config.num_patches == 9 and config.grid == (3, 3)


def test_image_x_is_patches_then_positions() -> None:
    config = ImageConfig(size=8, channels=3, patch=2, pos_dim=5)
    encoder = ImageEncoder(config)
    images = [PHOTO, PHOTO.convert("L"), _exif_rotated_jpeg()]
    x, mask = encoder.encode(images)
    assert config.input_dim == 2 * 2 * 3 + 5 == x.shape[-1]
    assert x.shape == (3, 16, config.input_dim) and mask.shape == (3, 16) and bool(mask.all())
    torch.testing.assert_close(x[..., :12], encoder.patches(encoder.prepare(images)))
    torch.testing.assert_close(x[1, :, 12:], encoder.pos.weight)
    assert list(encoder.state_dict()) == ["pos.weight"]


def test_configs_cap_tokens_and_picture_size() -> None:
    assert TextConfig(max_len=512, pos_dim=0).max_len == 512  # MiniLM's own limit
    with pytest.raises(ConfigError, match="max_len=1000000000 is over the limit of 512"):
        TextConfig(max_len=10**9, pos_dim=0)  # 88 KB of weights, 1,002 tokens for 1,000 words
    assert ImageConfig(size=256, patch=16).num_patches == 256
    with pytest.raises(ConfigError, match="size=2048 is over the limit of 256 pixels"):
        ImageConfig(size=2048, channels=3, patch=2048, pos_dim=0)
    with pytest.raises(ConfigError, match="makes 1024 patches; the limit is 512"):
        ImageConfig(size=64, patch=2)
