"""store: workspaces on disk, found again by token after a restart and by a second replica."""

import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch
from conftest import AppServer, wait_for_streamlit
from PIL import Image
from playwright.sync_api import expect

from dense_attention.core.config import TrainConfig
from dense_attention.data.builtin import load_dataset
from dense_attention.data.images import Example
from dense_attention.server import jobs, metrics, store, work
from dense_attention.server.jobs import JobKind
from dense_attention.storage import checkpoint
from dense_attention.ui import browser, state

TOKEN, OTHER, THIRD = "0123456789abcdef" * 2, "f" * 32, "a" * 32


@pytest.fixture(scope="module")
def trained() -> metrics.TrainedModel:
    request = work.TrainRequest(
        work.DataChoice("digits", limit=200), {"hidden_dim": 16}, TrainConfig(epochs=2), False
    )
    job = jobs.train_job(request)
    job.join(120)
    assert job.state == jobs.DONE, job.error
    return job.result


@pytest.fixture(scope="module")
def test_split():
    return load_dataset("digits", limit=200).test


def logits(model, split) -> torch.Tensor:
    with torch.no_grad():
        return model(*model.tensors(split).inputs)


def add_run(spaces: store.Workspaces, token: str, run: metrics.TrainedModel, name: str) -> None:
    """What the app's _register does: the run joins the workspace, then goes to disk."""
    space = spaces.get(token)
    space.models[name], space.results[name] = run.model, run
    space.metadata[name] = run.training_metadata()
    assert spaces.save(space, name)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_the_data_folder_comes_from_the_environment_or_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("DAL_DATA_DIR", str(tmp_path / "data"))
    assert store.data_dir() == tmp_path / "data"
    monkeypatch.delenv("DAL_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert store.data_dir() == tmp_path / "cache" / "dense-attention-lab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert store.data_dir() == Path.home() / ".cache" / "dense-attention-lab"


def test_the_tests_never_write_to_the_users_cache():
    assert store.data_dir() != Path.home() / ".cache" / "dense-attention-lab"
    assert "dal-test-data-" in str(store.data_dir())


@pytest.mark.parametrize(
    "token",
    ["../x", "..", "/etc/passwd", "/" + "a" * 31, "A" * 32, "0123456789ABCDEF" * 2, "a" * 31,
     "a" * 33, "a" * 32 + "\n", "a" * 31 + "/", "g" * 32, "", None, 12345],
)  # fmt: skip
def test_a_token_that_is_not_32_lowercase_hex_digits_is_refused(tmp_path, token):
    spaces = store.Workspaces(tmp_path)
    with pytest.raises(ValueError, match="32 lowercase hex"):
        store.check_token(token)
    with pytest.raises(ValueError):
        spaces.get(token)
    with pytest.raises(ValueError):
        spaces.folder(token)
    assert files_under(spaces.spaces_dir) == []
    assert len(spaces) == 0


def test_an_atomic_write_that_raises_leaves_the_old_file_and_no_partial_one(tmp_path, monkeypatch):
    path = tmp_path / "index.json"
    store.write_atomic(path, b"old")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.write_atomic(path, b"new and longer")
    assert path.read_bytes() == b"old" and files_under(tmp_path) == ["index.json"]


def test_a_model_folder_that_fails_half_written_leaves_nothing(tmp_path, trained, monkeypatch):
    folder = tmp_path / "models" / "digits-1"
    store.save_model_folder(folder, trained.model, {"dataset": "digits"}, trained.to_json())
    before = {name: (folder / name).read_bytes() for name in os.listdir(folder)}
    assert sorted(before) == ["config.json", "metrics.json", "model.safetensors"]

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "_held_out_json", broken)  # after the weights and metrics
    held_out = [Example(Image.new("L", (8, 8)), "0")]
    with pytest.raises(OSError, match="disk full"):
        store.save_model_folder(folder, trained.model, {}, trained.to_json(), held_out)
    with pytest.raises(OSError, match="disk full"):
        store.save_model_folder(tmp_path / "models" / "new", trained.model, {}, None, held_out)
    expected = ["digits-1", *(f"digits-1/{name}" for name in sorted(before))]
    assert files_under(tmp_path / "models") == expected
    assert {name: (folder / name).read_bytes() for name in before} == before


