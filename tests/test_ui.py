"""ui: the shared sidebar (picker, live settings, markers, reset), caches and the facade."""

import dataclasses
import json

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dense_attention import ui
from dense_attention.core.config import SIMILARITY_NAMES, ModelConfig
from dense_attention.core.errors import UNEXPECTED_MESSAGE
from dense_attention.core.model import DenseAttention
from dense_attention.inputs.classifier import Explanation
from dense_attention.storage import catalog, checkpoint
from dense_attention.ui import browser, state
from dense_attention.ui.sidebar import Settings


def sidebar_script() -> None:
    """A page with only the sidebar; it prints what sidebar() returned."""
    import streamlit as st

    from dense_attention import ui
    from dense_attention.ui import browser

    browser.user_models().update(st.session_state.get("inject_models", {}))  # as if trained here
    settings = ui.sidebar(st.session_state.get("page_kind", "text"))
    if settings is not None:
        st.write(
            f"model={settings.model_name} similarity={settings.similarity} "
            f"temperature={settings.temperature:g} pooling={settings.pooling} "
            f"changed={','.join(settings.changed) or '-'} kind={settings.model.config.kind} "
            f"shared={settings.cache_key is not None} trained={settings.trained.similarity}"
        )


def run(target) -> AppTest:
    at = target.run()
    assert not at.exception, [e.message for e in at.exception]
    assert UNEXPECTED_MESSAGE not in [e.value for e in at.error], "a bug was caught: see the log"
    return at


def shown(at: AppTest) -> str:
    return at.markdown[-1].value


def markers(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption if "≠ trained" in c.value]


def sidebar_app(kind: str | None = "text", **state) -> AppTest:
    at = AppTest.from_function(sidebar_script, default_timeout=60)
    at.session_state["page_kind"] = kind
    for key, value in state.items():
        at.session_state[key] = value
    return run(at)


@pytest.mark.parametrize("kind", ["text", "image", None])
def test_picker_lists_the_shipped_checkpoints_of_the_kind(found, kind):
    at = sidebar_app(kind)
    expected = [name for name, c in found.items() if kind in (None, c.kind)]
    if not expected:
        assert at.info and not at.markdown
        return
    assert at.selectbox(key=state.MODEL_WIDGET).options == expected
    assert f"model={expected[0]} " in shown(at)
    assert "Device: **" in " ".join(c.value for c in at.sidebar.caption)


def test_changing_a_setting_marks_it_and_reset_restores_the_trained_ones(found):
    at = sidebar_app()
    # a model without a checkpoint per similarity: switching keeps its weights
    name = next(
        n for n, c in found.items() if c.kind == "text" and not catalog.similarity_variants(c)
    )
    run(at.selectbox(key=state.MODEL_WIDGET).set_value(name))
    trained = checkpoint.load(found[name].path).config.model
    assert "changed=- " in shown(at) and not markers(at)
    assert at.button[0].disabled  # nothing to reset
    other = "cosine" if trained.similarity != "cosine" else "dot"
    run(at.selectbox(key=state.SIMILARITY_WIDGET).set_value(other))
    assert f"similarity={other} " in shown(at) and "changed=similarity " in shown(at)
    assert markers(at) == [f":orange[≠ trained: {trained.similarity}]"]
    run(at.select_slider(key=state.TEMPERATURE_WIDGET).set_value(0.01))
    run(at.radio(key=state.POOLING_WIDGET).set_value("mean"))
    assert "changed=similarity,temperature,pooling " in shown(at)
    assert len(markers(at)) == 3
    run(at.button[0].click())
    assert f"similarity={trained.similarity} " in shown(at)
    assert f"temperature={trained.temperature:g} " in shown(at)
    assert f"pooling={trained.pooling} " in shown(at) and "changed=- " in shown(at)
    assert not markers(at) and at.selectbox(key=state.SIMILARITY_WIDGET).value == trained.similarity


