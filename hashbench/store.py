"""The results database: SQLite in WAL mode, one row per finished run, codes beside it.

Layout: the database file (default `results/hashbench.sqlite`) and, next to it, `runs/<run id>/`
holding `codes.npz` (bit-packed codes of every split and modality, and the query/retrieval
labels) so any metric can be recomputed later without the dataset.

Writes are all-or-nothing: the codes folder is written under a temporary name and renamed into
place, then the row is inserted in one transaction. A crash at any point leaves either no row or
a complete one (an orphan codes folder is overwritten when the run is repeated).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashbench.errors import StoreError

DEFAULT_STORE = Path("results") / "hashbench.sqlite"
STORE_ENV = "HASHBENCH_STORE"
SCHEMA_VERSION = 2  # 2: column `error` (traceback of a failed run)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id              TEXT PRIMARY KEY,
    method              TEXT NOT NULL,
    dataset             TEXT NOT NULL,
    dataset_fingerprint TEXT NOT NULL,
    bits                INTEGER NOT NULL,
    seed                INTEGER NOT NULL,
    budget              TEXT NOT NULL,
    params              TEXT NOT NULL,
    pair_fused          INTEGER NOT NULL,
    status              TEXT NOT NULL,
    metrics             TEXT NOT NULL,
    timings             TEXT NOT NULL,
    profile             TEXT NOT NULL DEFAULT '{}',
    provenance          TEXT NOT NULL,
    codes_path          TEXT NOT NULL,
    error               TEXT NOT NULL DEFAULT '',
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS runs_by_grid ON runs (dataset, method, bits, seed);
CREATE TABLE IF NOT EXISTS claims (
    run_id     TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class ClaimOwner:
    """Who works on a run: one `hashbench run` process (a unique id, its host and pid)."""

    id: str
    host: str
    pid: int

    @classmethod
    def current(cls) -> ClaimOwner:
        return cls(id=uuid.uuid4().hex, host=socket.gethostname(), pid=os.getpid())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def default_store_path() -> Path:
    """`HASHBENCH_STORE`, else results/hashbench.sqlite (relative to the working directory)."""
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


@dataclass
class RunRecord:
    """One finished run as stored."""

    run_id: str
    method: str
    dataset: str
    dataset_fingerprint: str
    bits: int
    seed: int
    budget: str
    params: dict[str, Any]
    pair_fused: bool
    metrics: dict[str, Any]
    timings: dict[str, float]
    provenance: dict[str, Any]
    profile: dict[str, Any] = field(default_factory=dict)
    status: str = "done"  # "done" or "failed"
    codes_path: str = ""
    created_at: str = ""
    error: str = ""  # traceback of a failed run


_JSON_FIELDS = ("params", "metrics", "timings", "provenance", "profile")
_COLUMNS = (
    "run_id",
    "method",
    "dataset",
    "dataset_fingerprint",
    "bits",
    "seed",
    "budget",
    "params",
    "pair_fused",
    "status",
    "metrics",
    "timings",
    "profile",
    "provenance",
    "codes_path",
    "created_at",
    "error",
)


class ResultStore:
    """Open (creating if needed) the results database at `path`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.runs_dir = self.path.parent / "runs"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.runs_dir.mkdir(exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"results store {self.path} has schema version {version}, newer than this "
                    f"hashbench understands ({SCHEMA_VERSION}); upgrade hashbench"
                )
            with self._transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._conn.execute(statement)
                columns = {row[1] for row in self._conn.execute("PRAGMA table_info(runs)")}
                if "error" not in columns:  # a version-1 store: add the column in place
                    self._conn.execute("ALTER TABLE runs ADD COLUMN error TEXT NOT NULL DEFAULT ''")
                self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"results store {self.path} cannot be used: {exc}. If the file is damaged or not "
                f"a hashbench database, move it away or choose another with --store PATH"
            ) from exc
        except OSError as exc:
            raise StoreError(
                f"results store {self.path} cannot be created: {exc.strerror or exc}. "
                f"Choose a writable location with --store PATH or {STORE_ENV}"
            ) from exc

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # --- writing ----------------------------------------------------------------------------

    def save(self, record: RunRecord, arrays: Mapping[str, np.ndarray]) -> None:
        """Store a finished run and its arrays (packed codes, labels) atomically."""
        final = self.runs_dir / record.run_id
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{record.run_id}.", dir=self.runs_dir))
            try:
                np.savez(tmp / "codes.npz", **arrays)
                if final.exists():  # left by an earlier attempt that crashed before its row
                    shutil.rmtree(final)
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        except OSError as exc:
            raise StoreError(
                f"cannot write codes of run {record.run_id} under {self.runs_dir}: {exc}"
            ) from exc
        record.codes_path = str(Path("runs") / record.run_id / "codes.npz")
        row = self._to_row(record)
        try:
            with self._transaction():
                self._conn.execute(
                    f"INSERT OR REPLACE INTO runs ({', '.join(row)}) "
                    f"VALUES ({', '.join('?' for _ in row)})",
                    tuple(row.values()),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write run {record.run_id} to {self.path}: {exc}") from exc

    def save_failure(self, record: RunRecord, error: str) -> None:
        """Record a run that raised: its cell of the grid, status "failed" and the traceback.

        A finished result of the same run id is never replaced by a failure.
        """
        record.status, record.error, record.codes_path = "failed", error, ""
        row = self._to_row(record)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != "run_id")
        try:
            with self._transaction():
                self._conn.execute(
                    f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)}) "
                    f"ON CONFLICT(run_id) DO UPDATE SET {updates} WHERE runs.status != 'done'",
                    tuple(row.values()),
                )
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot record failed run {record.run_id} in {self.path}: {exc}"
            ) from exc

    def statuses(self, run_ids: list[str]) -> dict[str, str]:
        """Status ("done" / "failed") of those of `run_ids` that are stored."""
        out: dict[str, str] = {}
        for start in range(0, len(run_ids), 500):
            chunk = run_ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self._query(
                f"SELECT run_id, status FROM runs WHERE run_id IN ({marks})", tuple(chunk)
            )
            out.update(dict(rows))
        return out

    def status_counts(self) -> list[tuple[str, str, int, int]]:
        """(dataset, method, done runs, failed runs) for every stored pair."""
        return [
            (d, m, int(done), int(failed))
            for d, m, done, failed in self._query(
                "SELECT dataset, method, SUM(status = 'done'), SUM(status = 'failed') FROM runs "
                "GROUP BY dataset, method ORDER BY dataset, method"
            )
        ]

    def failures(self) -> list[RunRecord]:
        """Runs whose last attempt failed."""
        rows = self._query(
            f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE status = 'failed' "
            "ORDER BY dataset, method, bits, seed"
        )
        return [self._from_row(row) for row in rows]

    # --- claims: one process per run, however many share the store --------------------------

    def claim(self, run_id: str, owner: ClaimOwner, lease_s: float, rerun: bool = False) -> str:
        """Try to take `run_id` for `owner`: "claimed", "done" (already stored; not with
        `rerun`) or "busy" (another live process holds an unexpired claim).

        A claim expires after `lease_s` unless renewed; a claim of a process that no longer
        exists on this host is taken over at once (a killed sweep resumes without waiting).
        """
        now = time.time()
        try:
            with self._transaction():
                if (
                    not rerun
                    and self._conn.execute(
                        "SELECT 1 FROM runs WHERE run_id = ? AND status = 'done'", (run_id,)
                    ).fetchone()
                ):
                    return "done"
                held = self._conn.execute(
                    "SELECT owner, host, pid, expires_at FROM claims WHERE run_id = ?", (run_id,)
                ).fetchone()
                if held is not None and held[0] != owner.id and held[3] > now:
                    if held[1] != owner.host or _pid_alive(held[2]):
                        return "busy"
                self._conn.execute(
                    "INSERT OR REPLACE INTO claims (run_id, owner, host, pid, expires_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (run_id, owner.id, owner.host, owner.pid, now + lease_s),
                )
                return "claimed"
        except sqlite3.Error as exc:
            raise StoreError(f"cannot claim run {run_id} in {self.path}: {exc}") from exc

    def renew(self, run_ids: list[str], owner: ClaimOwner, lease_s: float) -> None:
        """Extend `owner`'s claims on `run_ids` by `lease_s` from now."""
        if not run_ids:
            return
        marks = ", ".join("?" for _ in run_ids)
        with self._transaction():
            self._conn.execute(
                f"UPDATE claims SET expires_at = ? WHERE owner = ? AND run_id IN ({marks})",
                (time.time() + lease_s, owner.id, *run_ids),
            )

    def release(self, run_id: str, owner: ClaimOwner) -> None:
        with self._transaction():
            self._conn.execute(
                "DELETE FROM claims WHERE run_id = ? AND owner = ?", (run_id, owner.id)
            )

    @staticmethod
    def _to_row(record: RunRecord) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for column in _COLUMNS:
            if column == "created_at":
                continue
            value = getattr(record, column)
            if column in _JSON_FIELDS:
                value = json.dumps(value, sort_keys=True)
            elif column == "pair_fused":
                value = int(value)
            row[column] = value
        return row

    # --- reading ----------------------------------------------------------------------------

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read results store {self.path}: {exc}") from exc

    def has_run(self, run_id: str) -> bool:
        rows = self._query("SELECT 1 FROM runs WHERE run_id = ? AND status = 'done'", (run_id,))
        return bool(rows)

    def get(self, run_id: str) -> RunRecord:
        rows = self._query(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            rows = self._query(
                f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE run_id LIKE ?", (run_id + "%",)
            )
            if len(rows) != 1:
                what = "no run" if not rows else f"{len(rows)} runs"
                raise StoreError(f"{what} with id '{run_id}' in {self.path}; see `hashbench table`")
        return self._from_row(rows[0])

    def records(self, **filters: Any) -> list[RunRecord]:
        """Finished runs, optionally filtered by column values (a value may be a list)."""
        clauses, args = ["status = 'done'"], []
        for column, value in filters.items():
            if value is None:
                continue
            if column not in _COLUMNS:
                raise ValueError(f"unknown column {column}")
            values = list(value) if isinstance(value, list | tuple | set) else [value]
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            args.extend(values)
        sql = (
            f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE {' AND '.join(clauses)} "
            "ORDER BY dataset, method, bits, seed"
        )
        return [self._from_row(row) for row in self._query(sql, tuple(args))]

    @staticmethod
    def _from_row(row: tuple) -> RunRecord:
        values = dict(zip(_COLUMNS, row, strict=True))
        for column in _JSON_FIELDS:
            values[column] = json.loads(values[column])
        values["pair_fused"] = bool(values["pair_fused"])
        return RunRecord(**values)

    def load_arrays(self, record: RunRecord) -> dict[str, np.ndarray]:
        """The stored arrays of a run (packed codes and labels)."""
        path = self.path.parent / record.codes_path
        try:
            with np.load(path) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"cannot read the codes of run {record.run_id} at {path}: {exc}"
            ) from exc
