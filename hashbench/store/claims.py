"""Run claims: one process per run, however many share a results store.

A claim is a row (run id, owner, host, pid, expiry) in the store's `claims` table. It expires
after its lease unless renewed; a claim of a process that no longer exists on this host is
taken over at once, so a killed sweep resumes without waiting.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from dataclasses import dataclass

from hashbench.errors import StoreError


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


class ClaimsMixin:
    """Claim, renew and release runs; mixed into `ResultStore` (its `_transaction`, `_conn`)."""

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
