"""What `hashbench merge` reads: the runs of a source (a results store's .sqlite file, or an
export folder written by `hashbench export`), each checked, and what two runs' provenance says
about the machines they ran on.

A store source is opened read-only and every row is checked against its row digest; a run's
codes file is checked against the run's codes digest (`ResultStore.load_arrays`) before it is
copied, and the copy against the bytes that were checked. An export folder is read whole
through `hashbench.export.reader.iter_exported`, which checks every file, before anything is
planned. Any problem is refused with the source named, before the target is touched.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashbench.errors import HashbenchError, InputError, StoreError
from hashbench.store.database import ResultStore
from hashbench.store.records import RunRecord, codes_digest


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


@dataclass
class IncomingRun:
    """One run of a source. Its codes come from a store's codes file (`store`, checked by
    `check`, then copied by `write`) or from an export's checked arrays (`arrays`)."""

    record: RunRecord
    source: str  # the source as named on the command line
    store: ResultStore | None = None
    arrays: dict[str, np.ndarray] | None = None
    _file_sha: str | None = field(default=None, repr=False)
    _sha: str | None = field(default=None, repr=False)

    @property
    def has_codes(self) -> bool:
        if self.store is not None:
            return bool(self.record.codes_path)
        return self.arrays is not None

    @property
    def done(self) -> bool:
        return self.record.status == "done"

    def codes_sha(self) -> str | None:
        """The checksum of the run's codes and labels: the recorded one, or (a row stored
        before checksums) computed from its checked codes; None for a run without codes."""
        if self._sha is None:
            self._sha = self.record.codes_digest.get("sha256")
            if self._sha is None and self.has_codes:
                self._sha = codes_digest(self._checked_arrays(), self.record.bits)["sha256"]
        return self._sha

    def check(self) -> None:
        """Refuse codes that are not the run's own (before anything is written)."""
        if self.has_codes and self.store is not None and self._file_sha is None:
            self._checked_arrays()

    def _checked_arrays(self) -> Mapping[str, np.ndarray]:
        if self.store is None:
            assert self.arrays is not None
            return self.arrays
        try:
            arrays = self.store.load_arrays(self.record)
        except HashbenchError as exc:
            raise StoreError(
                f"cannot merge from {self.source}: {exc} (`hashbench status --store "
                f"{self.source}` lists what is wrong there)"
            ) from exc
        self._file_sha = file_sha256(self.store.path.parent / self.record.codes_path)
        return arrays

    def write(self, dest: Path) -> None:
        """Write the run's codes file to `dest` (a store's codes are copied byte for byte and
        the copy checked against the bytes `check` verified)."""
        if self.store is None:
            assert self.arrays is not None
            np.savez(dest, **self.arrays)
            return
        self.check()
        shutil.copyfile(self.store.path.parent / self.record.codes_path, dest)
        if file_sha256(dest) != self._file_sha:
            raise StoreError(
                f"the codes file of run {self.record.run_id} in {self.source} changed during "
                "the merge; nothing was merged, run the merge again"
            )


def read_source(path: Path, target: Path, stores: list[ResultStore]) -> list[IncomingRun]:
    """Every run of the source `path` (failed runs and tuning trials included), checked.

    A store source stays open (appended to `stores`, closed by the caller) so its codes can
    be checked and copied later.
    """
    name = str(path)
    if not path.exists():
        raise InputError(
            f"source {name} does not exist; name a results store (.sqlite) or a folder "
            "written by `hashbench export`"
        )
    if path.resolve() == target.resolve():
        raise InputError(f"source {name} is the target store itself; name another source")
    if path.is_dir():
        return list(_export_runs(path, name))
    try:
        store = ResultStore(path, readonly=True)
    except StoreError as exc:
        raise StoreError(f"cannot merge from {name}: {exc}") from exc
    stores.append(store)
    out = []
    for row in store._query(f"SELECT {store._select} FROM runs ORDER BY run_id"):
        try:
            record = store._checked(row)
        except StoreError as exc:
            raise StoreError(f"cannot merge from {name}: {exc}") from exc
        if record.status == "done" and record.codes_path:
            if not store.codes_present(record.codes_path):
                raise StoreError(
                    f"cannot merge from {name}: the codes of run {record.run_id} are missing "
                    f"({store.path.parent / record.codes_path}); redo it there with `hashbench "
                    f"run ... --store {name}`, or delete its row (`hashbench status --store "
                    f"{name}` lists it)"
                )
        out.append(IncomingRun(record=record, source=name, store=store))
    return out


