"""The files of a results store beside its database: which codes folder it owns, the atomic
write of a run's codes, and the folders no row refers to (orphans).

Each store owns one codes folder, named in a marker file inside it (`.store`, holding the
database's file name). The first store in a folder owns `runs/`; another store in the same
folder gets `<its file stem>.runs/` (`<its file name>.runs/` if a store of the same stem has
that), so two stores never write each other's codes. A `runs/`
without a marker (written before markers existed) is adopted, at its first write, by a store
whose rows refer to it; a new store beside it uses `<stem>.runs/`. Rows keep the path of their
codes relative to the store's folder, so codes written anywhere earlier are still read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MARKER = ".store"
CODES_FILE = "codes.npz"


def folder_writable(folder: Path) -> bool:
    """Whether this process may create files in `folder` (what SQLite needs for -wal/-shm)."""
    return os.access(folder, os.W_OK | os.X_OK)


def marker_owner(folder: Path) -> str | None:
    """The store file named by `folder`'s marker, or None when it has none (or is unreadable)."""
    try:
        return (folder / MARKER).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def candidates(store_path: Path) -> list[Path]:
    """The codes folders a store may own, in order: `runs/`, `<stem>.runs/`, `<name>.runs/`
    (the last for two stores that share a stem, e.g. `hb.sqlite` and `hb.db`)."""
    parent = store_path.parent
    return [parent / "runs", parent / f"{store_path.stem}.runs", parent / f"{store_path.name}.runs"]


def codes_folder(store_path: Path, refers_to_runs: Callable[[], bool]) -> Path:
    """The codes folder `store_path` owns (or will own at its first write): the first of
    `candidates` that is marked as its own, or free.

    refers_to_runs: whether the store's rows refer to codes under `runs/` (asked only for a
    `runs/` without a marker, i.e. written before markers existed: a store whose rows refer to
    it owns it; for any other store it is taken).
    """
    runs, *named = candidates(store_path)
    owner = marker_owner(runs)
    if owner == store_path.name or not runs.exists() or owner is None and refers_to_runs():
        return runs
    for folder in named:  # named after this store: free unless another store marked it
        if marker_owner(folder) in (None, store_path.name):
            return folder
    return named[-1]


@dataclass
class StagedCodes:
    """A run's codes written under a temporary name, waiting for its row: `commit` puts them in
    place (a previous version is kept aside until `finish`), `abort` removes what was written."""

    tmp: Path
    final: Path
    aside: Path | None = None

    def commit(self) -> None:
        if self.final.exists():  # a rerun, or an earlier attempt that crashed before its row
            self.aside = self.tmp.with_name(self.tmp.name + ".old")
            os.replace(self.final, self.aside)
        os.replace(self.tmp, self.final)

    def abort(self) -> None:
        """Undo `commit` (if done) and remove the temporary copy: the store is as before."""
        if self.aside is not None and self.aside.exists():
            shutil.rmtree(self.final, ignore_errors=True)
            os.replace(self.aside, self.final)
            self.aside = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def finish(self) -> None:
        if self.aside is not None:
            shutil.rmtree(self.aside, ignore_errors=True)


def stage_codes(folder: Path, run_id: str, arrays: Mapping[str, np.ndarray]) -> StagedCodes:
    """Write `arrays` to `.<run id>.<random>/codes.npz` in `folder` (removed again on error)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=folder))
    try:
        np.savez(tmp / CODES_FILE, **arrays)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return StagedCodes(tmp=tmp, final=folder / run_id)


@dataclass(frozen=True)
class Orphan:
    """An entry of a store's codes folder that no row refers to: `run_id` is the run it was
    written for (a leftover temporary folder's too); `temporary` for a `.tmp` leftover."""

    path: Path
    run_id: str
    temporary: bool


def find_orphans(folder: Path, referenced: Iterable[str]) -> list[Orphan]:
    """Entries of `folder` (a store's own codes folder) that are not a referenced run's."""
    if not folder.is_dir():
        return []
    keep = set(referenced)
    out = []
    for entry in sorted(folder.iterdir()):
        if entry.name == MARKER:
            continue
        if entry.name.startswith("."):  # `.<run id>.<random>[.old]`: a write that never ended
            name = entry.name[1:].removesuffix(".old")
            out.append(Orphan(entry, name.rsplit(".", 1)[0], temporary=True))
        elif entry.name not in keep:
            out.append(Orphan(entry, entry.name, temporary=False))
    return out


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