def test_a_similarity_with_its_own_checkpoint_loads_it_and_reset_returns(found):
    """bbc-topics/similarities/<name>/: picking <name> runs the model trained with it."""
    variants = catalog.similarity_variants(found["bbc-topics"])
    assert set(variants) == set(SIMILARITY_NAMES)
    shipped = checkpoint.load(found["bbc-topics"].path).config.model.similarity
    at = run(sidebar_app().selectbox(key=state.MODEL_WIDGET).set_value("bbc-topics"))
    assert shown(at).endswith(f"trained={shipped}") and "changed=- " in shown(at)
    others = [name for name in ("dot", "cosine", "bilinear") if name != shipped]
    for name in others:
        run(at.selectbox(key=state.SIMILARITY_WIDGET).set_value(name))
        assert f"similarity={name} " in shown(at) and shown(at).endswith(f"trained={name}")
        assert "model=bbc-topics " in shown(at) and "changed=- " in shown(at)
        assert "shared=True" in shown(at) and not markers(at)
        assert not at.button[0].disabled  # Reset brings back the shipped checkpoint
    run(at.button[0].click())
    assert f"similarity={shipped} " in shown(at) and shown(at).endswith(f"trained={shipped}")


def test_a_model_trained_in_this_session_appears_in_the_picker(found):
    name = next(n for n, c in found.items() if c.kind == "text")
    mine = checkpoint.load(found[name].path)
    at = sidebar_app(**{"inject_models": {"my model": mine}})
    label = f"my model{browser.USER_SUFFIX}"
    # Nothing picked yet in this session (e.g. after a reload): this browser's newest model.
    assert at.selectbox(key=state.MODEL_WIDGET).value == label
    run(at.selectbox(key=state.MODEL_WIDGET).set_value(name))
    assert "shared=True" in shown(at)  # a shipped model: its explanations may be shared
    run(at.selectbox(key=state.MODEL_WIDGET).set_value(label))
    assert f"model={label} " in shown(at) and "shared=False" in shown(at)  # never in a cache
    assert "only you see it" in " ".join(c.value for c in at.sidebar.caption)
    # Settings belong to a model: changing them on mine leaves the shipped one as trained.
    run(at.selectbox(key=state.SIMILARITY_WIDGET).set_value("additive"))
    run(at.selectbox(key=state.MODEL_WIDGET).set_value(name))
    assert "changed=- " in shown(at)
    run(at.selectbox(key=state.MODEL_WIDGET).set_value(label))
    assert "similarity=additive " in shown(at)


def test_a_user_model_of_the_other_kind_is_not_offered(found):
    name = next(n for n, c in found.items() if c.kind == "text")
    at = sidebar_app("image", **{"inject_models": {"mine": checkpoint.load(found[name].path)}})
    options = at.selectbox(key=state.MODEL_WIDGET).options if at.get("selectbox") else []
    assert f"mine{browser.USER_SUFFIX}" not in options


def test_no_model_of_a_kind_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(catalog.CHECKPOINTS_ENV, str(tmp_path))
    at = sidebar_app("text")
    assert "No text model yet" in at.info[0].value and not at.markdown


def cached_script() -> None:
    import streamlit as st

    from dense_attention.figures import trace_plots
    from dense_attention.ui import cache

    fig = cache.cached(trace_plots.attention_heatmap, [[0.5, 0.5], [0.2, 0.8]], ["a", "b"], (0, 1))
    again = cache.cached(
        trace_plots.attention_heatmap, [[0.5, 0.5], [0.2, 0.8]], ["a", "b"], (0, 1)
    )
    other = cache.cached(
        trace_plots.attention_heatmap, [[0.5, 0.5], [0.2, 0.8]], ["a", "b"], (1, 1)
    )
    st.write(f"same={fig is again} other={fig is other} z={fig.data[0].z}")


