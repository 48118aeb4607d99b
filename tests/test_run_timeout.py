"""`--run-timeout`: a run past its limit is stored as failed with that reason and the sweep goes
on, in this process (a timer) and in worker processes (the worker is ended and replaced)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hashbench.errors import InputError
from hashbench.runner.time_limit import RunTimeout, check_run_timeout, time_limit
from hashbench.store import ResultStore, default_store_path
from tests.adversarial_toys import installed

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--bits", "16", "--budget", "quick")


@pytest.fixture
def toys(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(installed(tmp_path / "site")))


def _rows(path: Path) -> dict[str, tuple[str, str]]:
    """method -> (status, last line of the error) of every row."""
    with ResultStore(path) as store:
        out = {r.method: ("done", "") for r in store.records()}
        out.update(
            {r.method: ("failed", r.error.strip().splitlines()[-1]) for r in store.failures()}
        )
    return out


def _check(result, path: Path, timed_out: list[str], seconds: int) -> None:
    reason = f"exceeded --run-timeout of {seconds} s"
    assert result.exit_code != 0, result.output
    assert "internal error" not in result.output
    rows = _rows(path)
    for method in timed_out:
        assert rows[method][0] == "failed" and reason in rows[method][1], rows
        assert f"{method} / synth-mirflickr@0.05" in result.output
    assert rows["lsh"] == ("done", "")  # the sweep went on


def test_local_executor_stops_a_fit_that_never_returns(cli, toys, tmp_path):
    path = tmp_path / "s.sqlite"
    config = tmp_path / "sweep.toml"
    config.write_text('methods = ["toy-sleeps", "lsh"]\nrun_timeout = 3\n')  # a sweep file too
    started = time.monotonic()
    result = cli("run", "--config", str(config), *SMALL, "--store", str(path))
    assert time.monotonic() - started < 60
    _check(result, path, ["toy-sleeps"], 3)


def test_process_executor_ends_and_replaces_a_stuck_worker(cli, toys, tmp_path):
    """toy-sleeps stops at its worker's own timer; toy-blocks-alarm blocks that timer (as a C
    call that never returns would), so its worker is killed a grace period later."""
    path = tmp_path / "s.sqlite"
    result = cli(
        "run", "--methods", "toy-sleeps,toy-blocks-alarm,lsh", *SMALL, "--store", str(path),
        "--executor", "process", "--workers", "1", "--run-timeout", "6",
    )  # fmt: skip
    _check(result, path, ["toy-sleeps", "toy-blocks-alarm"], 6)
    assert "worker process was ended and replaced" in _rows(path)["toy-blocks-alarm"][1]


def test_tune_holds_each_trial_to_the_limit(cli, toys, tmp_path):
    store = str(tmp_path / "s.sqlite")
    result = cli(
        "tune", "--methods", "toy-sleeps", *SMALL, "--trials", "1", "--store", store,
        "--run-timeout", "2",
    )  # fmt: skip
    assert result.exit_code != 0 and "internal error" not in result.output
    assert "all 1 trials failed (RunTimeout: exceeded --run-timeout of 2 s)" in result.output


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_bad_limits_are_refused_before_any_run(cli, value):
    result = cli("run", "--methods", "lsh", *SMALL, "--run-timeout", value)
    assert result.exit_code != 0 and "internal error" not in result.output
    assert f"--run-timeout {value}" in result.output and "> 0" in result.output
    assert not default_store_path().exists()


def test_check_run_timeout():
    assert check_run_timeout(None) is None and check_run_timeout(2) == 2.0
    for bad in (0, -3, float("nan"), float("inf"), True, "5"):
        with pytest.raises(InputError, match="--run-timeout"):
            check_run_timeout(bad)


def test_a_plugin_that_swallows_the_timeout_is_still_stopped():
    caught = 0
    with pytest.raises(RunTimeout, match="exceeded --run-timeout of 0.2 s"):
        with time_limit(0.2):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    time.sleep(0.01)
                except BaseException:  # noqa: BLE001 -- a plugin that swallows everything
                    caught += 1
                    if caught == 3:
                        break  # returns normally after swallowing three alarms
    assert caught == 3


def test_no_limit_and_a_fast_block_leave_no_timer_behind():
    with time_limit(None):
        time.sleep(0.01)
    with time_limit(5):
        time.sleep(0.01)
    time.sleep(0.1)  # an alarm left armed would raise here


def test_the_local_executor_outside_the_main_thread_fails_the_run_with_a_reason():
    import threading

    from hashbench.data.types import DatasetOptions
    from hashbench.executors import DriverState, ExecutorSettings, InProcessExecutor, RunTask
    from hashbench.runner.execute import RunOptions
    from hashbench.runner.spec import RunSpec

    task = RunTask(
        spec=RunSpec(method="lsh", dataset="d", bits=16, seed=0), dataset_label="d", params={},
        run_id="r", origin={}, dataset_fingerprint="f", dataset_options=DatasetOptions(),
        options=RunOptions(run_timeout=5),
    )  # fmt: skip
    results = []
    driver = DriverState(registry=None, datasets={})
    executor = InProcessExecutor(ExecutorSettings())
    thread = threading.Thread(target=lambda: results.extend(executor.map([task], driver)))
    thread.start()
    thread.join(30)
    (result,) = results
    assert not result.ok and "--run-timeout with --executor local needs the main thread" in (
        result.message
    )