def test_a_restarted_server_finds_the_model_its_run_and_metadata(tmp_path, trained, test_split):
    first = store.Workspaces(tmp_path)
    add_run(first, TOKEN, trained, "digits #1")
    first.lease.release()  # the process dies

    second = store.Workspaces(tmp_path)  # a new process on the same folder
    space = second.get(TOKEN)
    model, run = space.models["digits #1"], space.results["digits #1"]
    assert model is not trained.model
    assert torch.equal(logits(model, test_split), logits(trained.model, test_split))
    assert run.test_accuracy == pytest.approx(trained.test_accuracy, abs=1e-4)
    assert run.history == trained.history and run.train_config == trained.train_config
    assert run.run_summary() == trained.run_summary()
    assert run.snapshots == []  # the replay is not kept on disk
    assert space.metadata["digits #1"] == trained.training_metadata()
    assert second.get(OTHER).models == {}  # another token sees nothing of it
    folder = tmp_path / "workspaces" / TOKEN
    index = json.loads((folder / "index.json").read_text())
    assert index["models"]["digits #1"]["folder"] == "digits-1"
    assert sorted(os.listdir(folder / "models" / "digits-1")) == [
        "config.json", "metrics.json", "model.safetensors"
    ]  # fmt: skip
    assert not [p for p in folder.rglob("*") if p.name.endswith((".tmp", ".old"))]


def test_a_model_saved_again_replaces_its_folder_and_like_names_get_their_own(tmp_path, trained):
    spaces = store.Workspaces(tmp_path)
    add_run(spaces, TOKEN, trained, "digits #1")
    assert spaces.save(spaces.get(TOKEN), "digits #1")  # again, e.g. with its baseline
    add_run(spaces, TOKEN, trained, "digits-1")  # the same file-system name
    index = json.loads((spaces.folder(TOKEN) / "index.json").read_text())
    assert {n: e["folder"] for n, e in index["models"].items()} == {
        "digits #1": "digits-1", "digits-1": "digits-1-2"
    }  # fmt: skip
    assert sorted(os.listdir(spaces.folder(TOKEN) / "models")) == ["digits-1", "digits-1-2"]


