"""Executors: local, process and Ray give the same stored results; bad choices fail clearly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

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


def _hashbench(*args: str, **kwargs) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("hashbench")
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=600,
        **kwargs,
    )


def test_process_executor_matches_local(cli, tmp_path):
    local = tmp_path / "local.sqlite"
    assert cli("run", *GRID, "--store", str(local)).exit_code == 0
    pooled = tmp_path / "pool.sqlite"
    done = _hashbench(
        "run", *GRID, "--store", str(pooled), "--executor", "process", "--workers", "2"
    )
    assert done.returncode == 0, done.stderr
    assert "4 run(s) executed" in done.stderr
    want = _results(local)
    assert len(want) == 4 and _results(pooled) == want


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


@pytest.mark.slow
def test_ray_cluster_of_two_nodes_runs_a_grid(cli, tmp_path):
    pytest.importorskip("ray", reason="the Ray executor needs `pip install 'hashbench[ray]'`")
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray_cli, "ray is importable but its `ray` command is missing"
    port = _free_port()
    env = subprocess_env(RAY_USAGE_STATS_ENABLED="0")
    common = ("--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats")
    temp = Path("/tmp") / f"ray-hb-{os.getpid()}"  # Ray's socket paths must stay short
    try:
        head = subprocess.run(
            [
                ray_cli,
                "start",
                "--head",
                f"--port={port}",
                "--include-dashboard=false",
                f"--temp-dir={temp}",
                *common,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
        )
        assert head.returncode == 0, head.stderr[-3000:]
        worker = subprocess.run(
            [ray_cli, "start", f"--address=127.0.0.1:{port}", *common],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
        )
        assert worker.returncode == 0, worker.stderr[-3000:]
        store = tmp_path / "ray.sqlite"
        done = _hashbench(
            "run",
            *GRID,
            "--store",
            str(store),
            "--executor",
            "ray",
            "--address",
            f"127.0.0.1:{port}",
        )
        assert done.returncode == 0, done.stderr[-3000:]
        local = tmp_path / "local.sqlite"
        assert cli("run", *GRID, "--store", str(local)).exit_code == 0
        want = _results(local)
        assert len(want) == 4 and _results(store) == want
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
