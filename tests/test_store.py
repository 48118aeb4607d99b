"""The results store: round trip, all-or-nothing writes, errors for unusable files."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from hashbench.errors import StoreError
from hashbench.store import ResultStore, RunRecord


def _record(run_id: str = "abc123", **changes) -> RunRecord:
    values = dict(
        run_id=run_id,
        method="lsh",
        dataset="synth-mirflickr",
        dataset_fingerprint="f" * 32,
        bits=16,
        seed=0,
        budget="quick",
        params={"x": 1},
        pair_fused=False,
        metrics={"i2t": {"map@50": 0.5}, "t2i": {"map@50": 0.6}},
        timings={"total_s": 1.0},
        provenance={"python": "3.11"},
    )
    values.update(changes)
    return RunRecord(**values)


def _arrays() -> dict[str, np.ndarray]:
    return {"codes.query.image": np.arange(8, dtype=np.uint8).reshape(4, 2)}


def test_round_trip(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.save(_record(), _arrays())
        assert store.has_run("abc123")
        got = store.get("abc123")
        assert got.metrics == {"i2t": {"map@50": 0.5}, "t2i": {"map@50": 0.6}}
        assert got.params == {"x": 1} and got.pair_fused is False and got.created_at
        assert np.array_equal(
            store.load_arrays(got)["codes.query.image"], _arrays()["codes.query.image"]
        )
        assert store.get("abc").run_id == "abc123", "a unique prefix finds the run"
    with ResultStore(tmp_path / "s.sqlite") as reopened:  # persists across connections
        assert [r.run_id for r in reopened.records(method="lsh")] == ["abc123"]
        assert reopened.records(method=["cca-itq"]) == []


def test_wal_mode(tmp_path):
    ResultStore(tmp_path / "s.sqlite").close()
    mode = sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_interrupted_codes_write_leaves_no_row_and_no_folder(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "s.sqlite")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        store.save(_record(), _arrays())
    assert not store.has_run("abc123")
    assert [p.name for p in store.runs_dir.iterdir()] == [".store"]  # only the owner marker
    assert store.orphans() == []


def test_interrupted_row_write_rolls_back(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "s.sqlite")
    bad = _record(metrics={"i2t": {"map@50": object()}})  # not JSON-serialisable: fails mid-write
    with pytest.raises(TypeError):
        store.save(bad, _arrays())
    assert not store.has_run("abc123")
    store.save(_record(), _arrays())  # the orphan codes folder is replaced by a retry
    assert store.has_run("abc123")


def test_corrupt_file_is_a_clear_error(tmp_path):
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot be used.*--store"):
        ResultStore(path)


def test_unwritable_location_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot be created"):
        ResultStore(blocker / "sub" / "s.sqlite")


def test_unknown_run_id(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store, pytest.raises(StoreError, match="no run"):
        store.get("nope")


def test_failure_never_replaces_a_finished_run(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.save_failure(_record("r1"), "Traceback: first try")
        assert store.statuses(["r1", "r2"]) == {"r1": "failed"}
        assert not store.has_run("r1") and store.records() == []
        store.save(_record("r1"), _arrays())  # a retry succeeds
        assert store.statuses(["r1"]) == {"r1": "done"}
        store.save_failure(_record("r1"), "Traceback: a later --rerun failed")
        assert store.get("r1").status == "done" and store.failures() == []


def test_version_1_store_gains_the_error_column(tmp_path):
    import sqlite3

    import hashbench.store as store_module

    path = tmp_path / "old.sqlite"
    schema_v1 = store_module._SCHEMA.replace(
        "    error               TEXT NOT NULL DEFAULT '',\n", ""
    )
    assert "error" not in schema_v1
    row = ResultStore._to_row(_record("r1"))
    row.pop("error")
    conn = sqlite3.connect(path)
    conn.executescript(schema_v1 + "; PRAGMA user_version=1;")
    conn.execute(
        f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
        tuple(row.values()),
    )
    conn.commit()
    conn.close()
    with ResultStore(path) as store:
        assert store.get("r1").error == "" and store.statuses(["r1"]) == {"r1": "done"}
        store.save_failure(_record("r2"), "boom")
        assert store.failures()[0].error == "boom"
