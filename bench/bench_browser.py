"""How live the app feels in a real browser: start-up, a setting change, a page switch, a slide.

Run: python bench/bench_browser.py [--repeats 3] [--train] [--sizes all|text|image|none]
       [--only sizes|startup]
Starts `streamlit run app.py` on a free port, drives Debian's Chromium with Playwright and
prints medians (seconds) of:
- process start -> the first chart drawn on the home page (the live view's attention matrix,
  drawn in the browser, or a plotly chart, whichever comes first), and -> the first plotly
  chart (each a fresh server and browser, the browser open before the server starts,
  --repeats times; --only startup: only these);
- a similarity change in the sidebar -> the live view (ui/live_view.py, computed in the
  browser) shows the new attention matrix; and -> the page has settled, at two places on the
  page (look_at): the live view in view ("@live": the step charts below wait in their boxes,
  ui/lazy.py; settled = the server's answer in, the app idle, two frames drawn) and the
  attention step in view ("@attention": settled = its heatmap shows new numbers, the app idle);
  one temperature step (← or → on the slider) -> the same;
- a switch to each page -> its first chart (or its title, for a page without charts), in
  --repeats passes over the pages (the first: first visits), and the median of the pages'
  medians;
- Present: Next -> the next slide's title and chart;
- with --train: training digits with the train page's defaults, from Start to the test
  accuracy shown, beside the CLI's time for the same settings in the same run;
- the bytes the browser receives (websocket frames) on the first load and per setting change;
- the floor: an empty page's round trip (a sidebar selectbox change -> the new value shown and
  the app idle), in a one-line app started the same way; no Streamlit rerun can be faster;
- the size table (--only sizes: it alone): the similarity change and the temperature step above,
  live and settled at both places (·live, ·step), and the bytes each brings, at N = 16, 64,
  128 and 512 tokens on the Text page and 16, 64 and 256 patches on the Image page, with
  issue #25's goals beside the cells they name (at 16 tokens its goals for the 18-token
  default example). The models are bench
  copies built in a temporary folder (bench/size_models.py: bbc-topics and its similarity
  variants read up to 512 tokens; untrained Fashion-MNIST models), served by one more server
  (DENSE_ATTENTION_CHECKPOINTS), each row a fresh session opened by a link (?model=, text= or
  example=; a text too long for a link is typed into the box), its N checked on the page.
  Past live_view.MAX_TOKENS (128) the page draws no live view: those cells show —.
A benchmark, not a test: CI times nothing. Run it on a quiet machine; it prints the load.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import size_models  # noqa: E402  (bench/, beside this file)
from streamlit.logger import set_log_level  # noqa: E402

set_log_level("error")  # the ui modules' caches warn that no Streamlit runtime runs this script

from dense_attention.storage import catalog  # noqa: E402
from dense_attention.ui.live_view import MAX_TOKENS as LIVE_MAX_TOKENS  # noqa: E402
from dense_attention.ui.share import SHARED_TEXT_MAX  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]  # fmt: skip
TARGETS = {"similarity@live": 0.1, "temperature@live": 0.1, "similarity@attention": 0.1,
           "temperature@attention": 0.1, "similarity@live (settled)": 0.5,
           "temperature@live (settled)": 0.3, "similarity@attention (settled)": 0.5,
           "temperature@attention (settled)": 0.3, "first chart": 3.0, "page switch": 0.5,
           "present next": 0.3}  # fmt: skip
# The live view's attention matrix, as the browser computed it.
LIVE_Z = """() => {
  const root = document.querySelector('[data-testid="dal-live"]');
  return root && root.dalLive ? JSON.stringify(root.dalLive.attn) : null;
}"""
# Present last: it collapses the sidebar, whose links the switches click.
# The similarities a change goes to, in turn (the home model's own, bilinear, last).
SIMILARITIES = ["dot", "cosine", "neg_euclidean", "scaled_dot", "bilinear"]
PAGES = {"image": "Your picture", "model": "The model, one formula", "train": "Train a model",
         "compare": "Compare attention", "attention": "Does attention matter?",
         "about": "About the model", "present": "1 · The input"}  # fmt: skip
# The train page's defaults for digits (ui/train_form.py), as CLI flags.
CLI_DIGITS = ["--dataset", "digits", "--patch", "2", "--hidden", "256", "--lr", "0.01",
              "--epochs", "40", "--batch-size", "32", "--activation", "gelu",
              "--similarity", "scaled_dot", "--patience", "10", "--no-baseline"]  # fmt: skip
# A fingerprint of the numbers of the scores and attention heatmaps (a model with uniform
# attention changes only its scores when the similarity or τ changes): a hash, so that polling
# a 512 x 512 matrix costs the page's main thread little and sends a few bytes.
ATTENTION_Z = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')].filter((p) => {
    const title = (p.layout?.title?.text || '').replace(/<[^>]*>/g, '');  // Streamlit adds <b>
    return title.startsWith('Attention a') || title.startsWith('Scores s');
  });
  const hash = (s) => {  // FNV-1a over at most ~50,000 evenly spaced characters of s
    const step = Math.max(1, Math.floor(s.length / 50000));
    let h = 2166136261;
    for (let i = 0; i < s.length; i += step) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    return `${s.length}:${h >>> 0}`;
  };
  // z is a list of rows, or (a large matrix) float32 binary: {dtype, bdata, shape}
  const text = (z) => (typeof z?.bdata === 'string' ? z.bdata : JSON.stringify(z));
  return plots.length ? plots.map((p) => hash(text(p.data[0].z))).join(' ') : null;
}"""
# N, the rows of the attention heatmap (as above: a list of rows, or binary with its shape).
ATTENTION_N = """() => {
  const plot = [...document.querySelectorAll('.js-plotly-plot')].find((p) =>
    (p.layout?.title?.text || '').replace(/<[^>]*>/g, '').startsWith('Attention a'));
  const z = plot?.data[0].z;
  return z ? (z.shape ? parseInt(String(z.shape), 10) : z.length) : null;
}"""