def test_cached_builds_once_per_content():
    at = run(AppTest.from_function(cached_script, default_timeout=30))
    assert at.markdown[0].value.startswith("same=True other=False z=")


def big_figure_script() -> None:
    import plotly.graph_objects as go
    import streamlit as st

    from dense_attention.ui import cache

    def big(n: int) -> go.Figure:  # over 8 MB of JSON, cheap to build
        return go.Figure(layout_title_text="x" * n)

    small, small_again = cache.cached(big, 10), cache.cached(big, 10)
    first, again = cache.cached(big, 9 * 2**20), cache.cached(big, 9 * 2**20)
    st.write(f"small kept={small is small_again} big kept={first is again}")


def test_the_shared_figure_cache_never_keeps_a_figure_of_many_megabytes():
    at = run(AppTest.from_function(big_figure_script, default_timeout=30))
    assert at.markdown[0].value == "small kept=True big kept=False"


def owner_script() -> None:
    import streamlit as st

    from dense_attention import ui
    from dense_attention.core.config import TrainConfig
    from dense_attention.server import jobs, work
    from dense_attention.ui import browser

    data, config = work.DataChoice("digits", limit=60), TrainConfig(epochs=1, probes=0)
    request = work.TrainRequest(data, {"hidden_dim": 4}, config, baseline=False)
    ui.start_job(jobs.JobKind.TRAIN, lambda: jobs.train_job(request))  # in a worker process
    job = browser.workspace().jobs[jobs.JobKind.TRAIN]
    job.join(120)
    st.write(f"owned={job.owner is browser.workspace()} state={job.state}")


def test_a_started_job_belongs_to_this_browser_for_fair_sharing():
    at = run(AppTest.from_function(owner_script, default_timeout=150))
    assert at.markdown[0].value == "owned=True state=done"


def test_settings_config_carries_the_live_settings(found):
    name = next(n for n, c in found.items() if c.kind == "text")
    model = checkpoint.load(found[name].path)
    settings = Settings(name, model, "cosine", 0.5, "mean", ("similarity",))
    cfg = settings.config
    assert (cfg.similarity, cfg.temperature, cfg.pooling) == ("cosine", 0.5, "mean")
    assert cfg.hidden_dim == settings.trained.hidden_dim
    explained = settings.explain("Great match")
    direct = model.explain("Great match", similarity="cosine", temperature=0.5, pooling="mean")
    assert torch.equal(explained.trace.attn, direct.trace.attn)
    overrides = {"similarity": "cosine", "temperature": 0.5, "pooling": "mean"}
    assert json.loads(json.dumps(settings.overrides)) == overrides


def long_input_script() -> None:
    """The walk-through and the formula panel for 100 tokens (10,000 attention cells)."""
    import torch

    from dense_attention import DenseAttention, ModelConfig, ui
    from dense_attention.inputs.classifier import Explanation

    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=4, hidden_dim=8, num_classes=2)).eval()
    with torch.no_grad():
        trace = model.trace(torch.randn(1, 100, 4))
    explanation = Explanation(trace, [f"t{k}" for k in range(100)], 0, ("a", "b"))
    ui.render_steps(explanation, model.config, cell=ui.selected_cell(100))
    ui.cell_panel(explanation, model.config)


def test_long_inputs_render_without_per_cell_overlays():
    import base64

    import numpy as np

    at = run(AppTest.from_function(long_input_script, default_timeout=60))
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    assert len(specs) == 11
    torch.manual_seed(0)
    model = DenseAttention(ModelConfig(input_dim=4, hidden_dim=8, num_classes=2)).eval()
    with torch.no_grad():
        attn = model.trace(torch.randn(1, 100, 4)).attn[0].numpy()
    attention = [s for s in specs if s["layout"]["title"]["text"].startswith("Attention a")]
    assert len(attention) == 2
    for spec in attention:
        (heatmap,) = spec["data"]  # no invisible marker per cell: 10,000 would be too many
        z = heatmap["z"]  # float32 binary, not 10,000 numbers as text
        values = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(100, 100)
        np.testing.assert_allclose(values, attn, atol=1e-6)
    assert any("too many cells to click" in m.value for m in at.markdown)
    assert at.selectbox(key="cell_i").options[99] == "100 · t99"


