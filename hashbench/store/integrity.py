"""What `hashbench status` checks in a store beyond its rows: the codes folder the store owns,
finished runs whose codes are gone, rows changed after they were stored, and orphans (codes no
row refers to, or a write that never finished) with their removal (`status --prune`).

Mixed into `ResultStore` (its `path`, `_query`, `_from_row`, `_transaction`, claims).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from hashbench.errors import StoreError
from hashbench.store import files
from hashbench.store.claims import _pid_alive
from hashbench.store.records import RunRecord
from hashbench.store.verify import row_problem


class IntegrityMixin:
    """The store's codes folder and the checks of `hashbench status`."""

    @property
    def runs_dir(self) -> Path:
        """The codes folder this store owns (or will own at its first write)."""
        return files.codes_folder(self.path, self._refers_to_runs)

    def _refers_to_runs(self) -> bool:
        return bool(self._query("SELECT 1 FROM runs WHERE codes_path LIKE 'runs/%' LIMIT 1"))

    def claim_codes_folder(self) -> Path:
        """Take the store's codes folder for writing: create it with its marker (created
        exclusively: of two stores that find the same folder free, the loser takes its next
        candidate)."""
        folder = self.runs_dir
        for _ in files.candidates(self.path):
            if files.marker_owner(folder) == self.path.name:
                return folder
            folder.mkdir(parents=True, exist_ok=True)
            try:
                with open(folder / files.MARKER, "x", encoding="utf-8") as marker:
                    marker.write(self.path.name + "\n")
                return folder
            except FileExistsError:
                if files.marker_owner(folder) == self.path.name:
                    return folder
            folder = self.runs_dir  # another store was first: the next free candidate
        taken = ", ".join(map(str, files.candidates(self.path)))
        raise StoreError(
            f"no codes folder is free for {self.path}: {taken} belong to other stores; move "
            "this store to a folder of its own"
        )

    def missing_codes(self) -> list[RunRecord]:
        """Finished runs whose codes file does not exist (a deleted codes folder); not runs
        merged without codes (no codes path: `hashbench merge` of an export without them)."""
        rows = self._query(
            f"SELECT {self._select} FROM runs WHERE status = 'done' AND codes_path != '' "
            "ORDER BY dataset, method, bits, seed"
        )
        return [r for r in map(self._from_row, rows) if not self.codes_present(r.codes_path)]

    def damaged_rows(self) -> list[tuple[str, str]]:
        """(run id, why) of rows changed after they were stored (their row digest fails)."""
        rows = self._query(f"SELECT {self._select} FROM runs ORDER BY run_id")
        return [(row[0], p) for row in rows if (p := row_problem(row))]

    def _owned_folder(self) -> Path | None:
        """The codes folder whose marker names this store (None when it has none yet): the
        only place orphans are looked for, so another store's codes are never touched."""
        folder = self.runs_dir
        return folder if files.marker_owner(folder) == self.path.name else None

    def orphans(self) -> list[files.Orphan]:
        """Entries of the store's own codes folder that no row refers to, and leftovers of
        writes that never finished."""
        folder = self._owned_folder()
        if folder is None:
            return []
        paths = self._query("SELECT codes_path FROM runs WHERE codes_path != ''")
        if self._query("SELECT 1 FROM sqlite_master WHERE name = 'replicates'"):  # schema 5
            paths += self._query("SELECT codes_path FROM replicates WHERE codes_path != ''")
        referenced = [
            Path(path).parent.name
            for (path,) in paths
            if Path(path).parent.parent.name == folder.name
        ]
        return files.find_orphans(folder, referenced)

    def _held_run_ids(self) -> set[str]:
        """Run ids a live process holds a claim on (also a finished run being rerun)."""
        here, now = socket.gethostname(), time.time()
        rows = self._query("SELECT run_id, host, pid FROM claims WHERE expires_at > ?", (now,))
        return {run_id for run_id, host, pid in rows if host != here or _pid_alive(pid)}

    def prune_orphans(self) -> tuple[list[files.Orphan], list[files.Orphan]]:
        """Remove the orphans: (removed, kept because a live process holds a claim on their run
        id, i.e. may be writing them right now)."""
        if self.readonly:
            raise StoreError(f"results store {self.path} was opened read-only")
        busy = self._held_run_ids()
        removed, kept = [], []
        for orphan in self.orphans():
            if orphan.run_id in busy:
                kept.append(orphan)
                continue
            try:
                files.remove(orphan.path)
            except OSError as exc:
                raise StoreError(f"cannot remove {orphan.path}: {exc.strerror or exc}") from exc
            removed.append(orphan)
        return removed, kept
