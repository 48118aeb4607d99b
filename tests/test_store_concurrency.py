"""The store under faults and load: claims, a sweep killed mid-run, two writers at once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hashbench.store import ClaimOwner, ResultStore
from tests.conftest import subprocess_env

SWEEP = (
    "run",
    "--methods",
    "lsh,cca-itq",
    "--dataset",
    "synth-mirflickr",
    "--scale",
    "0.05",
    "--bits",
    "16,32,64",
    "--seeds",
    "0,1",
    "--budget",
    "quick",
)
N_RUNS = 12


def _cmd(store: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("hashbench")), *SWEEP, "--store", str(store)]


def _check_complete(store_path: Path) -> None:
    """Every run stored once, done, with readable codes; no claim left behind."""
    with ResultStore(store_path) as store:
        records = store.records()
        assert len(records) == N_RUNS and len({r.run_id for r in records}) == N_RUNS
        assert store.failures() == []
        for record in records:
            arrays = store.load_arrays(record)
            assert all(np.asarray(a).size for a in arrays.values())
        left = store._query("SELECT COUNT(*) FROM claims")[0][0]
        assert left == 0, "a finished sweep leaves no claims"
        rows = store._query("SELECT COUNT(*) FROM runs")[0][0]
        assert rows == N_RUNS, "no half or duplicate rows"


def _owner(**changes) -> ClaimOwner:
    base = ClaimOwner.current()
    return ClaimOwner(**{**base.__dict__, **changes})


def test_claims(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        me, other = _owner(), _owner()
        assert store.claim("r1", me, lease_s=60) == "claimed"
        assert store.claim("r1", me, lease_s=60) == "claimed"  # re-entrant for its owner
        assert store.claim("r1", other, lease_s=60) == "busy"  # same host, live pid
        store.release("r1", me)
        assert store.claim("r1", other, lease_s=60) == "claimed"
        # a claim of a dead process on this host is taken over at once
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        assert store.claim("r2", _owner(pid=dead.pid), lease_s=60) == "claimed"
        assert store.claim("r2", me, lease_s=60) == "claimed"
        # another host's claim holds until it expires
        remote = _owner(host="elsewhere.example")
        assert store.claim("r3", remote, lease_s=0.2) == "claimed"
        assert store.claim("r3", me, lease_s=60) == "busy"
        time.sleep(0.3)
        assert store.claim("r3", me, lease_s=60) == "claimed"
        store.renew(["r3"], me, lease_s=60)


def test_killed_sweep_resumes_without_loss_or_duplicates(tmp_path):
    store = tmp_path / "s.sqlite"
    proc = subprocess.Popen(
        _cmd(store),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=subprocess_env(),
    )
    finished = 0
    try:
        for line in proc.stdout:  # kill it once two runs are done and a third is under way
            finished += " done in " in line
            if finished >= 2:
                time.sleep(0.3)
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with ResultStore(store) as partial:
        before = {r.run_id: r.created_at for r in partial.records()}
    assert 2 <= len(before) < N_RUNS
    resumed = subprocess.run(
        _cmd(store), capture_output=True, text=True, env=subprocess_env(), timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    skipped = int(re.search(r"(\d+) skipped", resumed.stderr).group(1))
    assert skipped == len(before), "finished runs are not redone"
    _check_complete(store)
    with ResultStore(store) as done:
        after = {r.run_id: r.created_at for r in done.records()}
    assert all(after[k] == v for k, v in before.items()), "finished runs are kept as they were"


def test_two_processes_share_a_store(tmp_path):
    store = tmp_path / "s.sqlite"
    procs = [
        subprocess.Popen(
            _cmd(store),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(),
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    executed = [int(re.search(r"(\d+) run\(s\) executed", err).group(1)) for _, err in outputs]
    assert sum(executed) == N_RUNS, f"each run executed exactly once, got {executed}"
    _check_complete(store)
    assert os.path.exists(store)