# The floor's app: one sidebar selectbox and the value it holds.
EMPTY_APP = """import streamlit as st
v = st.sidebar.selectbox("Similarity", ["a", "b", "c", "d"], key="s")
st.write(f"value {v}")
"""
RECEIVED: list[int] = []  # sizes of the websocket frames the page received
TWO_FRAMES = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


def start_server(
    app: str = "app.py", cwd: Path = ROOT, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str, float]:
    """`streamlit run app` on a free port (with `env` added to the environment): (process, URL,
    monotonic start time)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", app, "--server.port", str(port),
         "--server.headless", "true", "--server.fileWatcherType", "none"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() - started < 120:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.read().strip() == b"ok":
                    return proc, url, started
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


def idle(page: Page, timeout_ms: int = 120_000) -> None:
    """Wait until the app has finished its run (Streamlit's own end-to-end signal)."""
    page.wait_for_timeout(50)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
        state="attached", timeout=timeout_ms
    )


def until_changed(page: Page, before: str | None, timeout_s: float = 60) -> None:
    """Wait until the scores / attention heatmaps' numbers differ from `before` and the app is
    idle."""
    deadline = time.monotonic() + timeout_s
    while page.evaluate(ATTENTION_Z) in (before, None):
        if time.monotonic() > deadline:
            raise TimeoutError("the attention heatmap did not change")
        page.wait_for_timeout(10)
    idle(page, max(120_000, int(timeout_s * 1000)))


def timed(action: Callable[[], None], done: Callable[[], None]) -> float:
    start = time.monotonic()
    action()
    done()
    return time.monotonic() - start


def live_and_settled(
    page: Page,
    action: Callable[[], None],
    live_view: bool = True,
    timeout_s: float = 60,
    chart: bool = True,
) -> tuple[float, float]:
    """Seconds from `action` until the live view shows a new matrix (NaN without `live_view`:
    the page has none past live_view.MAX_TOKENS tokens), and until the page has settled: with
    `chart` (the attention step in view, see look_at), the server's heatmap has new numbers and
    the app is idle; without (the live view in view: the step charts are boxes waiting to be
    scrolled to, ui/lazy.py), the server's answer has come, the app is idle and the browser has
    drawn two frames."""
    live, server = page.evaluate(LIVE_Z), page.evaluate(ATTENTION_Z)
    mark = len(RECEIVED)
    start = time.monotonic()
    action()
    deadline = start + timeout_s
    while live_view and page.evaluate(LIVE_Z) in (live, None):
        if time.monotonic() > deadline:
            raise TimeoutError("the live view did not change")
        page.wait_for_timeout(5)
    shown = time.monotonic() - start if live_view else math.nan
    if chart:
        until_changed(page, server, timeout_s)
    else:
        while len(RECEIVED) == mark:  # the server's answer (the rerun's first message)
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not answer")
            page.wait_for_timeout(5)
        idle(page, int(timeout_s * 1000))
        page.evaluate(TWO_FRAMES)
    return shown, time.monotonic() - start


