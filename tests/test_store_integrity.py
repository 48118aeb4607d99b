"""What the store guarantees about what it reads back: codes and per-query values checked on
every read, hand-edited rows refused, one codes folder per store, read-only folders readable
without side files, deleted codes and orphans reported (and repaired), failed writes undone.
Most cases run end to end through the command line (issue 27)."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashbench.errors import StoreError
from hashbench.store import MissingCodesError, ResultStore, RunRecord, default_store_path
from hashbench.store import files as store_files
from hashbench.store.records import COLUMNS, codes_digest, row_digest, to_row
from hashbench.store.verify import codes_problem, row_problem

SMALL = ("--dataset", "synth-mirflickr", "--scale", "0.05", "--budget", "quick", "--bits", "16")
COLUMN = ("--dataset", "synth-mirflickr@0.05", "--bits", "16")


def _refused(result, *fragments: str) -> None:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def _records(path: Path) -> dict[tuple[str, int], RunRecord]:
    with ResultStore(path, readonly=True) as store:
        return {(r.method, r.seed): r for r in store.records()}


@pytest.fixture
def two_methods(cli) -> Path:
    """The default store with lsh and cca-itq at 16 bits, seeds 0 and 1."""
    result = cli("run", "--methods", "lsh,cca-itq", *SMALL, "--seeds", "0,1")
    assert result.exit_code == 0, result.output
    return default_store_path()


# --- HIGH 2: every read of codes or per-query values is verified -----------------------------


def test_statistics_refuse_another_stores_codes_end_to_end(cli, two_methods, tmp_path):
    other = tmp_path / "other" / "hb.sqlite"
    assert (
        cli("run", "--methods", "lsh", *SMALL, "--seeds", "2", "--store", str(other)).exit_code == 0
    )
    (foreign,) = _records(other).values()
    target = _records(two_methods)[("lsh", 0)]
    path = two_methods.parent / target.codes_path
    path.write_bytes((other.parent / foreign.codes_path).read_bytes())
    expected = (str(path), f"run {target.run_id}", "hashbench run ... --rerun")
    _refused(cli("compare", "lsh", "cca-itq", *COLUMN), *expected)
    _refused(cli("table", "--ci", "--significance"), *expected)
    _refused(cli("report", "--ci", "--out", str(tmp_path / "site")), *expected)
    _refused(cli("eval", "--run", target.run_id), *expected)
    assert not (tmp_path / "site").exists()


def test_per_query_values_have_a_checksum_of_their_own(cli, two_methods):
    target = _records(two_methods)[("lsh", 0)]
    path = two_methods.parent / target.codes_path
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["perquery.i2t.map@50"] = np.ones_like(arrays["perquery.i2t.map@50"])  # all AP 1.0
    np.savez(path, **arrays)
    _refused(cli("compare", "lsh", "cca-itq", *COLUMN), str(path), "per-query values")
    _refused(cli("table", "--ci"), "per-query values", target.run_id)


def test_per_query_values_of_a_row_without_their_checksum_are_recomputed(cli, two_methods):
    """A row stored before per-query values had a checksum: they are not trusted but
    recomputed from its verified codes, so a planted value never reaches a table."""
    from hashbench.runner.recompute import per_query_scores

    target = _records(two_methods)[("lsh", 0)]
    path = two_methods.parent / target.codes_path
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    honest = arrays["perquery.i2t.map@50"].copy()
    arrays["perquery.i2t.map@50"] = np.ones_like(honest)
    np.savez(path, **arrays)
    digest = {k: v for k, v in target.codes_digest.items() if k != "derived"}
    with ResultStore(two_methods) as store:  # as an older hashbench stored it
        store._conn.execute(
            "UPDATE runs SET codes_digest = ?, row_digest = '' WHERE run_id = ?",
            (json.dumps(digest, sort_keys=True), target.run_id),
        )
        record = store.get(target.run_id)
        assert "perquery.i2t.map@50" not in store.load_arrays(record)
        np.testing.assert_allclose(per_query_scores(store, record, "map@50")["i2t"], honest)


# --- a hand-edited number is refused ------------------------------------------------------------


def test_a_hand_edited_metric_is_refused_by_every_command(cli, two_methods, tmp_path):
    target = _records(two_methods)[("lsh", 0)]
    before = cli("table", "--csv").output
    conn = sqlite3.connect(two_methods)
    conn.execute(
        "UPDATE runs SET metrics = replace(metrics, '\"map@50\": 0.', '\"map@50\": 0.9') "
        "WHERE run_id = ?",
        (target.run_id,),
    )
    conn.commit()
    conn.close()
    expected = (f"run {target.run_id}", "row digest", "--rerun")
    _refused(cli("table"), *expected)
    _refused(cli("compare", "lsh", "cca-itq", *COLUMN), *expected)
    _refused(cli("report", "--out", str(tmp_path / "site")), *expected)
    _refused(cli("plot", "--out", str(tmp_path / "fig")), *expected)
    _refused(cli("eval", "--run", target.run_id), *expected)
    status = cli("status")
    assert status.exit_code == 0 and "changed after they were stored (1)" in status.output
    assert target.run_id in status.output
    # the fix the message names: rerun it
    rerun = cli("run", "--methods", "lsh", *SMALL, "--seeds", "0", "--rerun")
    assert rerun.exit_code == 0, rerun.output
    assert cli("table", "--csv").output == before


def test_a_row_without_a_digest_is_read_as_it_is(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.save(_record("old"), _arrays())
        store._conn.execute("UPDATE runs SET metrics = ?, row_digest = ''", ('{"i2t": {}}',))
        assert store.get("old").metrics == {"i2t": {}}  # stored before row digests: as it is
        assert store.damaged_rows() == []


COLUMN_VALUES = {
    "method": st.sampled_from(["lsh", "cca-itq"]),
    "bits": st.sampled_from([16, 32, 64]),
    "seed": st.integers(0, 10**6),
    "metrics": st.dictionaries(
        st.sampled_from(["i2t", "t2i"]),
        st.dictionaries(st.sampled_from(["map@50", "p@10"]), st.floats(0, 1)),
    ),
    "params": st.dictionaries(st.sampled_from(["ridge", "epochs"]), st.integers(-5, 5)),
    "protocol": st.sampled_from(["default", "tuned"]),
}


@settings(max_examples=40, deadline=None)
@given(column=st.sampled_from(sorted(COLUMN_VALUES)), data=st.data())
def test_any_change_of_a_digested_value_is_detected(column, data):
    """Property: a row reads back as stored; any other value in any digested column fails its
    row digest (and a changed created_at or error does not: they are not digested)."""
    record = _record("r")
    row = to_row(record)
    row["row_digest"] = row_digest(row)
    values = [row.get(c, "2026-01-01") for c in COLUMNS]
    assert row_problem(tuple(values)) is None
    changed = data.draw(COLUMN_VALUES[column].filter(lambda v: v != getattr(record, column)))
    edited = to_row(RunRecord(**{**record.__dict__, column: changed}))
    values[COLUMNS.index(column)] = edited[column]
    assert row_problem(tuple(values)) is not None
    values[COLUMNS.index(column)] = row[column]
    values[COLUMNS.index("error")] = "edited"
    assert row_problem(tuple(values)) is None


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["codes.query.image", "labels.query", "perquery.i2t.map@50"]),
    index=st.integers(0, 7),
    bit=st.integers(0, 7),
)
def test_any_flipped_bit_of_any_stored_array_is_detected(name, index, bit):
    """Property: a codes file that differs from the stored one in one bit of any array (codes,
    labels or per-query values) fails its check; the stored one passes."""
    rng = np.random.default_rng(index)
    arrays = {
        "codes.query.image": rng.integers(0, 256, (4, 2), dtype=np.uint8),
        "labels.query": rng.integers(0, 256, (4, 1), dtype=np.uint8),
        "perquery.i2t.map@50": rng.random(4).astype(np.float32),
    }
    record = _record("r")
    record.codes_digest = codes_digest(arrays, record.bits)
    problem, usable = codes_problem(record, arrays)
    assert problem is None and set(usable) == set(arrays)
    flipped = {k: v.copy() for k, v in arrays.items()}
    flipped[name].view(np.uint8).reshape(-1)[index % flipped[name].nbytes] ^= 1 << bit
    problem, usable = codes_problem(record, flipped)
    assert problem and usable == {}


# --- two stores in one folder -----------------------------------------------------------------


def test_two_stores_in_one_folder_keep_their_own_codes(tmp_path):
    first, second = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    with ResultStore(first) as a, ResultStore(second) as b:
        a.save(_record("same"), _arrays(1))
        b.save(_record("same"), _arrays(2))
        assert a.runs_dir == tmp_path / "runs" and b.runs_dir == tmp_path / "b.runs"
        for store, fill in ((a, 1), (b, 2)):
            arrays = store.load_arrays(store.get("same"))
            assert (arrays["codes.query.image"] == fill).all()
        assert a.orphans() == [] and b.orphans() == []
    with ResultStore(first, readonly=True) as a, ResultStore(second, readonly=True) as b:
        assert a.runs_dir == tmp_path / "runs" and b.runs_dir == tmp_path / "b.runs"
    with ResultStore(tmp_path / "b.db") as same_stem:  # b.runs/ is b.sqlite's
        same_stem.save(_record("same"), _arrays(3))
        assert same_stem.runs_dir == tmp_path / "b.db.runs"
    with ResultStore(second, readonly=True) as b:
        assert (b.load_arrays(b.get("same"))["codes.query.image"] == 2).all()


def test_an_older_runs_folder_stays_with_the_store_that_wrote_it(tmp_path):
    old = tmp_path / "old.sqlite"
    with ResultStore(old) as store:
        store.save(_record("r1"), _arrays(1))
    (tmp_path / "runs" / store_files.MARKER).unlink()  # written before markers existed
    with ResultStore(tmp_path / "new.sqlite") as new:
        new.save(_record("r1"), _arrays(2))
        assert new.runs_dir == tmp_path / "new.runs"
    with ResultStore(old) as store:
        assert store.runs_dir == tmp_path / "runs"
        assert (store.load_arrays(store.get("r1"))["codes.query.image"] == 1).all()
        store.save(_record("r2"), _arrays(3))  # adopts it: marks it as its own
        assert store_files.marker_owner(tmp_path / "runs") == "old.sqlite"


# --- read-only folders, no side files -----------------------------------------------------------


def test_read_commands_create_no_wal_or_shm(cli, two_methods):
    folder = two_methods.parent
    target = _records(two_methods)[("lsh", 0)]
    assert not list(folder.glob("*-wal")) and not list(folder.glob("*-shm"))
    for args in (("table",), ("status",), ("eval", "--run", target.run_id), ("table", "--ci")):
        assert cli(*args).exit_code == 0
        assert sorted(p.name for p in folder.iterdir()) == ["hashbench.sqlite", "runs"], args


def test_a_store_in_a_read_only_folder_is_read(cli, two_methods, monkeypatch):
    monkeypatch.setattr(store_files, "folder_writable", lambda folder: False)
    assert cli("table").exit_code == 0
    assert cli("status").exit_code == 0
    _refused(cli("run", "--methods", "lsh", *SMALL, "--seeds", "5"), "read-only folder")
    # a -wal left by a writer that did not close: SQLite must create -shm, which it cannot
    wal = two_methods.with_name(two_methods.name + "-wal")
    wal.write_bytes(b"")
    monkeypatch.setattr(
        sqlite3, "connect", _failing_connect(sqlite3.connect, "unable to open database file")
    )
    _refused(cli("table"), "read-only folder", str(two_methods))


def _failing_connect(real, message):
    def connect(target, *args, **kwargs):
        if kwargs.get("uri") and "mode=ro" in str(target):
            raise sqlite3.OperationalError(message)
        return real(target, *args, **kwargs)

    return connect


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_a_really_read_only_folder(cli, two_methods):
    folder = two_methods.parent
    folder.chmod(0o555)
    try:
        assert cli("table").exit_code == 0
        assert cli("status").exit_code == 0
    finally:
        folder.chmod(0o755)


# --- deleted codes -----------------------------------------------------------------------------


def test_deleted_codes_are_listed_redone_and_shown_as_na(cli, two_methods):
    import shutil

    target = _records(two_methods)[("lsh", 0)]
    shutil.rmtree((two_methods.parent / target.codes_path).parent)
    status = cli("status")
    assert status.exit_code == 0
    assert "codes missing (1)" in status.output and target.run_id in status.output
    assert "hashbench run --methods lsh --dataset synth-mirflickr --bits 16 --seeds 0" in (
        status.output
    )
    table = cli("table", "--ci", "--significance", "--csv")
    assert table.exit_code == 0, table.output
    assert "codes of 1 run(s) are missing" in table.output and target.run_id in table.output
    rows = [
        line.split(",") for line in table.output.splitlines() if line.startswith(("i2t", "t2i"))
    ]
    lsh_cells = [r for r in rows if r[1] == "lsh"]
    assert lsh_cells and all("n/a" in r for r in lsh_cells)
    assert all("n/a" not in r for r in rows if r[1] == "cca-itq")
    with ResultStore(two_methods, readonly=True) as store:
        assert not store.has_run(target.run_id)
    redo = cli("run", "--methods", "lsh,cca-itq", *SMALL, "--seeds", "0,1")
    assert redo.exit_code == 0, redo.output
    with ResultStore(two_methods, readonly=True) as store:
        assert store.has_run(target.run_id) and store.missing_codes() == []
        store.load_arrays(store.get(target.run_id))
    assert "codes missing" not in cli("status").output


def test_reading_deleted_codes_names_the_fix(tmp_path):
    with ResultStore(tmp_path / "s.sqlite") as store:
        store.save(_record("r1"), _arrays())
        (tmp_path / store.get("r1").codes_path).unlink()
        with pytest.raises(MissingCodesError, match="codes of run r1 are missing.*hashbench run"):
            store.load_arrays(store.get("r1"))


# --- orphans and failed writes ---------------------------------------------------------------


def test_status_lists_and_prunes_orphans_but_not_a_run_being_written(cli, two_methods):
    from hashbench.store import ClaimOwner

    runs = two_methods.parent / "runs"
    (runs / "feedfacefeedface").mkdir()
    (runs / "feedfacefeedface" / "codes.npz").write_bytes(b"x")  # a row insert that failed
    (runs / ".cafe0000cafe0000.abcd1234").mkdir()  # a write killed half-way
    (runs / ".beef0000beef0000.abcd1234").mkdir()  # a write in progress right now
    rerun = _records(two_methods)[("lsh", 1)].run_id  # a finished run being rerun right now
    (runs / f".{rerun}.abcd1234").mkdir()
    with ResultStore(two_methods) as store:
        owner = ClaimOwner.current()
        assert store.claim("beef0000beef0000", owner, 600) == "claimed"
        assert store.claim(rerun, owner, 600, rerun=True) == "claimed"
    status = cli("status")
    assert "orphans found (4)" in status.output and "--prune" in status.output
    pruned = cli("status", "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert "orphans removed (2)" in pruned.output and pruned.output.count("kept") == 2
    assert sorted(p.name for p in runs.iterdir() if len(p.name) > 16) == sorted(
        [".beef0000beef0000.abcd1234", f".{rerun}.abcd1234"]
    )
    assert len(_records(two_methods)) == 4  # every run's codes are still there
    assert cli("table", "--ci").exit_code == 0


def test_a_full_disk_while_writing_codes_stores_nothing(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "s.sqlite")
    store.save(_record("kept"), _arrays(1))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(StoreError, match="No space left on device.*nothing was stored"):
        store.save(_record("new"), _arrays(2))
    with pytest.raises(StoreError, match="nothing was stored"):
        store.save(_record("kept"), _arrays(3))  # a rerun that fails keeps the old version
    assert store.orphans() == [] and not store.has_run("new")
    assert (store.load_arrays(store.get("kept"))["codes.query.image"] == 1).all()


def test_a_failed_row_insert_removes_the_codes_it_wrote(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "s.sqlite")
    store.save(_record("kept"), _arrays(1))
    real = store._conn

    class FailingInsert:
        def __getattr__(self, name):
            return getattr(real, name)

        def execute(self, sql, *args):
            if sql.startswith("INSERT OR REPLACE INTO runs"):
                raise sqlite3.OperationalError("database or disk is full")
            return real.execute(sql, *args)

    monkeypatch.setattr(store, "_conn", FailingInsert())
    for run_id, fill in (("new", 2), ("kept", 3)):
        with pytest.raises(StoreError, match="disk is full.*nothing was stored"):
            store.save(_record(run_id), _arrays(fill))
    monkeypatch.undo()
    assert store.orphans() == [] and not store.has_run("new")
    assert not (store.runs_dir / "new").exists()
    assert (store.load_arrays(store.get("kept"))["codes.query.image"] == 1).all()


# --- helpers ---------------------------------------------------------------------------------


def _record(run_id: str) -> RunRecord:
    return RunRecord(
        run_id=run_id, method="lsh", dataset="synth-mirflickr", dataset_fingerprint="f" * 32,
        bits=16, seed=0, budget="quick", params={}, pair_fused=False,
        metrics={"i2t": {"map@50": 0.5}}, timings={}, provenance={},
    )  # fmt: skip


def _arrays(fill: int = 0) -> dict[str, np.ndarray]:
    return {"codes.query.image": np.full((4, 2), fill, np.uint8)}
