"""How live the app feels in a real browser: start-up, a setting change, a page switch, a slide.

Run: python bench/bench_browser.py [--repeats 3] [--train] [--only startup]
Starts `streamlit run app.py` on a free port, drives Debian's Chromium with Playwright and
prints medians (seconds) of:
- process start -> the first chart drawn on the home page (the live view's attention matrix,
  drawn in the browser, or a plotly chart, whichever comes first), and -> the first plotly
  chart (each a fresh server and browser, the browser open before the server starts,
  --repeats times; --only startup: only these);
- a similarity change in the sidebar -> the live view (ui/live_view.py, computed in the
  browser) shows the new attention matrix; and -> the server's attention heatmap shows new
  numbers and the app is idle again ("settled"); one temperature step (← on the slider) -> the
  same two;
- a switch to each page -> its first chart (or its title, for a page without charts), in
  --repeats passes over the pages (the first: first visits), and the median of the pages'
  medians;
- Present: Next -> the next slide's title and chart;
- with --train: training digits with the train page's defaults, from Start to the test
  accuracy shown, beside the CLI's time for the same settings in the same run;
- the bytes the browser receives (websocket frames) on the first load and per setting change;
- the floor: an empty page's round trip (a sidebar selectbox change -> the new value shown and
  the app idle), in a one-line app started the same way; no Streamlit rerun can be faster.
A benchmark, not a test: CI times nothing. Run it on a quiet machine; it prints the load.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]  # fmt: skip
TARGETS = {"similarity": 0.3, "temperature": 0.2, "first chart": 8.0, "page switch": 1.0,
           "present next": 0.3}  # fmt: skip
# The live view's attention matrix, as the browser computed it.
LIVE_Z = """() => {
  const root = document.querySelector('[data-testid="dal-live"]');
  return root && root.dalLive ? JSON.stringify(root.dalLive.attn) : null;
}"""
# Present last: it collapses the sidebar, whose links the switches click.
PAGES = {"image": "Your picture", "model": "The model, one formula", "train": "Train a model",
         "compare": "Compare attention", "attention": "Does attention matter?",
         "about": "About the model", "present": "1 · The input"}  # fmt: skip
# The train page's defaults for digits (ui/train_form.py), as CLI flags.
CLI_DIGITS = ["--dataset", "digits", "--patch", "2", "--hidden", "256", "--lr", "0.01",
              "--epochs", "40", "--batch-size", "32", "--activation", "gelu",
              "--similarity", "scaled_dot", "--patience", "10", "--no-baseline"]  # fmt: skip
# The numbers of the scores and attention heatmaps (a model with uniform attention changes
# only its scores when the similarity or τ changes).
ATTENTION_Z = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')].filter((p) => {
    const title = (p.layout?.title?.text || '').replace(/<[^>]*>/g, '');  // Streamlit adds <b>
    return title.startsWith('Attention a') || title.startsWith('Scores s');
  });
  return plots.length ? JSON.stringify(plots.map((p) => p.data[0].z)) : null;
}"""


# The floor's app: one sidebar selectbox and the value it holds.
EMPTY_APP = """import streamlit as st
v = st.sidebar.selectbox("Similarity", ["a", "b", "c", "d"], key="s")
st.write(f"value {v}")
"""
RECEIVED: list[int] = []  # sizes of the websocket frames the page received


def start_server(app: str = "app.py", cwd: Path = ROOT) -> tuple[subprocess.Popen, str, float]:
    """`streamlit run app` on a free port: (process, URL, monotonic start time)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", app, "--server.port", str(port),
         "--server.headless", "true", "--server.fileWatcherType", "none"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
    idle(page)


def timed(action: Callable[[], None], done: Callable[[], None]) -> float:
    start = time.monotonic()
    action()
    done()
    return time.monotonic() - start


def live_and_settled(page: Page, action: Callable[[], None]) -> tuple[float, float]:
    """Seconds from `action` until the live view shows a new matrix, and until the server's
    heatmap has new numbers with the app idle."""
    live, server = page.evaluate(LIVE_Z), page.evaluate(ATTENTION_Z)
    start = time.monotonic()
    action()
    deadline = start + 60
    while page.evaluate(LIVE_Z) in (live, None):
        if time.monotonic() > deadline:
            raise TimeoutError("the live view did not change")
        page.wait_for_timeout(5)
    shown = time.monotonic() - start
    until_changed(page, server)
    return shown, time.monotonic() - start


def similarity_changes(page: Page, repeats: int, sizes: list[int]) -> list[tuple[float, float]]:
    """(live, settled) seconds per change; the bytes each change brought go into `sizes`."""
    times = []
    for name in ["dot", "cosine", "neg_euclidean", "scaled_dot", "bilinear"][:repeats]:
        page.get_by_role("combobox", name="Similarity").click()
        option = page.get_by_role("option", name=name, exact=True)
        RECEIVED.clear()
        times.append(live_and_settled(page, option.click))
        sizes.append(sum(RECEIVED))
    return times


def temperature_steps(page: Page, repeats: int, sizes: list[int]) -> list[tuple[float, float]]:
    thumb = page.get_by_test_id("stSidebar").get_by_role("slider").first
    times = []
    for _ in range(repeats):
        thumb.focus()
        RECEIVED.clear()
        times.append(live_and_settled(page, lambda: page.keyboard.press("ArrowLeft")))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train", action="store_true", help="also time training digits")
    parser.add_argument("--only", choices=["startup"], help="run only this part")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with sync_playwright() as pw:
        first, plotly = start_ups(pw, args.repeats)
    report("first chart", first)
    report("first plotly chart", plotly)
    if args.only == "startup":
        print(f"load average after: {os.getloadavg()[0]:.2f}")
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
            sizes: list[int] = []
            report_pairs("similarity", similarity_changes(page, args.repeats, sizes))
            print(f"bytes received per similarity change: {', '.join(f'{n:,}' for n in sizes)}")
            sizes.clear()
            report_pairs("temperature", temperature_steps(page, args.repeats, sizes))
            print(f"bytes received per temperature step: {', '.join(f'{n:,}' for n in sizes)}")
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
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