def look_at(page: Page, where: str, timeout_s: float = 60) -> None:
    """Scroll the page to the live view ("live": the charts below wait in their boxes) or to
    the attention step ("attention": its chart is drawn, ui/lazy.py), and wait until the page
    has drawn what is now near the screen."""
    if where == "live":
        target = page.locator('[data-testid="dal-live"]')
        if not target.count():
            target = page.get_by_role("heading").first
    else:
        target = page.locator('[class*="st-key-dal-lazy-chart_"][class*="steps_attn"]').first
    target.scroll_into_view_if_needed(timeout=timeout_s * 1000)
    page.wait_for_timeout(600)  # the viewport element reports after scrolling pauses
    idle(page, int(timeout_s * 1000))
    if where == "attention":
        target.locator(".js-plotly-plot .heatmaplayer").first.wait_for(timeout=timeout_s * 1000)
        idle(page, int(timeout_s * 1000))


def similarity_changes(
    page: Page, repeats: int, sizes: list[int], names: list[str] = SIMILARITIES, **wait: Any
) -> list[tuple[float, float]]:
    """(live, settled) seconds per change to each of `names` in turn (the current one left
    out); the bytes each change brought go into `sizes`. `wait`: live_and_settled's options."""
    times = []
    for name in names[:repeats]:
        page.get_by_role("combobox", name="Similarity").click()
        option = page.get_by_role("option", name=name, exact=True)
        RECEIVED.clear()
        times.append(live_and_settled(page, option.click, **wait))
        sizes.append(sum(RECEIVED))
    return times


def temperature_steps(
    page: Page, repeats: int, sizes: list[int], **wait: Any
) -> list[tuple[float, float]]:
    """(live, settled) seconds per τ step, down and up the slider in turn (it has ends)."""
    thumb = page.get_by_test_id("stSidebar").get_by_role("slider").first
    times = []
    for k in range(repeats):
        thumb.focus()
        RECEIVED.clear()
        key = "ArrowLeft" if k % 2 == 0 else "ArrowRight"
        times.append(live_and_settled(page, lambda key=key: page.keyboard.press(key), **wait))
        sizes.append(sum(RECEIVED))
    return times


def report_pairs(name: str, pairs: list[tuple[float, float]]) -> None:
    """The live view's times against the target, the settled page's beside them."""
    report(name, [live for live, _ in pairs])
    report(f"{name} (settled)", [settled for _, settled in pairs])


def count_frames(ws: Any) -> None:
    ws.on("framereceived", lambda frame: RECEIVED.append(len(frame)))


def empty_page_floor(pw: Any, repeats: int) -> list[float]:
    """An empty page's round trip: select a value in the sidebar -> shown, app idle."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "app.py").write_text(EMPTY_APP)
        proc, url, _ = start_server("app.py", Path(folder))
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_text("value a").wait_for(timeout=120_000)
            idle(page)
            times = []
            for name in ["b", "c", "d", "a", "b"][: max(repeats, 3)]:
                page.get_by_role("combobox", name="Similarity").click()
                option = page.get_by_role("option", name=name, exact=True)
                shown = page.get_by_text(f"value {name}")
                times.append(timed(option.click, lambda s=shown: (s.wait_for(), idle(page))))
            browser.close()
            return times
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def start_ups(pw: Any, repeats: int) -> tuple[list[float], list[float]]:
    """Seconds from `streamlit run` to the home page's first chart (the live view's canvas or a
    plotly chart, whichever is first) and to its first plotly chart; a fresh server and
    browser each time. The browser is started first, as a visitor's is (Chromium's own start,
    0.5-0.8 s here, is not the app's)."""
    first, plotly = [], []
    for _ in range(repeats):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        proc, url, started = start_server()
        try:
            page.goto(url)
            page.locator('[data-testid="dal-live"] canvas, .js-plotly-plot').first.wait_for(
                timeout=180_000
            )
            first.append(time.monotonic() - started)
            page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
            plotly.append(time.monotonic() - started)
        finally:
            browser.close()
            proc.terminate()
            proc.wait(timeout=10)
    return first, plotly


