"""The results database: SQLite in WAL mode, one row per finished run, codes beside it.

Layout: the database file (default `results/hashbench.sqlite`) and, next to it, the store's own
codes folder (`runs/`, or `<store stem>.runs/` for a second store in the same folder; see
`files.py`) holding `<run id>/codes.npz` (bit-packed codes of every split and modality, the
query/retrieval labels and per-query scores) so any metric can be recomputed later without the
dataset.

Writes are all-or-nothing: the codes are written under a temporary name, then the row is
inserted and the codes renamed into place in one transaction; a write that fails (a full disk)
removes what it wrote and leaves an earlier version of the run as it was. Reads are checked:
rows against their row digest, codes against their checksums (`verify.py`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from hashbench.errors import StoreError
from hashbench.store import files
from hashbench.store.claims import ADDED_CLAIM_COLUMNS, ClaimsMixin
from hashbench.store.integrity import IntegrityMixin
from hashbench.store.records import (
    _SCHEMA,
    ADDED_COLUMNS,
    COLUMNS,
    SCHEMA_VERSION,
    RunRecord,
    codes_digest,
    from_row,
    row_digest,
    to_row,
)
from hashbench.store.verify import RERUN_HINT, codes_problem, missing_codes_text, row_problem

DEFAULT_STORE = Path("results") / "hashbench.sqlite"
STORE_ENV = "HASHBENCH_STORE"


def _has_core_columns(conn: sqlite3.Connection) -> bool:
    present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    return {"run_id", "method", "dataset", "metrics", "codes_path"} <= present


def default_store_path() -> Path:
    """`HASHBENCH_STORE`, else results/hashbench.sqlite (relative to the working directory)."""
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


class MissingCodesError(StoreError):
    """A finished run whose codes file is gone (a deleted codes folder)."""


class ResultStore(ClaimsMixin, IntegrityMixin):
    """The results database at `path`.

    For writing (the default) a missing database is created; with `defer_create` only at the
    first write, so a command refused on bad input leaves nothing behind. `readonly=True`
    (commands that only read) never creates or changes anything: a missing file or one that is
    not a hashbench store is refused. Either way a foreign SQLite file is refused, untouched.
    """

    def __init__(
        self, path: Path | str, *, readonly: bool = False, defer_create: bool = False
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None
        self._select = ", ".join(COLUMNS)
        if readonly:
            self._open_readonly()
        elif self.path.exists() or not defer_create:
            self._open_for_writing()

    def _connect(self, target: str | Path, **kwargs: Any) -> sqlite3.Connection:
        conn = sqlite3.connect(target, timeout=30, isolation_level=None, **kwargs)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"results store {self.path} has schema version {version}, newer than this "
                f"hashbench understands ({SCHEMA_VERSION}); upgrade hashbench"
            )
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if tables and "runs" not in tables or "runs" in tables and not _has_core_columns(conn):
            conn.close()
            raise StoreError(
                f"{self.path} is an SQLite database but not a hashbench results store; "
                "choose another file with --store PATH"
            )
        return conn

    def _open_readonly(self) -> None:
        if not self.path.is_file():
            raise StoreError(
                f"no results store at {self.path}; run `hashbench run ...` first, or point "
                f"--store (or {STORE_ENV}) at an existing one"
            )
        # No -wal/-shm beside it: no writer is open and every write is in the file itself, so
        # it is read as immutable, which creates nothing (a plain read-only open of a WAL
        # database creates both files and, read-only, cannot remove them again).
        leftovers = [p for p in (self._sidecar("-wal"), self._sidecar("-shm")) if p.exists()]
        mode = "mode=ro" if leftovers else "immutable=1"
        try:
            self._conn = self._connect(self.path.resolve().as_uri() + f"?{mode}", uri=True)
            present = {row[1] for row in self._conn.execute("PRAGMA table_info(runs)")}
        except sqlite3.DatabaseError as exc:
            if not files.folder_writable(self.path.parent):
                raise StoreError(
                    f"results store {self.path} is in a read-only folder and cannot be read: "
                    f"{exc} (SQLite needs to create {self.path.name}-shm beside it while "
                    f"{self._sidecar('-wal').name} is there). Copy the store with its -wal file "
                    "to a writable folder and pass --store, or open it once where it is "
                    "writable so that the -wal file is merged"
                ) from exc
            raise StoreError(
                f"results store {self.path} cannot be used: {exc}. If the file is damaged or "
                "not a hashbench database, choose another with --store PATH"
            ) from exc
        if not present:  # an empty database file: nothing stored yet
            self._select = ""
            return
        # an older store, read as it is: columns it lacks read as their defaults
        self._select = ", ".join(
            c if c in present or c not in ADDED_COLUMNS else f"{ADDED_COLUMNS[c]} AS {c}"
            for c in COLUMNS
        )

    def _sidecar(self, suffix: str) -> Path:
        return self.path.with_name(self.path.name + suffix)

    def _open_for_writing(self) -> None:
        if self.path.exists() and not files.folder_writable(self.path.parent):
            raise StoreError(
                f"results store {self.path} is in a read-only folder ({self.path.parent}): "
                "commands that only read (table, report, eval, status) work there; to run or "
                "tune, copy the store (with its codes folder) somewhere writable and pass --store"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = self._connect(self.path)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            with self._transaction():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._conn.execute(statement)
                present = {row[1] for row in self._conn.execute("PRAGMA table_info(runs)")}
                for column, default in ADDED_COLUMNS.items():  # an older store: add in place
                    if column not in present:
                        self._conn.execute(
                            f"ALTER TABLE runs ADD COLUMN {column} TEXT NOT NULL DEFAULT {default}"
                        )
                claimed = {row[1] for row in self._conn.execute("PRAGMA table_info(claims)")}
                for column, definition in ADDED_CLAIM_COLUMNS.items():
                    if column not in claimed:  # claims of an older store: add in place
                        self._conn.execute(f"ALTER TABLE claims ADD COLUMN {column} {definition}")
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
        if self._conn is not None:
            self._conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        if self.readonly:
            raise StoreError(f"results store {self.path} was opened read-only")
        if self._conn is None:  # the first write creates the database
            self._open_for_writing()
        assert self._conn is not None
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:  # also when COMMIT itself failed (a full disk)
                self._conn.execute("ROLLBACK")
            raise

    # --- writing ----------------------------------------------------------------------------

    def save(self, record: RunRecord, arrays: Mapping[str, np.ndarray]) -> None:
        """Store a finished run and its arrays (packed codes, labels, per-query scores)
        atomically, with the checksums of both (the one place they are computed)."""
        record.codes_digest = codes_digest(arrays, record.bits)
        folder = self.runs_dir
        try:
            if self._conn is None:  # the first write creates the database
                self._open_for_writing()
            folder = self.claim_codes_folder()
            record.codes_path = f"{folder.name}/{record.run_id}/{files.CODES_FILE}"
            row = self._digested_row(record)
            staged = files.stage_codes(folder, record.run_id, arrays)
        except OSError as exc:
            raise StoreError(
                f"cannot write codes of run {record.run_id} under {folder}: "
                f"{exc.strerror or exc}; nothing was stored (free space, or choose another "
                "--store)"
            ) from exc
        try:
            with self._transaction():
                self._conn.execute(
                    f"INSERT OR REPLACE INTO runs ({', '.join(row)}) "
                    f"VALUES ({', '.join('?' for _ in row)})",
                    tuple(row.values()),
                )
                staged.commit()  # inside the transaction: a failed rename stores no row
        except BaseException as exc:
            staged.abort()
            if isinstance(exc, sqlite3.Error | OSError):
                raise StoreError(
                    f"cannot write run {record.run_id} to {self.path}: {exc}; nothing was "
                    "stored (what was written is removed)"
                ) from exc
            raise
        staged.finish()

    def _digested_row(self, record: RunRecord) -> dict[str, Any]:
        """The row of `record` with its row digest (set on the record too)."""
        record.row_digest = ""
        row = self._to_row(record)
        record.row_digest = row["row_digest"] = row_digest(row)
        return row

    def save_failure(self, record: RunRecord, error: str) -> None:
        """Record a run that raised: its cell of the grid, status "failed" and the traceback.

        A finished result of the same run id is never replaced by a failure.
        """
        record.status, record.error, record.codes_path = "failed", error, ""
        row = self._digested_row(record)
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
            f"SELECT {self._select} FROM runs WHERE status = 'failed' "
            "ORDER BY dataset, method, bits, seed"
        )
        return [self._from_row(row) for row in rows]

    # --- reading ----------------------------------------------------------------------------

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        if self._conn is None or not self._select:  # nothing has been stored yet
            return []
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read results store {self.path}: {exc}") from exc

    def has_run(self, run_id: str) -> bool:
        """Whether `run_id` is stored as done with its codes file (a run whose codes were
        deleted counts as not done: `hashbench run` redoes it), or merged without codes."""
        rows = self._query(
            "SELECT codes_path FROM runs WHERE run_id = ? AND status = 'done'", (run_id,)
        )
        return bool(rows) and (not rows[0][0] or self.codes_present(rows[0][0]))

    def codes_present(self, codes_path: str) -> bool:
        return bool(codes_path) and (self.path.parent / codes_path).is_file()

    def get(self, run_id: str) -> RunRecord:
        rows = self._query(f"SELECT {self._select} FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            rows = self._query(
                f"SELECT {self._select} FROM runs WHERE run_id LIKE ?", (run_id + "%",)
            )
            if len(rows) != 1:
                what = "no run" if not rows else f"{len(rows)} runs"
                raise StoreError(f"{what} with id '{run_id}' in {self.path}; see `hashbench table`")
        return self._checked(rows[0])

    def records(self, **filters: Any) -> list[RunRecord]:
        """Finished runs, optionally filtered by column values (a value may be a list).

        Trials of tuning studies are left out unless `protocol` is given.
        """
        clauses, args = ["status = 'done'"], []
        if filters.get("protocol") is None:
            clauses.append("protocol != 'trial'")
        for column, value in filters.items():
            if value is None:
                continue
            if column not in COLUMNS:
                raise ValueError(f"unknown column {column}")
            values = list(value) if isinstance(value, list | tuple | set) else [value]
            clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
            args.extend(values)
        sql = (
            f"SELECT {self._select} FROM runs WHERE {' AND '.join(clauses)} "
            "ORDER BY dataset, method, bits, seed"
        )
        return [self._checked(row) for row in self._query(sql, tuple(args))]

    def _checked(self, row: tuple) -> RunRecord:
        """The record of a row whose row digest holds (refused with the fix otherwise)."""
        record = self._from_row(row)
        problem = row_problem(row)
        if problem:
            raise StoreError(
                f"run {record.run_id} in {self.path} was changed after it was stored (row "
                f"digest check: {problem}), so its numbers cannot be trusted. "
                f"{RERUN_HINT}, or delete its row"
            )
        return record

    _from_row = staticmethod(from_row)
    _to_row = staticmethod(to_row)

    def load_arrays(self, record: RunRecord) -> dict[str, np.ndarray]:
        """The stored arrays of a run (packed codes, labels, per-query scores), checked against
        the checksums, shapes and code length recorded in its row: the one way stored arrays
        are read. Older rows are read as `verify.py` says (per-query values without a checksum
        are left out, to be recomputed from the verified codes). A missing file raises
        MissingCodesError, any other failed check StoreError, each naming the file, the run and
        the fix."""
        path = self.path.parent / record.codes_path
        if not self.codes_present(record.codes_path):
            raise MissingCodesError(missing_codes_text(record, path))
        try:
            with np.load(path) as data:
                arrays = {name: data[name] for name in data.files}
        except Exception as exc:  # a truncated zip raises BadZipFile, EOFError, zlib.error...
            raise StoreError(
                f"cannot read the codes of run {record.run_id} at {path}: "
                f"{type(exc).__name__}: {exc}. {RERUN_HINT}"
            ) from exc
        problem, checked = codes_problem(record, arrays)
        if problem:
            raise StoreError(
                f"the codes file {path} does not belong to run {record.run_id}: {problem}. "
                f"{RERUN_HINT}"
            )
        return checked