def test_a_run_that_ends_with_no_page_open_is_kept_on_disk(tmp_path):
    """The app's watch(): a run finishing while its browser is away still reaches the disk,
    so a server restarted before the browser comes back still has it."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at = at.switch_page("views/train.py").run()
    at.number_input(key="train_limit_digits").set_value(200)
    at.slider(key="train_epochs_digits").set_value(1)
    at = at.run().button(key="train_start").click().run()
    assert not at.exception
    token = at.session_state[state.WORKSPACE]
    job = browser.workspaces().get(token).jobs[JobKind.TRAIN]
    job.join(120)  # no rerun of the page from here on
    assert job.state == jobs.DONE, job.error
    deadline = time.monotonic() + 30
    index = browser.workspaces().folder(token) / "index.json"
    while not (index.is_file() and json.loads(index.read_text())["models"]):
        assert time.monotonic() < deadline, "the finished run never reached the disk"
        time.sleep(0.2)
    on_disk = json.loads(index.read_text())
    assert list(on_disk["models"]) == ["digits #1"] and on_disk["jobs"] == {}
    metrics = json.loads((index.parent / "models" / "digits-1" / "metrics.json").read_text())
    assert metrics["baseline_accuracy"] is not None  # saved after the baseline was measured
    restarted = store.Workspaces(store.data_dir()).get(token)
    assert list(restarted.models) == ["digits #1"] and restarted.interrupted == {}


def test_held_out_pictures_of_an_upload_come_back(tmp_path, trained):
    first = store.Workspaces(tmp_path)
    space = first.get(TOKEN)
    pictures = [Example(Image.new("RGB", (12, 10), (k * 40, 0, 0)), f"class {k}") for k in (1, 2)]
    space.models["mine"] = trained.model
    space.metadata["mine"] = {"dataset": "mine.zip", "held_out": pictures}
    assert first.save(space, "mine")
    again = store.Workspaces(tmp_path).get(TOKEN)
    back = again.metadata["mine"]["held_out"]
    assert [e.label for e in back] == ["class 1", "class 2"]
    assert [e.image.tobytes() for e in back] == [e.image.tobytes() for e in pictures]
    assert "mine" not in again.results  # an upload has no run


def test_two_replicas_on_one_folder_see_each_others_models(tmp_path, trained):
    a, b = store.Workspaces(tmp_path), store.Workspaces(tmp_path)
    assert a.get(TOKEN).models == {} and b.get(TOKEN).models == {}
    add_run(b, TOKEN, trained, "from b")
    assert list(a.get(TOKEN).models) == ["from b"]  # a re-reads the changed index
    add_run(a, TOKEN, trained, "from a")
    assert sorted(b.get(TOKEN).models) == ["from a", "from b"]  # merged, not overwritten
    assert sorted(a.get(TOKEN).models) == ["from a", "from b"]


def test_a_job_running_when_its_server_died_is_shown_as_interrupted(tmp_path):
    first, replica = store.Workspaces(tmp_path), store.Workspaces(tmp_path)
    space = first.get(TOKEN)
    train = JobKind.TRAIN
    space.jobs[train] = jobs.Job(train, "Train on digits", lambda job: None)  # not started
    first.record_jobs(space)
    assert replica.get(TOKEN).interrupted == {}  # its server lives: it still runs there
    first.lease.release()  # the server dies
    restarted = store.Workspaces(tmp_path)
    again = restarted.get(TOKEN)
    assert again.interrupted == {
        JobKind.TRAIN: "Train on digits: interrupted: the server stopped while it ran"
    }
    assert JobKind.TRAIN not in again.jobs and type(next(iter(again.interrupted))) is JobKind
    # A new run in that slot replaces the message, on disk too.
    again.jobs[JobKind.TRAIN] = jobs.Job(JobKind.TRAIN, "Train on digits", lambda job: None)
    restarted.record_jobs(again)
    assert again.interrupted == {}
    index = json.loads((tmp_path / "workspaces" / TOKEN / "index.json").read_text())
    assert index["jobs"]["train"]["server"] == restarted.lease.id
    assert index["jobs"]["train"]["kind"] == "train"  # JobKind's value, as before


def test_an_index_written_before_job_kinds_reads_and_an_unknown_slot_is_left_alone(tmp_path):
    folder = tmp_path / "workspaces" / TOKEN
    folder.mkdir(parents=True)
    dead = "0" * 16  # a server id whose lease nobody holds
    record = {"title": "Tune on digits", "kind": "tune", "state": "running", "server": dead}
    unknown = {"title": "Fit", "kind": "fit", "state": "running", "server": dead}
    index = {"version": 1, "models": {}, "jobs": {"tune": record, "fit": unknown}}
    (folder / "index.json").write_text(json.dumps(index))
    spaces = store.Workspaces(tmp_path)
    space = spaces.get(TOKEN)
    assert space.interrupted == {JobKind.TUNE: f"Tune on digits: {store.INTERRUPTED}"}
    space.jobs[JobKind.TRAIN] = jobs.Job(JobKind.TRAIN, "Train", lambda job: None)  # not started
    spaces.record_jobs(space)
    on_disk = json.loads((folder / "index.json").read_text())["jobs"]
    assert on_disk["train"]["kind"] == "train" and on_disk["fit"]["title"] == "Fit"


def until_stopped(request, reporter) -> None:
    """A job's work (in a worker process) that runs until Stop."""
    while not reporter.should_stop():
        time.sleep(0.01)


def test_a_finished_job_leaves_no_record(tmp_path):
    spaces = store.Workspaces(tmp_path)
    space = spaces.get(TOKEN)
    job = space.jobs[JobKind.SWEEP] = jobs.Job(JobKind.SWEEP, "Sweep", until_stopped).start()
    spaces.record_jobs(space)
    index = json.loads((tmp_path / "workspaces" / TOKEN / "index.json").read_text())
    assert index["jobs"]["sweep"]["state"] == "running"
    job.stop()
    job.join(60)
    spaces.record_jobs(space)
    index = json.loads((tmp_path / "workspaces" / TOKEN / "index.json").read_text())
    assert job.finished and index["jobs"] == {}
    spaces.lease.release()
    assert store.Workspaces(tmp_path).get(TOKEN).interrupted == {}


