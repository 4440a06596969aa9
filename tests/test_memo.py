"""The byte-bounded LRU cache shared by every session."""

import math

import numpy as np
import plotly.graph_objects as go

from dense_attention.server import memo


def counting(value):
    calls = []

    def build():
        calls.append(1)
        return value

    return build, calls


def test_a_hit_is_built_once_and_the_least_recently_used_goes_first():
    cache = memo.ByteLRU(max_bytes=300, max_item_bytes=200, size=len)
    a, b, c = b"a" * 100, b"b" * 100, b"c" * 150
    build_a, calls_a = counting(a)
    assert cache.get_or_build("a", build_a) is a and cache.get_or_build("a", build_a) is a
    assert calls_a == [1]
    cache.get_or_build("b", lambda: b)
    cache.get_or_build("a", build_a)  # a is now the most recently used
    cache.get_or_build("c", lambda: c)  # 350 bytes > 300: b goes
    assert "a" in cache and "c" in cache and "b" not in cache
    assert cache.total == 250 <= cache.max_bytes


def test_a_value_over_the_item_limit_is_returned_but_never_kept():
    cache = memo.ByteLRU(max_bytes=10_000, max_item_bytes=100, size=len)
    build, calls = counting(b"x" * 101)
    cache.get_or_build("big", build)
    cache.get_or_build("big", build)
    assert calls == [1, 1] and len(cache) == 0 and cache.total == 0


def test_sizes_are_a_figures_json_an_arrays_buffer_or_a_pickle():
    fig = go.Figure(go.Heatmap(z=np.zeros((50, 50))))
    assert memo.approx_bytes(fig) == len(fig.to_json())
    assert memo.approx_bytes(np.zeros((10, 10), np.float32)) == 400
    assert 100 < memo.approx_bytes({"k": "v" * 100}) < 200
    assert memo.approx_bytes(lambda: None) == math.inf  # cannot be measured: never kept


def test_get_finds_a_kept_value_without_building_and_counts_as_a_use():
    cache = memo.ByteLRU(max_bytes=250, max_item_bytes=200, size=len)
    assert cache.get("a") is None and len(cache) == 0  # a miss keeps nothing
    cache.get_or_build("a", lambda: b"a" * 100)
    cache.get_or_build("b", lambda: b"b" * 100)
    assert cache.get("a") == b"a" * 100  # a is now the most recently used
    cache.get_or_build("c", lambda: b"c" * 100)  # 300 > 250: b goes, not a
    assert "a" in cache and "b" not in cache
