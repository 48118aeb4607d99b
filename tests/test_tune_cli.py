"""`hashbench tune` end to end through the CLI: studies, tuned and default rows, --show,
status, run --tuned, bad input, SIGKILL and resume, two processes on one store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hashbench.cli.app
from hashbench.plugins import create_plugin_manager
from hashbench.store import ResultStore
from tests.conftest import subprocess_env
from tests.tuning_toys import ToyEpochs, ToyFails, plugin_module

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = ("--dataset", "synth-mirflickr", "--bits", "16", "--scale", "0.05", "--budget", "quick")


def _with(monkeypatch, *methods):
    module = plugin_module(*methods)

    def patched(block=()):
        pm = create_plugin_manager(block)
        pm.register(module, name="tuning-toys")
        return pm

    monkeypatch.setattr(hashbench.cli.app, "create_plugin_manager", patched)


def test_tune_show_status_table_and_run_tuned(cli, tmp_path):
    store = str(tmp_path / "hb.sqlite")
    result = cli("tune", "--methods", "cca-itq,lsh", *SMALL, "--trials", "3", "--store", store)
    assert result.exit_code == 0, result.output
    assert "lsh declares no tunable parameters" in result.output
    assert "cca-itq / synth-mirflickr@0.05 / 16 bits / seed 0: trial 2 complete" in result.output
    with ResultStore(store) as results:
        protocols = sorted((r.method, r.protocol) for r in results.records())
        study = results.records(protocol="tuned")[0].tuning["study"]
    assert protocols == [("cca-itq", "default"), ("cca-itq", "tuned"), ("lsh", "default")]
    status = cli("status", "--store", store)
    assert status.exit_code == 0 and study in status.output and "3 trials" in status.output
    shown = cli("tune", "--show", study[:5], "--store", store)
    assert shown.exit_code == 0, shown.output
    assert "ridge" in shown.output and "eigen_power" in shown.output
    assert "parameter importances (fANOVA):" in shown.output
    small = ("--trials", "2", "--val-fraction", "0.3", "--store", store)  # another study
    assert cli("tune", "--methods", "cca-itq", *SMALL, *small).exit_code == 0
    with ResultStore(store) as results:
        (other,) = {r.tuning["study"] for r in results.records(protocol="tuned")} - {study}
    shown = cli("tune", "--show", other, "--store", store)
    assert "parameter importances: importances need at least 3 completed" in shown.output
    table = cli("table", "--store", store, "--markdown")
    shown_rows = table.output.lower()  # display names or method names
    assert "cca-itq (default)" in shown_rows
    # two studies of one cell tuned differently: two tuned rows, neither hiding the other
    assert "cca-itq (tuned, 3 trials, val 0.2 x 1000)" in shown_rows
    assert "cca-itq (tuned, 2 trials, val 0.3 x 1000)" in shown_rows
    seeds = ("--seeds", "0,1", "--store", store)
    again = cli("run", "--tuned", "--methods", "cca-itq", *SMALL, *seeds)
    assert again.exit_code == 0, again.output
    assert "1 run(s) executed, 1 skipped" in again.output
    resumed = cli("tune", "--methods", "cca-itq", *SMALL, "--trials", "3", "--store", store)
    assert resumed.exit_code == 0 and resumed.output.count("(reused)") == 3


def test_tune_with_pruning_through_the_cli(cli, tmp_path, monkeypatch):
    _with(monkeypatch, ToyEpochs)
    store = str(tmp_path / "hb.sqlite")
    args = ("tune", "--methods", "toy-epochs", *SMALL, "--trials", "6", "--store", store)
    result = cli(*args, "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert "toy-epochs" in result.output and "test tuned" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("--trials", "0"), "--trials 0: must be a whole number in [1, 10,000] (a study needs"),
        (("--batch-size", "0"), "--batch-size 0"),
        (("--val-fraction", "1.5"), "--val-fraction 1.5"),
        (("--val-max-queries", "0"), "--val-max-queries 0"),
        (("--param", "cca-itq.ridge=-1"), "ridge must be a number in [0, inf]"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(cli, tmp_path, args, message):
    store = tmp_path / "hb.sqlite"
    result = cli("tune", "--methods", "cca-itq", *SMALL, *args, "--store", str(store))
    assert result.exit_code != 0 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not store.exists()


def test_show_of_an_unknown_study(cli, tmp_path):
    store = str(tmp_path / "hb.sqlite")
    assert cli("tune", "--methods", "lsh", *SMALL, "--store", store).exit_code == 0
    result = cli("tune", "--show", "nothing", "--store", store)
    assert result.exit_code != 0 and "no study with that id" in result.output


def test_a_study_whose_trials_all_fail(cli, tmp_path, monkeypatch):
    _with(monkeypatch, ToyFails)
    store = str(tmp_path / "hb.sqlite")
    result = cli("tune", "--methods", "toy-fails", *SMALL, "--trials", "2", "--store", store)
    assert result.exit_code == 1
    expected = "all 2 trials failed (PluginError: method 'toy-fails' raised during fit: Runtime"
    assert expected in result.output
    with ResultStore(store) as results:
        assert not results.records(protocol="tuned")


def test_an_unknown_parameter_in_a_search_space(cli, monkeypatch):
    bad = type("Bad", (ToyEpochs,), {"search_space": {"nope": ToyEpochs.search_space["quality"]}})
    _with(monkeypatch, bad)
    result = cli("tune", "--methods", "toy-epochs", *SMALL)
    assert result.exit_code != 0
    assert "search_space names 'nope', which is not in default_params" in result.output


def _tune_process(store: Path, *extra: str) -> subprocess.Popen:
    args = ("--methods", "cca-itq", *SMALL, "--trials", "8", "--batch-size", "4")
    return subprocess.Popen(
        [sys.executable, "-m", "hashbench", "tune", *args, "--store", str(store), *extra],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _trial_rows(store: Path) -> dict[str, str]:
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT run_id, created_at FROM runs WHERE protocol = 'trial'")
        return dict(rows.fetchall())


@pytest.mark.slow
def test_sigkill_then_rerun_finishes_the_study_with_no_trial_run_twice(tmp_path):
    store = tmp_path / "hb.sqlite"
    first = _tune_process(store)
    deadline = time.time() + 300
    while time.time() < deadline and (not store.exists() or len(_trial_rows(store)) < 3):
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    before = _trial_rows(store)
    assert 3 <= len(before) < 8
    rerun = _tune_process(store)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    after = _trial_rows(store)
    assert len(after) == 8 and all(after[r] == stamp for r, stamp in before.items())
    assert err.count("(reused)") == len(before) and err.count("(ran)") == 8 - len(before)
    reference = _tune_process(tmp_path / "ref.sqlite")  # an uninterrupted study: the same
    reference.communicate(timeout=600)
    assert set(_trial_rows(tmp_path / "ref.sqlite")) == set(after)


@pytest.mark.slow
def test_two_processes_share_a_study(tmp_path):
    store = tmp_path / "hb.sqlite"
    ResultStore(store).close()
    procs = [_tune_process(store), _tune_process(store)]
    outputs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    ran = [err.count("(ran)") for _, err in outputs]
    assert sum(ran) == 8 and len(_trial_rows(store)) == 8  # each trial ran in one process
