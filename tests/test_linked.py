"""ui.linked: the Text page's one-screen overview carries the trace's numbers and the pinned
token of this input only (the highlight itself is drawn in Chromium: test_browser.py)."""

import base64
import json

import numpy as np
from pagetest import EXAMPLE, run, set_sentence

from dense_attention.ui import state


def overview_data(at) -> dict:
    (found,) = [c for c in at.get("bidi_component") if c.key == state.OVERVIEW_TEXT]
    return json.loads(found.proto.json)


def test_the_overview_holds_the_pages_trace_and_no_pin_at_first(text_page, text_model):
    data = overview_data(text_page)
    trace = text_model.explain(EXAMPLE).trace
    assert data["tokens"] == list(text_model.explain(EXAMPLE).tokens)
    attn = next(p for p in data["panels"] if p["key"] == "attn")
    got = np.frombuffer(base64.b64decode(attn["z"]), dtype="<f4").reshape(attn["rows"], -1)
    np.testing.assert_allclose(got, trace.attn[0].detach().numpy(), atol=1e-6)
    assert data["pinned"] is None
    assert len(data["follow"]) == len(data["tokens"])


def test_a_pinned_token_comes_back_for_its_input_only(text_page):
    at = text_page
    tokens = overview_data(at)["tokens"]
    at.session_state[state.LINKED_TOKEN] = (tuple(tokens), 2)
    at = run(at)
    assert overview_data(at)["pinned"] == 2
    at = set_sentence(at, "A different sentence")  # another input: the pin was for the old one
    assert overview_data(at)["pinned"] is None