def age(spaces: store.Workspaces, token: str, seconds: float) -> None:
    """Make workspace `token` look last used `seconds` ago."""
    when = time.time() - seconds
    for name in ("touched", "index.json"):
        os.utime(spaces.folder(token) / name, (when, when))


def test_workspaces_unused_past_the_ttl_are_deleted_from_disk(tmp_path, trained):
    spaces = store.Workspaces(tmp_path, ttl=3600)
    for token in (TOKEN, OTHER):
        add_run(spaces, token, trained, "m")
    age(spaces, TOKEN, 3700)
    age(spaces, OTHER, 1800)
    assert spaces.sweep() == [TOKEN]
    assert not spaces.folder(TOKEN).exists() and spaces.folder(OTHER).is_dir()
    assert store.Workspaces(tmp_path).get(TOKEN).models == {}
    # The server that still had it in memory forgets its models too: disk decides.
    assert spaces.get(TOKEN).models == {}


def test_the_size_cap_deletes_the_least_recently_used_and_never_a_busy_one(tmp_path, trained):
    spaces = store.Workspaces(tmp_path)
    for k, token in enumerate((TOKEN, OTHER, THIRD)):
        add_run(spaces, token, trained, "m")
        age(spaces, token, 100 - k)  # TOKEN least recently used, THIRD most
    one = spaces.disk_bytes() // 3
    assert one > 10_000  # a model folder: weights, config, metrics
    busy = spaces.get(TOKEN)
    busy.jobs[JobKind.TRAIN] = jobs.Job(JobKind.TRAIN, "Train", lambda job: None)  # not finished
    spaces.max_disk_bytes = 2 * one + one // 2
    assert spaces.sweep(keep=THIRD) == [OTHER]  # TOKEN is busy, THIRD is in use
    assert spaces.disk_bytes() <= spaces.max_disk_bytes
    spaces.max_disk_bytes, spaces.limit = 10 * one, 1
    busy.jobs.clear()
    assert spaces.sweep(keep=THIRD) == [TOKEN]  # the workspace limit, on disk too
    assert [p.name for p in spaces.spaces_dir.iterdir()] == [THIRD]


def test_a_workspace_pushed_out_of_memory_comes_back_from_disk(tmp_path, trained, test_split):
    spaces = store.Workspaces(tmp_path, max_model_bytes=1)  # memory holds one with models
    add_run(spaces, TOKEN, trained, "m")
    add_run(spaces, OTHER, trained, "m")  # pushes TOKEN out of memory, not off the disk
    assert len(spaces) == 1 and spaces.folder(TOKEN).is_dir()
    back = spaces.get(TOKEN).models["m"]
    assert back is not trained.model
    assert torch.equal(logits(back, test_split), logits(trained.model, test_split))


def test_a_bad_index_costs_nothing_but_a_warning(tmp_path, trained, caplog):
    spaces = store.Workspaces(tmp_path)
    add_run(spaces, TOKEN, trained, "m")
    (spaces.folder(TOKEN) / "index.json").write_text("{not json")
    again = store.Workspaces(tmp_path).get(TOKEN)
    assert again.models == {} and "index not read" in caplog.text
    assert checkpoint.load(spaces.folder(TOKEN) / "models" / "m") is not None
    # A model folder in an index is never a path out of the workspace.
    outside = tmp_path / "outside"
    store.save_model_folder(outside, trained.model, {})
    bad = {"version": 1, "models": {"x": {"folder": "../../../outside", "run": False}}, "jobs": {}}
    (spaces.folder(TOKEN) / "index.json").write_text(json.dumps(bad))
    assert store.Workspaces(tmp_path).get(TOKEN).models == {}
    assert "bad model folder" in caplog.text


