"""Shared fixtures: the app served by a real Streamlit server, driven by Debian's Chromium."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pagetest import open_page
from playwright.sync_api import Page, expect
from streamlit import config as streamlit_config
from streamlit.testing.v1 import AppTest

from dense_attention.core.toy import toy_example
from dense_attention.storage import catalog, checkpoint
from dense_attention.training.train import pick_device
from dense_attention.ui import live_view

# Nothing may reach a model hub, in the tests or in the app server they start.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Workspaces the tests (and the app servers they start) keep on disk go to a temporary folder,
# never to the user's cache; removed when the tests end.
os.environ["DAL_DATA_DIR"] = tempfile.mkdtemp(prefix="dal-test-data-")
atexit.register(shutil.rmtree, os.environ["DAL_DATA_DIR"], ignore_errors=True)

# AppTest runs in this process and reads .streamlit/config.toml, whose "type" redacts exception
# messages and drops tracebacks: give the tests the full details. (The app server that the browser
# tests start is a separate process and keeps what users get.)
streamlit_config.set_option("client.showErrorDetails", "full")
# AppTest draws no browser: the live view's first-paint pause (ui/live_view.py) would only make
# each AppTest session 0.8 s slower. The browser tests' servers keep it.
live_view.FIRST_PAINT_PAUSE_S = 0.0

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_TIMEOUT_S = 60
APP_RUN_TIMEOUT_MS = 60_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve app.py with `streamlit run` on a free port; yield its URL, e.g. http://127.0.0.1:PORT."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    # A file, not a pipe: a server that logs a lot must never block on a full pipe.
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not _health_ok(f"{url}/_stcore/health"):
        if proc.poll() is not None or time.monotonic() > deadline:
            exited = proc.poll() is not None
            _stop(proc)
            reason = (
                f"exited with code {proc.returncode}"
                if exited
                else f"did not answer /_stcore/health within {SERVER_START_TIMEOUT_S} s"
            )
            pytest.fail(
                f"Streamlit server {reason}.\nCommand: {' '.join(command)}\n"
                f"Server output:\n{log_path.read_text(errors='replace')}",
                pytrace=False,
            )
        time.sleep(0.25)
    yield url
    _stop(proc)


class AppServer:
    """`streamlit run app.py` on a fixed free port with DAL_DATA_DIR set: stopped by a signal,
    then started again on the same port and data folder, as a restarted deploy would be."""

    def __init__(self, data: Path, log: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url, self.log = f"http://127.0.0.1:{self.port}", log
        self.env = {**os.environ, "DAL_DATA_DIR": str(data)}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
            "--server.address", "127.0.0.1", "--server.headless", "true",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self._healthy():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                return response.read().strip() == b"ok"
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch arguments, pointed at Debian's Chromium (never a download)."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} not found: browser tests need Debian's Chromium. "
            "Install it with `apt-get install -y chromium` (never `playwright install`).",
            pytrace=False,
        )
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Folder for screenshots the browser tests save: test-output/screenshots (git-ignored)."""
    path = REPO_ROOT / "test-output" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def wait_for_streamlit(page: Page, timeout_ms: int = APP_RUN_TIMEOUT_MS) -> None:
    """Block until the Streamlit app in `page` is connected, finished running and fully drawn.

    The signals are the ones Streamlit's own end-to-end suite waits on (checked in the 1.67
    frontend bundle): attributes on the `stApp` root, and no element skeletons left.
    """
    # A click's rerun reaches the frontend a moment later: do not read the old "notRunning".
    page.wait_for_timeout(200)
    app = '[data-testid="stApp"]'
    page.locator(f'{app}[data-test-connection-state="CONNECTED"]').wait_for(
        state="attached", timeout=timeout_ms
    )
    page.locator(f'{app}[data-test-script-state="notRunning"]').wait_for(
        state="attached", timeout=timeout_ms
    )
    expect(page.get_by_test_id("stStatusWidgetRunningIcon")).to_have_count(0, timeout=timeout_ms)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout_ms)
    # On the Text and Image pages the viewport element (ui/lazy.py) reports which charts are
    # near the screen shortly after a run; its report reruns the page: wait for that run too.
    reported = page.evaluate("() => window.__dalViewportIdle")
    if reported is not None:
        page.wait_for_function("() => window.__dalViewportIdle !== false", timeout=timeout_ms)
        page.wait_for_timeout(200)
        page.locator(f'{app}[data-test-script-state="notRunning"]').wait_for(
            state="attached", timeout=timeout_ms
        )


@pytest.fixture
def wait_for_app() -> Callable[..., None]:
    """The helper `wait_for_app(page, timeout_ms=60_000)`: waits until the app finished running."""
    return wait_for_streamlit


@pytest.fixture
def app_page(page: Page, app_url: str) -> Page:
    """A Playwright page opened on the app's home page, after its first run finished."""
    page.goto(app_url)
    wait_for_streamlit(page)
    return page


# --------------------------------------------------------------------------- AppTest page fixtures


@pytest.fixture(scope="module")
def text_model():
    """The first text checkpoint, loaded as the app loads it: the page's default model."""
    found = [
        c
        for c in catalog.discover_checkpoints(catalog.checkpoint_root()).values()
        if c.kind == "text"
    ]
    if not found:
        pytest.fail(
            f"no text checkpoint under {catalog.checkpoint_root()}: train one, e.g. `python -m "
            "dense_attention train --dataset bbc-topics --out assets/checkpoints/bbc-topics`",
            pytrace=False,
        )
    return checkpoint.load(found[0].path, device=pick_device())


@pytest.fixture
def text_page() -> AppTest:
    return open_page()


@pytest.fixture
def model_page() -> AppTest:
    return open_page("views/model.py")


@pytest.fixture(scope="module")
def toy():
    """The Model page's toy example (tiny fixed model and sentence)."""
    return toy_example()


@pytest.fixture(scope="module")
def found() -> dict[str, catalog.CheckpointInfo]:
    """Every shipped checkpoint by name; fails (never skips) without a text one."""
    infos = catalog.discover_checkpoints(catalog.checkpoint_root())
    if not any(c.kind == "text" for c in infos.values()):
        pytest.fail(f"no text checkpoint under {catalog.checkpoint_root()}", pytrace=False)
    return infos


def open_train_upload(page: Page, app_url: str) -> None:
    """The Train page with "Upload your own" data picked, its uploader shown."""
    page.goto(f"{app_url}/train")
    wait_for_streamlit(page)
    page.get_by_role("combobox", name="Data").click()
    page.get_by_role("option", name="Upload your own").click()
    wait_for_streamlit(page)
    expect(page.get_by_text("Upload a CSV or a ZIP to train on your own data")).to_be_visible()
