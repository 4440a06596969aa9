"""core.i18n: the catalogs are complete, the .po reader reads what the writer writes, the
language is per context (never one for the server), and the generated words come out in Chinese."""

from __future__ import annotations

import functools
import io
import itertools
import re
import threading
from dataclasses import replace

import numpy as np
import pytest

from dense_attention.core import i18n
from dense_attention.core.config import ModelConfig
from dense_attention.explain import verdict, words
from dense_attention.explain.faithfulness import Ablation
from dense_attention.explain.formulas import STEP_KEYS
from dense_attention.figures import slides
from dense_attention.inputs.text_encoder import TextConfig

CJK = re.compile(r"[\u4e00-\u9fff]")
TRANSLATED = [code for code in i18n.LANGUAGES if code != i18n.DEFAULT]


def _english_pieces(msgid: str) -> list[str]:
    """The literal stretches of a msgid (fields cut out) long enough to be English words."""
    pieces = re.split(r"\{[^{}]*\}", msgid)
    return [p.strip(" .,:;()") for p in pieces if len(re.findall(r"[A-Za-z]{3,}", p)) >= 3]


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_marked_string_has_a_translation_with_the_same_fields(code):
    """The missing-translation test: add a tr("...") and this fails until the catalog has it
    (run `python -m dense_attention.core.i18n`, then fill in the empty msgstr)."""
    marked = i18n.extract()
    assert len(marked) > 200  # the extractor finds the app's strings (it could find none)
    found = i18n.catalog(code)
    missing = [m for m in marked if not found.get(m)]
    assert not missing, f"{len(missing)} untranslated in {code}: {missing[:5]}"
    wrong = [m for m in marked if i18n.fields_of(found[m]) != i18n.fields_of(m)]
    assert not wrong, f"fields differ from the msgid: {wrong[:5]}"
    stale = sorted(set(found) - set(marked))
    assert not stale, f"translations of strings the code no longer has: {stale[:5]}"


def test_chinese_translations_are_chinese_and_keep_the_formulas():
    zh = i18n.catalog("zh")
    for msgid, msgstr in zh.items():
        if _english_pieces(msgid):
            assert CJK.search(msgstr), msgid
        for formula in re.findall(r"[a-zA-Z]_\{?[a-z]+\}?|α_i|1/N|√d|softmax", msgid):
            assert formula in msgstr, (formula, msgid)  # formulas unchanged


def test_po_reader_reads_the_writer_and_skips_fuzzy_and_obsolete():
    entries = {'A "quoted"\nline': "一行", "Plain": "", "{n} tokens": "{n} 个词元"}
    text = i18n.write_po(entries, "zh", {"Plain": ["x.py:3"]})
    assert i18n.read_po(text) == entries
    text += '\n#, fuzzy\nmsgid "Guess"\nmsgstr "猜"\n\n#~ msgid "Old"\n#~ msgstr "旧"\n'
    text += 'msgid ""\n"Two "\n"lines"\nmsgstr "两"\n"行"\n'
    found = i18n.read_po(text)
    assert "Guess" not in found and "Old" not in found
    assert found["Two lines"] == "两行"


def test_extract_finds_tr_and_n_marks_only(tmp_path):
    (tmp_path / "dense_attention").mkdir()
    (tmp_path / "views").mkdir()
    (tmp_path / "app.py").write_text('ui.tr("Page")\n')
    (tmp_path / "dense_attention" / "m.py").write_text(
        'X = N_("Marked")\nprint("not marked")\ntr("A " "joined {n}", n=1)\nf(tr)\n'
    )
    found = i18n.extract(tmp_path)
    assert list(found) == ["Page", "Marked", "A joined {n}"]  # files in path order
    assert found["Marked"] == ["dense_attention/m.py:1"]


def test_tr_translates_formats_and_falls_back_to_english():
    assert i18n.tr("Temperature τ") == "Temperature τ"  # the default context: English
    with i18n.use_language("zh"):
        assert i18n.language() == "zh"
        assert i18n.tr("Temperature τ") == "温度 τ"
        assert i18n.tr("Slide {k} of {n}", k=2, n=8) == "第 2 页，共 8 页"
        assert i18n.tr("Not in any catalog {x}", x=1) == "Not in any catalog 1"
    assert i18n.language() == "en"
    with pytest.raises(ValueError, match="unknown language"), i18n.use_language("xx"):
        pass


@pytest.mark.parametrize(
    ("locale", "code"),
    [("zh-CN", "zh"), ("zh_TW", "zh"), ("fr-FR,zh;q=0.8,en;q=0.5", "zh"), ("en-US", "en"),
     ("de-DE,fr;q=0.9", "en"), (None, "en"), ("", "en")],
)  # fmt: skip
def test_browser_locale_picks_the_first_language_we_have(locale, code):
    assert i18n.from_locale(locale) == code


def test_two_sessions_at_once_keep_their_own_language():
    """Sessions run concurrently in one process: one thread's language never leaks into
    another's (both translate while the other holds its language)."""
    both = threading.Barrier(2)
    seen: dict[str, list[str]] = {}

    def session(code: str) -> None:
        with i18n.use_language(code):
            both.wait()
            seen[code] = [i18n.tr("Dense layer") for _ in range(200)]
            both.wait()

    threads = [threading.Thread(target=session, args=(c,)) for c in ("en", "zh")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen["en"]) == {"Dense layer"} and set(seen["zh"]) == {"全连接层"}