def test_an_unusable_data_folder_falls_back_to_a_temporary_one(tmp_path, trained, caplog):
    (tmp_path / "file").write_text("not a folder")
    spaces = store.Workspaces(tmp_path / "file" / "data")
    assert "data folder not usable" in caplog.text and spaces.root.is_dir()
    add_run(spaces, TOKEN, trained, "m")
    assert store.Workspaces(spaces.root).get(TOKEN).models.keys() == {"m"}
    shutil.rmtree(spaces.root)


# --------------------------------------------------------------------------- restart in Chromium

ROOT = Path(__file__).resolve().parent.parent
MINE = "digits #1 (this session)"
CHARTS_DATA = """() => [...document.querySelectorAll('.js-plotly-plot')].map(
    gd => JSON.stringify(gd.data.map(t => [t.x, t.y, t.z])))"""


def picker(page):
    return page.get_by_test_id("stSidebar").get_by_role("combobox", name="Model")


def image_page_charts(page, url: str) -> list[str]:
    """Every number the Image page draws for the picked model (this browser's own model)."""
    page.goto(f"{url}/image?charts=all")  # every chart drawn at once (ui.lazy)
    wait_for_streamlit(page)
    expect(picker(page)).to_have_value(MINE, timeout=60_000)
    expect(page.get_by_text("Prediction:")).to_be_visible()
    charts = page.evaluate(CHARTS_DATA)
    assert len(charts) > 5 and any(re.search(r"\d\.\d{6}", c) for c in charts)
    return charts


def train(page, url: str, epochs_down: int) -> None:
    """Start a run on 300 digits; the Epochs slider (40) moved `epochs_down` steps down."""
    page.goto(f"{url}/train")
    wait_for_streamlit(page)
    limit = page.get_by_role("spinbutton", name="Examples to use")
    limit.fill("300")
    limit.press("Enter")
    wait_for_streamlit(page)
    if epochs_down:
        page.get_by_role("slider", name="Epochs").focus()
        for _ in range(epochs_down):
            page.keyboard.press("ArrowLeft")
        wait_for_streamlit(page)
    page.get_by_role("button", name="Start training").click()