def page_switches(page: Page, url: str) -> dict[str, float]:
    times = {}
    for slug, heading in PAGES.items():
        link = page.get_by_test_id("stSidebarNav").locator(f'a[href$="/{slug}"]')
        target = page.get_by_text(heading).filter(visible=True).first
        times[slug] = timed(link.click, lambda t=target: (t.wait_for(), idle(page)))
    page.goto(url)
    idle(page)
    return times


def present_next(page: Page, url: str, repeats: int) -> list[float]:
    page.goto(f"{url}/present")
    idle(page)
    times = []
    for k in range(2, 2 + repeats):
        title = page.get_by_role("heading", name=f"{k} ·")
        times.append(timed(page.get_by_role("button", name="Next").click,
                           lambda t=title: (t.wait_for(), idle(page))))  # fmt: skip
    return times


def train_in_app(page: Page, url: str) -> float:
    """Start training digits with the defaults; seconds until the test accuracy shows."""
    page.goto(f"{url}/train")
    idle(page)
    start = page.get_by_role("button", name="Start training")
    return timed(start.click, lambda: page.get_by_text("Test accuracy").first.wait_for(
        timeout=1_800_000))  # fmt: skip


def train_in_cli(threads: int | None = None) -> float:
    """The CLI's time for the same settings; with `threads`, torch limited to that many (the
    app runs with 1: on a busy 2-core machine torch's default of 2 mostly wait for each other)."""
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "dense_attention", "train", *CLI_DIGITS, "--out", out]
        return timed(lambda: subprocess.run(command, cwd=ROOT, check=True, env=env,
                                            capture_output=True), lambda: None)  # fmt: skip


def report(name: str, seconds: list[float]) -> None:
    target = TARGETS.get(name)
    median = statistics.median(seconds)
    verdict = (
        ""
        if target is None
        else f"  target ≤ {target:g} s: {'met' if median <= target else 'MISSED'}"
    )
    print(f"{name:<24} median {median:6.2f} s  ({', '.join(f'{s:.2f}' for s in seconds)}){verdict}")


# ---------------------------------------------------------------------------------------------
# The size table: a setting change at N = 16, 64, 128 and 512 tokens and 16, 64, 256 patches

SIZE_TIMEOUT_S = 600  # a change at 512 tokens may be slow: how slow is the point
# settled·live: the live view in view (the step charts wait in boxes); settled·step: the
# attention step in view (its chart redrawn), see look_at.
SIZE_COLUMNS = ("sim live", "sim settled·live", "sim settled·step", "τ live", "τ settled·live",
                "τ settled·step")  # fmt: skip
SIZE_KB = ("KB/sim·live", "KB/sim·step", "KB/τ·live", "KB/τ·step")
# Issue #25's goals (seconds) by (input kind, N) and column; at 16 tokens those it sets at 18,
# the home page's default example.
SIZE_GOALS = {
    ("text", 16): {
        "sim settled·live": 0.5,
        "sim settled·step": 0.5,
        "τ settled·live": 0.3,
        "τ settled·step": 0.3,
    },
    ("text", 128): {
        "sim live": 0.1,
        "sim settled·live": 1.0,
        "sim settled·step": 1.0,
        "τ live": 0.1,
        "τ settled·live": 0.7,
        "τ settled·step": 0.7,
    },
}


@dataclass(frozen=True)
class SizeCase:
    """One row of the size table: a bench model (bench/size_models.py) and its input."""

    kind: str  # text | image
    n: int  # tokens, [CLS] and [SEP] included, or patches
    model: str  # the checkpoint's folder name
    similarity: str  # the model's own: the changes go to the others
    text: str = ""  # text: exactly n tokens


def size_cases(folder: Path, which: str) -> list[SizeCase]:
    """The rows for `which` (all | text | image), their models built in `folder`."""
    size_models.build(folder)
    found = catalog.discover_checkpoints(folder)
    text = found[size_models.TEXT_MODEL]
    examples = list(catalog.examples_for(text))
    texts = [
        SizeCase("text", n, text.name, catalog.trained_similarity(text) or "",
                 size_models.text_of(n, examples))
        for n in size_models.TEXT_SIZES
    ]  # fmt: skip
    images = []
    for n in size_models.IMAGE_SHAPES:
        info = found[size_models.image_model_name(n)]
        images.append(SizeCase("image", n, info.name, catalog.trained_similarity(info) or ""))
    return {"all": texts + images, "text": texts, "image": images}[which]