HOSTILE = ["![t](http://host/track.png)", "[click](http://host/)", ":red[big]", "$x$", "a_b_c*"]


@pytest.mark.parametrize("name", HOSTILE)
def test_user_strings_render_as_their_own_text_in_markdown(name):
    """Issue #17: a CSV label `![t](http://host/track.png)` rendered as an image (a tracker)."""
    from markdown_it import MarkdownIt

    from dense_attention.core.toy import toy_example
    from dense_attention.ui.styles import md

    toy = toy_example()
    classes = [name, *toy.class_names[1:]]
    probs = torch.zeros(1, len(classes))
    probs[0, 0] = 1.0
    trace = dataclasses.replace(toy.trace(), probs=probs)
    line = ui.prediction_line(Explanation(trace, list(toy.tokens), 0, classes))
    rendered = MarkdownIt("commonmark").enable("table").render(line)
    assert "<img" not in rendered and "<a " not in rendered and "<em>" not in rendered
    shown = MarkdownIt("commonmark").enable("table").render(md(name)).replace("&quot;", '"')
    assert name in shown.replace("\u2060", "")  # md() puts an invisible word joiner in URLs


def test_every_uploader_states_its_limit_and_the_server_accepts_it():
    """Issue #17: a 33.6 MB checkpoint got a raw "AxiosError 413": the uploader said 210 MB,
    the server's maxUploadSize (20 MB) refused it first."""
    import tomllib
    from pathlib import Path

    from pagetest import open_page, run

    config = tomllib.loads((Path(__file__).parent.parent / ".streamlit/config.toml").read_text())
    server_mb = config["server"]["maxUploadSize"]
    train = open_page("views/train.py")  # the checkpoint uploader
    uploaders = [u.proto for u in train.get("file_uploader")]
    train = run(train.selectbox(key="train_dataset").set_value("Upload your own"))
    image = open_page("views/image.py")
    image = run(image.radio(key="image_source").set_value("Upload"))
    uploaders += [u.proto for at in (train, image) for u in at.get("file_uploader")]
    assert len(uploaders) == 3  # data set and checkpoint (train page), picture (image page)
    for proto in uploaders:
        assert 0 < proto.max_upload_size_mb <= server_mb, proto.label
        assert f"Up to {proto.max_upload_size_mb} MB" in proto.help, proto.label


def test_a_damaged_stored_model_is_named_in_the_sidebar_until_removed(found):
    """Issue #28: a model whose stored weights were cut short vanished from the picker with no
    word. The sidebar names it and why, keeps its files, and removes it on the user's word."""
    import secrets

    from dense_attention.server import store

    token = secrets.token_hex(16)
    name = next(n for n, c in found.items() if c.kind == "text")
    other = store.Workspaces(store.data_dir())  # another server wrote it
    space = other.get(token)
    space.models["cut *short*"] = checkpoint.load(found[name].path)
    assert other.save(space, "cut *short*")
    weights = next(other.folder(token).glob("models/*/model.safetensors"))
    weights.write_bytes(weights.read_bytes()[:64])
    at = sidebar_app(**{state.WORKSPACE: token})
    warnings = [w.value for w in at.sidebar.warning]
    assert len(warnings) == 1 and "cut \\*short\\*" in warnings[0]
    assert "could not be loaded" in warnings[0] and "Its files are kept" in warnings[0]
    assert f"{browser.USER_SUFFIX}" not in " ".join(at.selectbox(key=state.MODEL_WIDGET).options)
    assert weights.is_file()
    at = run(at.sidebar.button[0].click())
    assert not at.sidebar.warning and not weights.parent.exists()


