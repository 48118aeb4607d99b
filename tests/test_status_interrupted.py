"""`hashbench status` names interrupted runs (claimed, never finished) and what resumes them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import numpy as np

from hashbench.runner.resume import describe, run_command
from hashbench.store import ClaimOwner, ResultStore, RunRecord, default_store_path
from hashbench.store.claims import command_line

ABOUT = {
    "method": "spikehash",
    "dataset": "synth-mscoco",
    "dataset_label": "synth-mscoco@0.1",
    "bits": 32,
    "seed": 1,
    "budget": "quick",
    "overrides": {"epochs": 3},
    "protocol": "default",
}
COMMAND = "hashbench run --methods spikehash,ucmfh --dataset synth-mscoco --budget quick"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _record(run_id: str) -> RunRecord:
    return RunRecord(
        run_id=run_id, method="lsh", dataset="d", dataset_fingerprint="f", bits=16, seed=0,
        budget="quick", params={}, pair_fused=False, metrics={"i2t": {"map@50": 0.5}},
        timings={}, provenance={},
    )  # fmt: skip


def test_status_names_interrupted_runs_and_the_commands_that_resume_them(cli):
    live = ClaimOwner.current()
    dead = ClaimOwner(id="gone", host=live.host, pid=_dead_pid(), command=COMMAND)
    with ResultStore(default_store_path()) as store:
        store.save(_record("finished"), {"codes.query.image": np.zeros((1, 2), np.uint8)})
        assert store.claim("a1b2c3d4e5f60718", dead, 600, about=ABOUT) == "claimed"
        assert store.claim("running0running0", live, 600, about={**ABOUT, "seed": 2}) == "claimed"
        assert store.claim("finished", dead, 600, rerun=True) == "claimed"  # stored: not listed
        states = {c.run_id: c.state for c in store.unfinished_claims()}
    assert states == {"a1b2c3d4e5f60718": "interrupted", "running0running0": "running"}
    out = cli("status").output
    assert "1 done, 0 failed, 1 running, 1 interrupted" in out
    assert "interrupted (1):" in out and "running now (1):" in out
    line = next(x for x in out.splitlines() if x.startswith("  a1b2c3d4e5f60718"))
    assert "spikehash / synth-mscoco@0.1 / 32 bits / seed 1 / quick" in line
    assert f"pid {dead.pid} on {dead.host}" in line
    assert f"\n  {COMMAND}\n" in out  # the command that started it, on a line of its own
    alone = (
        "hashbench run --methods spikehash --dataset synth-mscoco --bits 32 --seeds 1 "
        "--budget quick --scale 0.1 --param spikehash.epochs=3"
    )
    assert f"\n  {alone}\n" in out


def test_a_killed_run_is_interrupted_until_the_same_command_runs_it(cli):
    dead = ClaimOwner(id="gone", host=ClaimOwner.current().host, pid=_dead_pid(), command="x")
    args = ("--methods", "lsh", "--dataset", "synth-mirflickr", "--scale", "0.05", "--bits", "16")
    first = cli("run", *args, "--budget", "quick", "--rerun")
    assert first.exit_code == 0, first.output
    with ResultStore(default_store_path()) as store:
        (record,) = store.records()
        with store._transaction():  # as if killed mid-run: its row gone, its claim left
            store._conn.execute("DELETE FROM runs")
        store.claim(record.run_id, dead, 600, about={"method": "lsh"})
    out = cli("status").output
    assert "interrupted (1)" in out and "lsh / " in out and "\n  x\n" in out
    assert "or each run alone" not in out  # too little is known of the run for that
    again = cli("run", *args, "--budget", "quick")
    assert "1 run(s) executed" in again.output
    status = cli("status").output
    assert "interrupted" not in status and "running" not in status


def test_claims_of_an_older_store_gain_the_new_columns_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    with ResultStore(path) as store:
        store.save(_record("r"), {"codes.query.image": np.zeros((1, 2), np.uint8)})
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE claims")
    conn.execute(
        "CREATE TABLE claims (run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, "
        "pid INTEGER NOT NULL, expires_at REAL NOT NULL)"
    )
    conn.execute("INSERT INTO claims VALUES ('old', 'o', 'elsewhere', 1, 0)")
    conn.commit()
    conn.close()
    with ResultStore(path, readonly=True) as store:  # read as it is
        (claim,) = store.unfinished_claims()
    assert claim.state == "interrupted" and claim.about == {} and claim.command == ""
    assert describe(claim.about).startswith("?")
    with ResultStore(path) as store:  # opened for writing: the columns are added
        columns = {row[1] for row in store._conn.execute("PRAGMA table_info(claims)")}
    assert {"about", "command", "claimed_at"} <= columns


def test_resume_commands():
    assert run_command({**ABOUT, "protocol": "trial"}) is None  # a study's `tune` resumes it
    tuned = run_command({**ABOUT, "protocol": "tuned"})
    assert tuned.endswith("--tuned") and "--param" not in tuned
    assert command_line(["/x/bin/hashbench", "run", "--methods", "a b"]) == (
        "hashbench run --methods 'a b'"
    )
    assert command_line(["/site/hashbench/__main__.py", "status"]) == "python -m hashbench status"
