"""The tracker-style example plugin (examples/hashbench-example-tracker), installed for real and
run through the CLI: its JSON lines match the store, on the local and the process executor."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from hashbench.store import ResultStore
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hashbench-example-tracker"
LOG_ENV = "HASHBENCH_EXAMPLE_TRACKER_LOG"
# lsh (no epochs) and djsrh (a deep method) cut to 2 short epochs on a small dataset
SWEEP = (
    "run", "--dataset", "synth-mirflickr", "--bits", "16", "--scale", "0.05", "--budget", "quick",
    "--param", "djsrh.epochs=2", "--param", "djsrh.min_iterations=0",
    "--param", "djsrh.text_hidden=64",
)  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example installed into a private folder that only the subprocesses see."""
    work = tmp_path_factory.mktemp("tracker")
    shutil.copytree(EXAMPLE, work / "src")
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(work / "src")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return target


def _hashbench(site: Path, log: Path, *args: str) -> subprocess.CompletedProcess:
    env = subprocess_env(PYTHONPATH=str(site), **{LOG_ENV: str(log)})
    return subprocess.run(
        [sys.executable, "-m", "hashbench", *args],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def _numbers(values: dict) -> dict:
    return {k: v for k, v in values.items() if isinstance(v, int | float) and v is not True}


@pytest.mark.slow
def test_the_log_holds_every_event_with_the_stored_scores(site, tmp_path):
    store, log = tmp_path / "s.sqlite", tmp_path / "events.jsonl"
    run = _hashbench(site, log, *SWEEP, "--methods", "lsh,djsrh", "--store", str(store))
    assert run.returncode == 0, run.stderr
    events = _events(log)
    starts = {e["method"]: e for e in events if e["event"] == "run_start"}
    assert set(starts) == {"lsh", "djsrh"}
    ids = {method: start["run_id"] for method, start in starts.items()}
    assert starts["djsrh"]["params"]["epochs"] == 2
    epochs = [e for e in events if e["event"] == "epoch_end"]
    assert [(e["run_id"], e["epoch"], e["epochs"]) for e in epochs] == [
        (ids["djsrh"], 0, 2),
        (ids["djsrh"], 1, 2),
    ]
    assert all(isinstance(e["losses"]["loss"], float) for e in epochs)
    finishes = {e["run_id"]: e for e in events if e["event"] == "run_finish"}
    assert set(finishes) == set(ids.values())
    with ResultStore(store) as results:
        for run_id, finish in finishes.items():
            record = results.get(run_id)
            stored = {task: _numbers(v) for task, v in record.task_metrics().items()}
            assert finish["scores"] == stored and stored["i2t"]["map@50"] > 0
            assert finish["codes_sha256"] == record.codes_digest["sha256"]
            assert finish["store"] == str(store)
    (sweep,) = [e for e in events if e["event"] == "sweep_finish"]
    assert sorted(sweep["executed"]) == sorted(ids.values())
    assert sweep["skipped"] == sweep["failed"] == sweep["elsewhere"] == []
    assert events[-1] == sweep  # the last event of the sweep

    log.unlink()  # the same sweep again: both are in the store, nothing starts
    again = _hashbench(site, log, *SWEEP, "--methods", "lsh,djsrh", "--store", str(store))
    assert again.returncode == 0, again.stderr
    (sweep,) = _events(log)
    assert sweep["event"] == "sweep_finish" and sweep["executed"] == []
    assert sorted(sweep["skipped"]) == sorted(ids.values())


@pytest.mark.slow
def test_epoch_events_arrive_from_worker_processes(site, tmp_path):
    store, log = tmp_path / "s.sqlite", tmp_path / "events.jsonl"
    args = ("--methods", "djsrh", "--store", str(store), "--executor", "process", "--workers", "1")
    run = _hashbench(site, log, *SWEEP, *args)
    assert run.returncode == 0, run.stderr
    events = _events(log)
    assert [e["event"] for e in events] == [
        "run_start", "epoch_end", "epoch_end", "run_finish", "sweep_finish",
    ]  # fmt: skip
    scheduler = events[0]["pid"]
    assert events[1]["pid"] == events[2]["pid"] != scheduler  # the worker trained the run
    assert events[3]["pid"] == events[4]["pid"] == scheduler  # the scheduler stored it
    assert events[1]["run_id"] == events[0]["run_id"] == events[3]["run_id"]


@pytest.mark.slow
def test_a_raising_plugin_is_warned_about_once_per_hook_and_never_fails_a_run(site, tmp_path):
    """The log path is a folder: every hook raises, in the scheduler and in the worker."""
    store = tmp_path / "s.sqlite"
    args = ("--methods", "djsrh", "--bits", "16,32", "--store", str(store))
    run = _hashbench(site, tmp_path, *SWEEP, *args, "--executor", "process", "--workers", "1")
    assert run.returncode == 0, run.stderr
    assert "2 run(s) executed" in run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning: plugin")]
    hooks = ["run_start", "epoch_end", "run_finish", "sweep_finish"]
    assert sorted(w.split(" raised in hashbench_")[1].split(":")[0] for w in warnings) == sorted(
        hooks
    )  # once each, though each raised for both runs (the epoch hook 4 times, in the worker)
    assert all("example-tracker" in w and "IsADirectoryError" in w for w in warnings)
    with ResultStore(store) as results:
        assert len(results.records()) == 2


def test_without_the_variable_the_plugin_does_nothing(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "tracker_under_test", EXAMPLE / "hashbench_example_tracker" / "__init__.py"
    )
    tracker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tracker)
    run = SimpleNamespace(run_id="r1", method="m")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(LOG_ENV, raising=False)
    tracker.hashbench_run_fail(run=run, message="x")
    tracker.hashbench_epoch_end(run=run, epoch=0, epochs=2, losses={})
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv(LOG_ENV, str(tmp_path / "log.jsonl"))
    tracker.hashbench_run_fail(run=run, message="x")
    (line,) = (tmp_path / "log.jsonl").read_text().splitlines()
    assert json.loads(line)["event"] == "run_fail" and json.loads(line)["message"] == "x"


def test_docs_show_the_example_verbatim():
    docs = (ROOT / "docs" / "plugins.md").read_text()
    for path in (EXAMPLE / "pyproject.toml", EXAMPLE / "hashbench_example_tracker" / "__init__.py"):
        assert path.read_text().strip() in docs, f"docs/plugins.md is out of date with {path.name}"