def _export_runs(folder: Path, name: str) -> Iterator[IncomingRun]:
    try:
        from hashbench.export.reader import iter_exported
    except ImportError:  # pragma: no cover - export ships with the same hashbench
        raise InputError(
            f"source {name} is a folder, and this hashbench cannot read export folders; name a "
            "results store (.sqlite)"
        ) from None
    for run in list(iter_exported(folder)):  # read (and check) it all before planning
        yield IncomingRun(record=run.record, source=name, arrays=run.arrays)


# --- machines ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Machines:
    """Whether two runs ran on the same machine: `same` (None: unknown) and how sure
    (`certain`: both recorded a machine id)."""

    same: bool | None
    certain: bool

    def text(self) -> str:
        if self.same is None:
            return "machines unknown (no provenance recorded)"
        if self.certain:
            return "same machine" if self.same else "different machines"
        if self.same:
            return "probably the same machine (no machine id recorded; same CPU, platform, cores)"
        return "probably different machines (no machine id recorded; CPU, platform or cores differ)"


FALLBACK_KEYS = ("cpu", "platform", "cpu_count")


def _host(provenance: Mapping[str, Any]) -> Mapping[str, Any]:
    host = provenance.get("host")
    return host if isinstance(host, Mapping) else {}


def compare_machines(a: Mapping[str, Any], b: Mapping[str, Any]) -> Machines:
    """Same machine or not, from two runs' provenance: the machine ids when both have one
    (recorded since schema 5), else the CPU model, platform and core count ("probably")."""
    id_a, id_b = _host(a).get("machine_id"), _host(b).get("machine_id")
    if id_a and id_b:
        return Machines(same=id_a == id_b, certain=True)
    if not any(a.get(k) for k in FALLBACK_KEYS) or not any(b.get(k) for k in FALLBACK_KEYS):
        return Machines(same=None, certain=False)
    same = all(a.get(k) == b.get(k) for k in FALLBACK_KEYS)
    names = _host(a).get("hostname"), _host(b).get("hostname")
    if all(names) and names[0] != names[1]:
        same = False
    return Machines(same=same, certain=False)


def host_name(provenance: Mapping[str, Any]) -> str:
    """The machine a run ran on, for messages: its hostname, else its CPU, else unknown."""
    if hostname := _host(provenance).get("hostname"):
        return f"host {hostname}"
    if cpu := provenance.get("cpu"):
        return f"{cpu}, host not recorded"
    return "host unknown"


def environment_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """The first differences of two runs' software ("torch 2.1 vs 2.2, commit 1a2b vs 3c4d"),
    "" when none is recorded."""
    found = []
    versions_a, versions_b = a.get("versions") or {}, b.get("versions") or {}
    for package in sorted(set(versions_a) | set(versions_b)):
        if versions_a.get(package) != versions_b.get(package):
            found.append(f"{package} {versions_a.get(package)} vs {versions_b.get(package)}")
    commit_a, commit_b = ((p.get("git") or {}).get("commit") for p in (a, b))
    if commit_a != commit_b:
        found.append(f"commit {str(commit_a)[:8]} vs {str(commit_b)[:8]}")
    for key in ("python", "torch_threads", "device"):
        if a.get(key) != b.get(key):
            found.append(f"{key} {a.get(key)} vs {b.get(key)}")
    return ", ".join(found[:3])