def test_a_cookie_token_the_server_never_issued_is_replaced(found, monkeypatch):
    """Issue #28: a well-formed but unknown workspace token in a cookie was adopted as is."""
    import secrets

    from dense_attention.server import store

    made_up, known = secrets.token_hex(16), secrets.token_hex(16)
    other = store.Workspaces(store.data_dir())
    space = other.get(known)
    space.models["mine"] = checkpoint.load(next(iter(found.values())).path)
    assert other.save(space, "mine")
    monkeypatch.setattr(browser, "_cookie_token", lambda: made_up)
    token = sidebar_app().session_state[state.WORKSPACE]
    assert token != made_up and len(token) == 32
    assert not browser.workspaces().folder(made_up).exists()
    monkeypatch.setattr(browser, "_cookie_token", lambda: known)
    assert sidebar_app().session_state[state.WORKSPACE] == known


def test_the_facade_exports_what_the_pages_use_and_nothing_more():
    """ui/__init__ re-exports exactly the names views/*.py and app.py read as `ui.<name>`."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pages = [root / "app.py", *sorted((root / "views").glob("*.py"))]
    used = {name for p in pages for name in re.findall(r"\bui\.(\w+)", p.read_text())}
    assert used == set(ui.__all__)
    assert all(hasattr(ui, name) for name in ui.__all__)


def test_warm_up_later_runs_every_step_once_after_its_delay(monkeypatch):
    """Each step runs once per server, WARM_UP_DELAY_S later, even when one before it fails."""
    import threading
    import time

    from dense_attention.ui import cache

    monkeypatch.setattr(cache, "_WARMING", [])
    monkeypatch.setattr(cache, "WARM_UP_DELAY_S", 0.3)
    ran: list[tuple[str, float]] = []
    done = threading.Event()

    def failing() -> None:
        ran.append(("failing", time.monotonic()))
        raise RuntimeError("a missing package")

    def last() -> None:
        ran.append(("last", time.monotonic()))
        done.set()

    called = time.monotonic()
    cache.warm_up_later(failing, last)
    cache.warm_up_later(last)  # a second page's run: nothing more
    assert ran == []  # not at once: the first page is still being drawn
    assert done.wait(10)
    time.sleep(0.3)  # room for a second run, if there were one
    assert [name for name, _ in ran] == ["failing", "last"]
    assert ran[0][1] - called >= 0.3


def test_app_warms_up_once_the_first_pages_run_has_ended(monkeypatch):
    """app.py asks for the warm-up after the page ran (the live view was drawn), not before:
    its ~9 s of CPU must not share the machine with the browser drawing the first page."""
    import streamlit as st
    from pagetest import open_page

    calls: list[object] = []
    monkeypatch.setattr(
        ui,
        "warm_up_later",
        lambda *steps: calls.append(st.session_state.get(state.LIVE_VIEW_PAINTED)),
    )
    open_page()
    assert calls == [True]


def test_the_first_element_preloads_the_chart_and_formula_code():
    """app.py's first element (hidden, in the sidebar) imports Streamlit's lazily loaded chunks
    that the first page draws, named as Streamlit's own build names them."""
    import re
    from pathlib import Path

    import streamlit as st
    from pagetest import open_page

    at = open_page()
    preload = at.sidebar.get("html")[0].proto
    assert preload.unsafe_allow_javascript and "dal-preload" in preload.body
    names = json.loads(re.search(r"const names = (\[.*?\]);", preload.body).group(1))
    built = Path(st.__file__).parent / "static" / "static" / "js"
    assert {name.split(".")[0] for name in names} == {
        "PlotlyChart", "BidiComponent", "rehype-katex", "StreamlitSyntaxHighlighter"
    }  # fmt: skip
    assert all((built / name).is_file() for name in names)
    assert "dal-preload" not in at.main.get("html")[0].proto.body  # the page's first is its own