def wait_for(page: Page, script: str, wanted: Any, what: str) -> None:
    deadline = time.monotonic() + SIZE_TIMEOUT_S
    while (shown := page.evaluate(script)) != wanted:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {shown!r}, expected {wanted!r}")
        page.wait_for_timeout(20)


def open_case(page: Page, url: str, case: SizeCase) -> None:
    """A fresh session of the case's page with its model and input: a text in the link when it
    fits (share.SHARED_TEXT_MAX characters), else typed into the box; N on the page checked."""
    params = {"model": case.model, **({"example": "1"} if case.kind == "image" else {})}
    if case.kind == "text" and len(case.text) <= SHARED_TEXT_MAX:
        params["text"] = case.text
    page.goto(f"{url}/{'image' if case.kind == 'image' else ''}?{urlencode(params)}")
    page.locator(".js-plotly-plot").first.wait_for(timeout=SIZE_TIMEOUT_S * 1000)
    idle(page, SIZE_TIMEOUT_S * 1000)
    if case.kind == "text" and "text" not in params:
        box = page.get_by_role("textbox", name="Your sentence")
        box.fill(case.text)
        mark = len(RECEIVED)
        box.press("Control+Enter")
        while len(RECEIVED) == mark:  # the server's answer
            page.wait_for_timeout(20)
        idle(page, SIZE_TIMEOUT_S * 1000)
    look_at(page, "attention", SIZE_TIMEOUT_S)  # its chart drawn: N read from it
    wait_for(page, ATTENTION_N, case.n, f"{case.model}: the attention heatmap's N")
    if case.n <= LIVE_MAX_TOKENS:
        wait_for(page, f"() => ({LIVE_Z})() !== null", True, f"{case.model}: live view drawn")


def measure_case(page: Page, url: str, case: SizeCase, repeats: int) -> dict[str, list[float]]:
    """Seconds per similarity change and τ step (live; settled with the live view in view and
    with the attention step in view) and KB received per change."""
    open_case(page, url, case)
    live = case.n <= LIVE_MAX_TOKENS
    names = [n for n in SIMILARITIES if n != case.similarity]
    values: dict[str, list[float]] = {"sim live": [], "τ live": []}
    for where, tag in (("attention", "step"), ("live", "live")):
        look_at(page, where, SIZE_TIMEOUT_S)
        wait = {"live_view": live, "timeout_s": SIZE_TIMEOUT_S, "chart": where == "attention"}
        sim_bytes: list[int] = []
        temp_bytes: list[int] = []
        sim = similarity_changes(page, repeats, sim_bytes, names, **wait)
        temp = temperature_steps(page, repeats, temp_bytes, **wait)
        values["sim live"] += [shown for shown, _ in sim]
        values["τ live"] += [shown for shown, _ in temp]
        values[f"sim settled·{tag}"] = [done for _, done in sim]
        values[f"τ settled·{tag}"] = [done for _, done in temp]
        values[f"KB/sim·{tag}"] = [n / 1000 for n in sim_bytes]
        values[f"KB/τ·{tag}"] = [n / 1000 for n in temp_bytes]
    return values


def size_cell(case: SizeCase, column: str, values: list[float]) -> str:
    """The median (— where the live view is not drawn), and the goal beside it where set."""
    if all(math.isnan(v) for v in values):
        return "—"
    median = statistics.median(values)
    goal = SIZE_GOALS.get((case.kind, case.n), {}).get(column)
    mark = "" if goal is None else f" (≤{goal:g} {'met' if median <= goal else 'MISSED'})"
    return f"{median:.2f}{mark}"


