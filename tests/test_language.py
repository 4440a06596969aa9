"""ui.language: the sidebar's language switch, the browser's language as the default, and the
Text and Present pages rendered in Chinese with no known English sentence left."""

from __future__ import annotations

import re

import pytest
from pagetest import APP, run
from streamlit.testing.v1 import AppTest

from dense_attention.core import i18n
from dense_attention.ui import state

CJK = re.compile(r"[\u4e00-\u9fff]")


def _strings(message, found: list[str]) -> None:
    """Every string field of a protobuf message, nested messages and lists included."""
    for _field, value in message.ListFields():
        single = isinstance(value, str | bytes) or hasattr(value, "ListFields")
        values = [value] if single or not hasattr(value, "__iter__") else value
        for v in values:
            if isinstance(v, str):
                found.append(v)
            elif hasattr(v, "ListFields"):
                _strings(v, found)


def page_texts(at: AppTest) -> list[str]:
    """What the page shows: every string of every element (labels, bodies, help, options,
    the plotly figures' JSON with their titles), main area and sidebar."""
    found: list[str] = []
    stack = [at._tree]  # noqa: SLF001 - AppTest has no public walk over every element
    while stack:
        node = stack.pop()
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            _strings(proto, found)
        stack.extend(getattr(node, "children", {}).values())
    return found


def known_english(texts: list[str]) -> list[str]:
    """msgids (their literal stretches of 3+ words) that a page shows untranslated."""
    shown = "\n".join(texts)
    pieces = {
        piece.strip(" .,:;()")
        for msgid in i18n.extract()
        for piece in re.split(r"\{[^{}]*\}", msgid)
        if len(re.findall(r"[A-Za-z]{3,}", piece)) >= 3
    }
    return sorted(p for p in pieces if p and p in shown)


def app_in(code: str | None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    if code is not None:
        at.session_state[state.LANGUAGE] = code
    at = run(at)
    return run(at.switch_page(page)) if page else at


PAGES = {
    "text": None,
    "present": "views/present.py",
    "image": "views/image.py",
    "model": "views/model.py",
    "train": "views/train.py",
    "compare": "views/compare.py",
    "attention": "views/attention.py",
    "dataset": "views/dataset.py",
    "about": "views/about.py",
}
TITLES = {  # each page's title in Chinese (the catalog's), as the page shows it
    "image": "你的图片，一次一个公式",
    "model": "模型，一次一个公式",
    "train": "训练一个模型，看注意力如何学习",
    "compare": "比较注意力",
    "attention": "注意力重要吗？",
    "dataset": "数据集视图",
    "about": "关于模型",
}


@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_in_chinese_shows_no_known_english(name):
    """Every page rendered in Chinese: its title is the catalog's Chinese, and no msgid's English
    (a stretch of 3+ words of any marked string) is left anywhere on it: labels, help, captions,
    options, chart titles, the sidebar."""
    at = app_in("zh", PAGES[name])
    assert not at.exception
    texts = page_texts(at)
    assert not known_english(texts), known_english(texts)
    title = at.title[0].value
    assert CJK.search(title), title
    assert at.sidebar.get("button_group")[0].proto.label == "Language / 语言"
    if name == "text":
        assert title == "你的句子，一次一个公式"
        shown = "\n".join(texts)
        for words in ("全连接层", "注意力权重", "注意力池化", "温度 τ", "相似度"):
            assert words in shown, words
    elif name == "present":  # the slide's title and the other slides' tabs
        assert title.startswith("1 · 输入")
        assert "2 · 全连接层" in texts and "8 · 预测" in texts
    else:
        assert title == TITLES[name]


def test_english_stays_english_and_the_switch_changes_the_language():
    at = app_in(None)  # AppTest sends no browser language: English
    assert at.session_state[state.LANGUAGE] == "en"
    assert at.title[0].value == "Your sentence, one formula at a time"
    at.session_state[state.LANGUAGE_WIDGET] = "zh"  # as a click on 中文 does, then its callback
    at.session_state[state.LANGUAGE] = "zh"
    at = run(at)
    assert at.title[0].value == "你的句子，一次一个公式"
    assert any(CJK.search(c.value) for c in at.sidebar.caption)
