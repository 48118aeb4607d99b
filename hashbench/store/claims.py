"""Run claims: one process per run, however many share a results store.

A claim is a row (run id, owner, host, pid, expiry) in the store's `claims` table. It expires
after its lease unless renewed; a claim of a process that no longer exists on this host is
taken over at once, so a killed sweep resumes without waiting. A claim also records which run
it is (`about`: method, dataset, bits, seed, budget, overrides, protocol), when it was taken
and the command line of its process, so `hashbench status` can name a run whose process died
before finishing it (an interrupted run) and the command that resumes it.

The `about`, `command` and `claimed_at` columns were added to the claims table in place (no
schema version: older hashbench versions write claims without them, which read as unknown).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hashbench.errors import StoreError

# Columns the claims table gained after version 3 of the schema, with their SQL definitions.
ADDED_CLAIM_COLUMNS = {
    "about": "TEXT NOT NULL DEFAULT '{}'",
    "command": "TEXT NOT NULL DEFAULT ''",
    "claimed_at": "REAL NOT NULL DEFAULT 0",
}


def command_line(argv: list[str] | None = None) -> str:
    """This process's command line as a user would type it ("hashbench run --methods ...")."""
    argv = list(sys.argv if argv is None else argv)
    if not argv:
        return ""
    program = os.path.basename(argv[0])
    if program == "__main__.py" and os.path.basename(os.path.dirname(argv[0])) == "hashbench":
        head = ["python", "-m", "hashbench"]
    else:
        head = [program if program == "hashbench" else argv[0]]
    return shlex.join(head + argv[1:])


@dataclass(frozen=True)
class ClaimOwner:
    """Who works on a run: one `hashbench run` process (a unique id, its host and pid, and the
    command line that started it)."""

    id: str
    host: str
    pid: int
    command: str = ""

    @classmethod
    def current(cls) -> ClaimOwner:
        return cls(
            id=uuid.uuid4().hex, host=socket.gethostname(), pid=os.getpid(), command=command_line()
        )


@dataclass(frozen=True)
class ClaimState:
    """A claim on a run that is not finished: "running" (its process holds it) or
    "interrupted" (its process is gone, or its lease ran out: nobody works on the run)."""

    run_id: str
    state: str
    host: str
    pid: int
    claimed_at: float  # seconds since the epoch; 0: unknown (claimed by an older hashbench)
    expires_at: float
    command: str = ""
    about: Mapping[str, Any] = field(default_factory=dict)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class ClaimsMixin:
    """Claim, renew and release runs; mixed into `ResultStore` (its `_transaction`, `_conn`)."""

    def claim(
        self,
        run_id: str,
        owner: ClaimOwner,
        lease_s: float,
        rerun: bool = False,
        about: Mapping[str, Any] | None = None,
    ) -> str:
        """Try to take `run_id` for `owner`: "claimed", "done" (already stored with its codes;
        not with `rerun`) or "busy" (another live process holds an unexpired claim). `about`
        says which run it is (shown by `hashbench status` if the run is interrupted).

        A claim expires after `lease_s` unless renewed; a claim of a process that no longer
        exists on this host is taken over at once (a killed sweep resumes without waiting).
        """
        now = time.time()
        try:
            with self._transaction():
                done = self._conn.execute(
                    "SELECT codes_path FROM runs WHERE run_id = ? AND status = 'done'", (run_id,)
                ).fetchone()
                if not rerun and done and (not done[0] or self.codes_present(done[0])):
                    # codes gone: redo it (no codes path: merged without codes, done)
                    return "done"
                held = self._conn.execute(
                    "SELECT owner, host, pid, expires_at FROM claims WHERE run_id = ?", (run_id,)
                ).fetchone()
                if held is not None and held[0] != owner.id and held[3] > now:
                    if held[1] != owner.host or _pid_alive(held[2]):
                        return "busy"
                self._conn.execute(
                    "INSERT OR REPLACE INTO claims (run_id, owner, host, pid, expires_at, about, "
                    "command, claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        owner.id,
                        owner.host,
                        owner.pid,
                        now + lease_s,
                        json.dumps(dict(about or {}), sort_keys=True, default=str),
                        owner.command,
                        now,
                    ),
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

    def unfinished_claims(self, now: float | None = None) -> list[ClaimState]:
        """Claims on runs not stored as done: each "running" or "interrupted" (see ClaimState),
        oldest first. Works on read-only stores, also ones whose claims lack the newer columns."""
        if self._conn is None:  # nothing stored yet
            return []
        now = time.time() if now is None else now
        try:
            present = {row[1] for row in self._conn.execute("PRAGMA table_info(claims)")}
            if not present:
                return []
            extra = ", ".join(
                f"c.{name}" if name in present else f"NULL AS {name}"
                for name in ADDED_CLAIM_COLUMNS
            )
            rows = self._conn.execute(
                f"SELECT c.run_id, c.host, c.pid, c.expires_at, {extra} FROM claims c "
                "WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = c.run_id "
                "AND r.status = 'done') ORDER BY claimed_at, c.run_id"
            ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the claims of {self.path}: {exc}") from exc
        here = socket.gethostname()
        out = []
        for run_id, host, pid, expires_at, about, command, claimed_at in rows:
            gone = expires_at <= now or (host == here and not _pid_alive(pid))
            try:
                parsed = json.loads(about or "{}")
            except ValueError:
                parsed = {}
            out.append(
                ClaimState(
                    run_id=run_id,
                    state="interrupted" if gone else "running",
                    host=host,
                    pid=int(pid),
                    claimed_at=float(claimed_at or 0.0),
                    expires_at=float(expires_at),
                    command=command or "",
                    about=parsed if isinstance(parsed, dict) else {},
                )
            )
        return out