def test_the_ui_source_is_asked_only_without_an_explicit_language():
    asked = []
    before = list(i18n._source)  # noqa: SLF001 - restore the ui's source afterwards
    try:
        i18n.set_source(lambda: asked.append(1) or "zh")
        assert i18n.tr("Output") == "输出"
        with i18n.use_language("en"):
            assert i18n.tr("Output") == "Output"
        assert len(asked) == 1
    finally:
        i18n._source[:] = before  # noqa: SLF001


def _configs():
    base = ModelConfig(input_dim=8, hidden_dim=4, num_classes=3)
    choices = itertools.product(
        ("dot", "cosine", "additive"), (0.5, 1.0, 2.0), ("learned", "mean"),
        ("identity", "tanh"), ("mean", "none"), ("none", "lstm"), ("identity", "gelu"),
    )  # fmt: skip
    for sim, tau, pooling, pool_act, skip, seq, act in choices:
        yield replace(base, similarity=sim, temperature=tau, pooling=pooling,
                      pool_activation=pool_act, skip=skip, sequence_encoder=seq,
                      activation=act)  # fmt: skip


@functools.cache
def _known_english() -> tuple[str, ...]:
    return tuple(p for m in i18n.extract() for p in _english_pieces(m) if p)


def _untranslated(text: str) -> list[str]:
    """Known English stretches (from the catalog's msgids) left in a Chinese text."""
    return [p for p in _known_english() if p in text]


def test_every_caption_title_and_note_is_chinese_for_every_config():
    inputs = TextConfig(mode="minilm_static", pos_dim=16)
    with i18n.use_language("zh"):
        for config in _configs():
            texts = [words.caption(k, config, inputs) for k in STEP_KEYS]
            texts += [words.step_title(k, config) for k in STEP_KEYS]
            texts += [slides.slide_title(s, config) for s in slides.SLIDES]
            texts += [slides.speaker_note(s, config, inputs) for s in slides.SLIDES]
            for text in texts:
                assert CJK.search(text), text
                assert not _untranslated(text), (text, _untranslated(text))
    with i18n.use_language("en"):  # and English is unchanged
        assert words.step_title("h", config) == "Dense layer"


@pytest.mark.parametrize(("deltas", "decides"), [
    ({"no_attention": -0.3, "uniform": -0.4, "uniform_alpha": 0.001, "h_o_mean": 0.05}, "词元"),
    ({"no_attention": 0.0, "uniform": -0.2, "uniform_alpha": -0.15, "h_o_mean": 0.0}, "形状"),
    ({"no_attention": 0.0, "uniform": 0.01, "uniform_alpha": 0.03, "h_o_mean": 0.001}, "没有"),
])  # fmt: skip
def test_the_verdict_in_chinese_keeps_its_numbers(deltas, decides):
    config = ModelConfig(input_dim=8, hidden_dim=4, num_classes=2, skip="mean")
    probs = np.array([0.3, 0.7])
    ablations = {
        name: Ablation(name, probs, delta, abs(delta), 0.0, 0.0) for name, delta in deltas.items()
    }
    english = verdict.judge(ablations, 0.8, config, ["neg", "pos"])
    with i18n.use_language("zh"):
        chinese = verdict.judge(ablations, 0.8, config, ["neg", "pos"])
    assert chinese.decides == english.decides  # the same judgement, in other words
    assert decides in chinese.headline + chinese.text
    for number in re.findall(r"[−+]\d\.\d+|80%", english.text):
        assert number in chinese.text, number
    assert not _untranslated(chinese.text + chinese.headline)


def test_the_shipped_checkpoints_summaries_follow_the_language():
    """The model picker's caption (storage.catalog.describe): the dataset and the test accuracy,
    in English as the summary reads, in Chinese with the same number."""
    from dense_attention.storage import catalog

    infos = catalog.discover_checkpoints(catalog.checkpoint_root())
    measured = [info for info in infos.values() if info.accuracy is not None]
    assert measured  # the shipped checkpoints carry their test accuracy
    for info in measured:
        assert catalog.describe(info) == info.summary
        with i18n.use_language("zh"):
            chinese = catalog.describe(info)
        assert chinese == f"{info.dataset} · 测试准确率 {info.accuracy:.1%}"


def test_a_job_writes_its_phases_in_the_language_of_the_session_that_started_it():
    """Jobs run in worker processes, which have no session: the job binds the starting
    session's language (server.executor.in_language), so its progress words are Chinese."""
    from dense_attention.server import executor

    said = []

    class Reporter:
        def update(self, progress: float, phase: str) -> None:
            said.append(phase)

    def work(request, job):
        job.update(0.5, i18n.tr("Training: epoch {epoch} of {epochs}", epoch=2, epochs=5))
        return i18n.language()

    assert executor.in_language("zh", work, None, Reporter()) == "zh"
    assert said == ["训练：第 2 轮，共 5 轮"]
    assert i18n.language() == "en"  # the worker's language ends with the work


def test_the_librarys_errors_come_in_the_sessions_language():
    """A DenseAttentionError is worded where it is raised, in the current language: the page's
    boundary (ui.errors) shows it as it is. An empty text and a broken upload, in Chinese."""
    from dense_attention.core.errors import DenseAttentionError
    from dense_attention.data import uploads
    from dense_attention.inputs.text_encoder import TextConfig, TextEncoder

    with i18n.use_language("zh"), pytest.raises(DenseAttentionError, match="请输入一些文字"):
        TextEncoder(TextConfig()).tokenize([" "])
    with i18n.use_language("zh"), pytest.raises(DenseAttentionError) as found:
        uploads.from_csv(io.BytesIO(b"text,label\n"))
    assert CJK.search(str(found.value)), found.value
    with pytest.raises(DenseAttentionError) as english:
        uploads.from_csv(io.BytesIO(b"text,label\n"))
    assert not CJK.search(str(english.value))