def print_size_row(case: SizeCase, values: dict[str, list[float]], load: float) -> None:
    cells = [size_cell(case, column, values[column]) for column in SIZE_COLUMNS]
    kb = [f"{statistics.median(values[c]):,.0f}" for c in SIZE_KB]
    print(f"{case.kind:<6}{case.n:>5}  " + "".join(f"{c:<19}" for c in cells)
          + "".join(f"{k:>12}" for k in kb) + f"{load:>7.2f}", flush=True)  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def until_quiet(proc: subprocess.Popen, limit_s: float = 90) -> float:
    """Wait until the server uses under 5% of a CPU for a second (its warm-up after the first
    page, ui.warm_up_later, is done and takes no CPU from the changes timed); seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        before = cpu_seconds(proc.pid)
        time.sleep(1)
        if cpu_seconds(proc.pid) - before < 0.05:
            break
    return time.monotonic() - start


def size_table(pw: Any, repeats: int, which: str) -> None:
    """The size table, a row printed as it is measured: one server on a folder of bench
    models, one browser page, a fresh session per row."""
    with tempfile.TemporaryDirectory() as folder:
        cases = size_cases(Path(folder), which)
        proc, url, _ = start_server(env={catalog.CHECKPOINTS_ENV: folder})
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("websocket", count_frames)
            page.goto(url)  # the first page starts the server's warm-up; wait for its end
            page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
            print(f"\nserver warm-up after its first page: {until_quiet(proc):.0f} s")
            print(
                f"size table: medians of {repeats}, seconds; live: the live view redrawn "
                f"(— past {LIVE_MAX_TOKENS} tokens, where it is not drawn); settled: the "
                "whole page idle with new numbers; KB received per change; the load average"
            )
            print(f"{'input':<6}{'N':>5}  " + "".join(f"{c:<19}" for c in SIZE_COLUMNS)
                  + "".join(f"{k:>12}" for k in SIZE_KB) + f"{'load':>7}")  # fmt: skip
            for case in cases:
                print_size_row(case, measure_case(page, url, case, repeats), os.getloadavg()[0])
            browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def app_measures(args: argparse.Namespace) -> None:
    """The home page's start-up, setting changes, page switches, Present's Next, training and
    the floor."""
    with sync_playwright() as pw:
        first, plotly = start_ups(pw, args.repeats)
    report("first chart", first)
    report("first plotly chart", plotly)
    if args.only == "startup":
        return
    proc, url, _ = start_server()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("websocket", count_frames)
            page.goto(url)
            page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
            idle(page)
            print(f"bytes received, first load of the Text page: {sum(RECEIVED):,}")
            for where in ("live", "attention"):  # see look_at
                look_at(page, where)
                sizes: list[int] = []
                pairs = similarity_changes(page, args.repeats, sizes, chart=where != "live")
                report_pairs(f"similarity@{where}", pairs)
                print(f"bytes per similarity change: {', '.join(f'{n:,}' for n in sizes)}")
                sizes.clear()
                pairs = temperature_steps(page, args.repeats, sizes, chart=where != "live")
                report_pairs(f"temperature@{where}", pairs)
                print(f"bytes per temperature step: {', '.join(f'{n:,}' for n in sizes)}")
            passes = [page_switches(page, url) for _ in range(args.repeats)]
            for slug in PAGES:
                report(f"page switch: {slug}", [one[slug] for one in passes])
            report("page switch, first visits", list(passes[0].values()))
            medians = [statistics.median(one[slug] for one in passes) for slug in PAGES]
            report("page switch", medians)  # the median of the pages' medians
            report("present next", present_next(page, url, args.repeats))
            if args.train:
                app_s, cli_s, one_s = train_in_app(page, url), train_in_cli(), train_in_cli(1)
                print(f"training digits: app {app_s:.1f} s, CLI {cli_s:.1f} s, "
                      f"ratio {app_s / cli_s:.2f} (target ≤ 1.2); CLI with 1 thread as the app "
                      f"{one_s:.1f} s, ratio {app_s / one_s:.2f}")  # fmt: skip
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with sync_playwright() as pw:
        report("floor: empty page", empty_page_floor(pw, args.repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train", action="store_true", help="also time training digits")
    parser.add_argument("--sizes", choices=["all", "text", "image", "none"], default="all",
                        help="the size table's rows: text at 16-512 tokens, images at 16-256 "
                        "patches (default all; none: no table)")  # fmt: skip
    parser.add_argument("--only", choices=["sizes", "startup"],
                        help="sizes: the size table; startup: the start-up")  # fmt: skip
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if args.only != "sizes":
        app_measures(args)
    if args.sizes != "none" and args.only != "startup":
        with sync_playwright() as pw:
            size_table(pw, args.repeats, args.sizes)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
