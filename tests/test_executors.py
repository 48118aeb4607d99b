"""Executors: local, process, Ray and SLURM (submitit) give the same stored results; bad choices
fail clearly."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hashbench.data.types import DatasetOptions
from hashbench.executors import ExecutorSettings, RunTask, TaskResult
from hashbench.runner.execute import RunOptions
from hashbench.runner.spec import RunSpec
from hashbench.store import ResultStore
from tests.conftest import subprocess_env

GRID = (
    "--methods",
    "lsh,cca-itq",
    "--dataset",
    "synth-mirflickr",
    "--scale",
    "0.05",
    "--bits",
    "16,32",
    "--budget",
    "quick",
)


def _results(path: Path) -> dict[str, tuple]:
    with ResultStore(path) as store:
        return {
            r.run_id: (r.metrics["i2t"]["map@50"], r.metrics["t2i"]["map@all"])
            for r in store.records()
        }


def _hashbench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("hashbench")
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        env=env or subprocess_env(),
        timeout=600,
    )


# executors that run on this machine as they are (ray needs a cluster started: below)
SAME_RESULTS = {
    "process": ("--executor", "process", "--workers", "2"),
    # submitit's local executor: each run one job, a process on this machine (no SLURM here)
    "slurm": ("--executor", "slurm", "--slurm", "cluster=local", "--slurm", "poll=0.2",
              "--workers", "2"),
}  # fmt: skip


@pytest.mark.parametrize(
    "executor", ["process", pytest.param("slurm", marks=pytest.mark.slow)]
)  # fmt: skip
def test_executor_matches_local(cli, tmp_path, executor):
    if executor == "slurm":
        pytest.importorskip("submitit", reason="needs `pip install 'hashbench[slurm]'`")
    local = tmp_path / "local.sqlite"
    assert cli("run", *GRID, "--store", str(local)).exit_code == 0
    pooled = tmp_path / "pool.sqlite"
    done = _hashbench("run", *GRID, "--store", str(pooled), *SAME_RESULTS[executor])
    assert done.returncode == 0, done.stderr
    assert "4 run(s) executed" in done.stderr
    want = _results(local)
    assert len(want) == 4 and _results(pooled) == want
    with ResultStore(pooled) as store:
        assert store.unfinished_claims() == []


def test_unknown_executor_and_missing_address(cli):
    result = cli("run", *GRID, "--executor", "proces")
    assert result.exit_code != 0 and "Did you mean 'process'" in result.output
    result = cli("run", *GRID, "--executor", "ray")
    assert result.exit_code != 0
    assert "--address" in result.output or "pip install 'hashbench[ray]'" in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _ray_cluster(nodes: int, env: dict[str, str]) -> Iterator[str]:
    """A local Ray cluster of `nodes` one-CPU nodes started with `env`; yields its address."""
    pytest.importorskip("ray", reason="the Ray executor needs `pip install 'hashbench[ray]'`")
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray_cli, "ray is importable but its `ray` command is missing"
    port = _free_port()
    common = ("--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats")
    temp = Path("/tmp") / f"ray-hb-{os.getpid()}"  # Ray's socket paths must stay short
    head = ("--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}")
    try:
        for node in range(nodes):
            where = head if node == 0 else (f"--address=127.0.0.1:{port}",)
            started = subprocess.run(
                [ray_cli, "start", *where, *common],
                capture_output=True,
                text=True,
                env=env,
                timeout=180,
            )
            assert started.returncode == 0, started.stderr[-3000:]
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_ray_cluster_of_two_nodes_runs_a_grid(cli, tmp_path):
    env = subprocess_env(RAY_USAGE_STATS_ENABLED="0")
    with _ray_cluster(2, env) as address:
        store = tmp_path / "ray.sqlite"
        done = _hashbench(
            "run", *GRID, "--store", str(store), "--executor", "ray", "--address", address
        )
        assert done.returncode == 0, done.stderr[-3000:]
    local = tmp_path / "local.sqlite"
    assert cli("run", *GRID, "--store", str(local)).exit_code == 0
    want = _results(local)
    assert len(want) == 4 and _results(store) == want


@pytest.mark.slow
def test_ray_run_timeout_fails_only_the_stuck_run(tmp_path):
    """On Ray itself: the stuck run is failed with the timeout, the run beside it (which waits
    for a worker and loads its data first: none of it counts) is stored."""
    from tests.adversarial_toys import installed

    site = installed(tmp_path / "site")
    root = Path(__file__).resolve().parents[1]
    path = os.pathsep.join(filter(None, (str(site), str(root), os.environ.get("PYTHONPATH"))))
    env = subprocess_env(RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=path)
    store = tmp_path / "ray.sqlite"
    with _ray_cluster(2, env) as address:
        result = _hashbench(
            "run", "--methods", "toy-sleeps,lsh", *GRID[2:6], "--bits", "16", "--budget", "quick",
            "--store", str(store), "--executor", "ray", "--address", address,
            # the stuck run never ends, so the limit only has to leave lsh time on a busy
            # machine (3 s was too short with the machine's two cores shared: lsh failed too)
            "--run-timeout", "20", env=env,
        )  # fmt: skip
    assert result.returncode != 0 and "internal error" not in result.stderr
    with ResultStore(store) as opened:
        assert [r.method for r in opened.records()] == ["lsh"]
        (failed,) = opened.failures()
    assert failed.method == "toy-sleeps" and "exceeded --run-timeout of 20 s" in failed.error


class _Generator:
    """A Ray generator task as the executor sees it: "started", then the result ("slow" tasks
    start and never finish)."""

    def __init__(self, task: RunTask) -> None:
        from hashbench_plugins.executors.ray_cluster import STARTED

        self.task = task
        self.items: list = [STARTED]
        if task.run_id != "slow":
            self.items.append(TaskResult(task, error="fine", message="ran"))

    def __next__(self):
        return self.items.pop(0)


class _FakeRay:
    """Just enough of `ray` for RayExecutor.map."""

    def __init__(self) -> None:
        self.cancelled: list[tuple[str, bool]] = []

    def init(self, **kwargs) -> None: ...
    def shutdown(self) -> None: ...
    def cluster_resources(self) -> dict:
        return {"CPU": 2}

    def remote(self, fn):
        class Remote:
            def options(self, **kwargs):
                assert kwargs["num_returns"] == "streaming"
                return self

            def remote(self, task):
                return _Generator(task)

        return Remote()

    def wait(self, refs, num_returns=1, timeout=None):
        ready = [r for r in refs if r.items][:num_returns]
        if not ready:
            time.sleep(timeout or 0)
        return ready, [r for r in refs if r not in ready]

    def get(self, item):
        return item

    def cancel(self, ref, force=False) -> None:
        self.cancelled.append((ref.task.run_id, force))


def test_ray_executor_cancels_a_task_past_its_run_timeout(monkeypatch):
    """The scheduling logic with a fake `ray` (fast; the real cluster test below checks the
    same on Ray itself)."""
    from hashbench_plugins.executors import ray_cluster

    fake = _FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(ray_cluster, "hard_limit", lambda seconds: seconds)
    options = RunOptions(run_timeout=0.3)
    tasks = [
        RunTask(
            spec=RunSpec(method="m", dataset="d", bits=16, seed=0),
            dataset_label="d",
            params={},
            run_id=run_id,
            origin={},
            dataset_fingerprint="f",
            dataset_options=DatasetOptions(),
            options=options,
        )  # fmt: skip
        for run_id in ("slow", "fast")
    ]
    executor = ray_cluster.RayExecutor(ExecutorSettings(address="auto"))
    results = {r.task.run_id: r for r in executor.map(tasks, driver=None)}
    assert results["fast"].message == "ran"
    assert (
        results["slow"].timed_out and "exceeded --run-timeout of 0.3 s" in results["slow"].message
    )
    assert fake.cancelled == [("slow", True)]


def test_a_worker_that_dies_fails_only_its_own_run(cli, tmp_path, monkeypatch):
    from tests.adversarial_toys import installed

    monkeypatch.syspath_prepend(str(installed(tmp_path / "site")))
    path = tmp_path / "s.sqlite"
    result = cli(
        "run", "--methods", "toy-exits,lsh", *GRID[2:6], "--bits", "16", "--budget", "quick",
        "--store", str(path), "--executor", "process", "--workers", "1",
    )  # fmt: skip
    assert result.exit_code != 0 and "internal error" not in result.output
    assert "WorkerDied: the worker process running it died" in result.output
    with ResultStore(path) as store:
        assert [r.method for r in store.records()] == ["lsh"]
        assert [r.method for r in store.failures()] == ["toy-exits"]