def running_on_disk(data: Path, timeout: float = 60) -> None:
    """Wait until a workspace's index records a running training job (written as it starts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for index in (data / "workspaces").glob("*/index.json"):
            jobs_now = json.loads(index.read_text()).get("jobs", {})
            if jobs_now.get("train", {}).get("state") == "running":
                return
        time.sleep(0.05)
    raise AssertionError(f"no running training job recorded under {data} in {timeout} s")


@pytest.mark.browser
def test_browser_a_restarted_server_keeps_the_model_and_tells_of_the_interrupted_run(
    browser, tmp_path, screenshot_dir
) -> None:
    """Train in Chromium, stop the server (SIGTERM, then SIGKILL), start it again on the same
    data folder: the reloaded page has the model, drawing the very same numbers; a run that
    was going when the server died says so; another browser sees nothing of it."""
    server = AppServer(tmp_path / "data", tmp_path / "server.log")
    server.start()
    try:
        page = browser.new_context().new_page()
        train(page, server.url, epochs_down=38)  # 2 epochs
        expect(page.get_by_text("Test accuracy")).to_be_visible(timeout=120_000)
        before = image_page_charts(page, server.url)

        server.stop(signal.SIGTERM)
        server.start()
        assert image_page_charts(page, server.url) == before

        train(page, server.url, epochs_down=0)  # 40 epochs: still running when killed
        running_on_disk(tmp_path / "data")  # kill it mid-run (the page redraws every few seconds)
        server.stop(signal.SIGKILL)
        server.start()
        page.goto(f"{server.url}/train")
        wait_for_streamlit(page)
        message = "Train on digits: interrupted: the server stopped while it ran"
        expect(page.get_by_text(message)).to_be_visible()
        page.get_by_text(message).scroll_into_view_if_needed()
        page.screenshot(path=screenshot_dir / "train-interrupted.png", full_page=True)
        assert image_page_charts(page, server.url) == before

        other = browser.new_context().new_page()
        other.goto(f"{server.url}/image")
        wait_for_streamlit(other)
        picker(other).click()
        options = [o.inner_text() for o in other.get_by_role("option").all()]
        assert options and not [o for o in options if "(this session)" in o]
        other.keyboard.press("Escape")
        other.goto(f"{server.url}/train")
        wait_for_streamlit(other)
        expect(other.get_by_text(message)).to_have_count(0)
    finally:
        server.stop(signal.SIGKILL)
    spaces = list((tmp_path / "data" / "workspaces").iterdir())
    assert len(spaces) == 1  # one browser trained: one workspace on disk
    assert (spaces[0] / "models" / "digits-1" / "model.safetensors").is_file()


def test_a_damaged_model_is_named_with_its_reason_kept_until_removed(tmp_path, trained, caplog):
    spaces = store.Workspaces(tmp_path)
    add_run(spaces, TOKEN, trained, "good")
    add_run(spaces, TOKEN, trained, "cut")
    add_run(spaces, TOKEN, trained, "bad config")
    models = spaces.folder(TOKEN) / "models"
    weights = models / "cut" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    folders = json.loads((spaces.folder(TOKEN) / "index.json").read_text())["models"]
    bad = models / folders["bad config"]["folder"]
    (bad / "config.json").write_text("{broken")
    again = store.Workspaces(tmp_path)
    space = again.get(TOKEN)
    assert list(space.models) == ["good"]
    assert sorted(space.unreadable) == ["bad config", "cut"]
    assert all(reason for reason in space.unreadable.values())
    assert weights.is_file() and bad.is_dir()  # never deleted unasked
    logged = caplog.text.count("not loaded")
    again.get(TOKEN)
    assert caplog.text.count("not loaded") == logged  # said once, not on every run
    again.remove_unreadable(space, "cut")
    assert not (models / "cut").exists() and bad.is_dir()
    fresh = store.Workspaces(tmp_path).get(TOKEN)
    assert list(fresh.models) == ["good"] and list(fresh.unreadable) == ["bad config"]


def test_a_broken_index_is_named_and_can_be_set_aside(tmp_path, trained):
    spaces = store.Workspaces(tmp_path)
    add_run(spaces, TOKEN, trained, "m")
    (spaces.folder(TOKEN) / "index.json").write_text("{not json")
    again = store.Workspaces(tmp_path)
    space = again.get(TOKEN)
    assert list(space.unreadable) == [store.INDEX_FILE] and space.models == {}
    again.remove_unreadable(space, store.INDEX_FILE)
    kept = list(spaces.folder(TOKEN).glob("index.broken-*.json"))
    assert len(kept) == 1 and kept[0].read_text() == "{not json"
    assert space.unreadable == {}
    add_run(again, TOKEN, trained, "new")  # the workspace saves models again
    assert list(store.Workspaces(tmp_path).get(TOKEN).models) == ["new"]


def test_a_job_of_a_server_killed_after_it_was_seen_running_becomes_interrupted(tmp_path):
    survivor, doomed = store.Workspaces(tmp_path), store.Workspaces(tmp_path)
    space = doomed.get(TOKEN)
    space.jobs[JobKind.TRAIN] = jobs.Job(JobKind.TRAIN, "Train on digits", lambda job: None)
    doomed.record_jobs(space)  # running there (not started: it never ends)
    assert survivor.get(TOKEN).interrupted == {}  # it runs on the other server
    doomed.lease.release()  # SIGKILL: the index is not touched again
    seen = survivor.get(TOKEN)
    assert seen.interrupted == {
        "train": "Train on digits: interrupted: the server stopped while it ran"
    }
    survivor.record_jobs(seen)
    survivor.get(TOKEN)  # any later write keeps the job interrupted on disk
    seen.jobs[JobKind.SWEEP] = jobs.Job(JobKind.SWEEP, "Sweep", lambda job: None)
    survivor.record_jobs(seen)
    index = json.loads((tmp_path / "workspaces" / TOKEN / "index.json").read_text())
    assert index["jobs"]["train"]["state"] == "interrupted"


def test_only_a_token_the_server_has_seen_is_known(tmp_path, trained):
    spaces = store.Workspaces(tmp_path)
    assert not spaces.known(TOKEN)
    add_run(spaces, TOKEN, trained, "m")
    assert spaces.known(TOKEN) and store.Workspaces(tmp_path).known(TOKEN)
    assert not store.Workspaces(tmp_path).known(OTHER)
