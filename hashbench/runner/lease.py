"""Keeps a process's claims on its runs alive while they execute (a heartbeat thread)."""

from __future__ import annotations

import threading
from pathlib import Path

from hashbench.errors import StoreError
from hashbench.store import ClaimOwner, ResultStore

# A claim not renewed for this long is free again (its process hung or lost its host).
LEASE_S = 600.0


class LeaseKeeper:
    """Renews `owner`'s claims on the runs in `active` every lease / 3 seconds.

    The thread has its own database connection (SQLite connections stay in their thread).
    """

    def __init__(self, store_path: Path, owner: ClaimOwner, lease_s: float = LEASE_S) -> None:
        self.store_path = store_path
        self.owner = owner
        self.lease_s = lease_s
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="hashbench-lease", daemon=True)

    def add(self, run_id: str) -> None:
        with self._lock:
            self._active.add(run_id)

    def remove(self, run_id: str) -> None:
        with self._lock:
            self._active.discard(run_id)

    def _beat(self) -> None:
        # created by the first claim, never here (an unusable path fails the sweep, not this)
        with ResultStore(self.store_path, defer_create=True) as store:
            while not self._stop.wait(self.lease_s / 3):
                with self._lock:
                    active = sorted(self._active)
                try:
                    store.renew(active, self.owner, self.lease_s)
                except StoreError:
                    pass  # a busy database: the next beat retries well before expiry

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
