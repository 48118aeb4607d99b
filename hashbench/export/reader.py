"""Reading an export folder back: `iter_exported(folder)` yields each run's record (and arrays)
after checking every file against its schema and its digests.

Contract (used by `hashbench merge`):

- `iter_exported(folder)` yields one `ExportedRun` per file `runs/<run_id>.json` that the
  folder's `manifest.json` lists, in run-id order. It is a generator: a bad file raises when
  it is reached, so a caller that must not act on half a folder reads it all first
  (`list(iter_exported(folder))`).
- `ExportedRun.record` is the `RunRecord` exactly as the source store held it (every column,
  `codes_path` and `created_at` included, row digest intact): `ResultStore.save` of it with
  its arrays recomputes the same codes digest and row digest.
- `ExportedRun.arrays` is the run's stored arrays (codes, labels, per-query values) exactly as
  `ResultStore.load_arrays` returned them on export, or None when the run was exported without
  codes (no `--with-codes`, or its codes were missing in the source store).
- `ExportedRun.source` says where the run came from: "export folder F, file runs/<id>.json".
- Every problem raises `hashbench.errors.InputError` naming the file and what is wrong: not
  an export folder, a manifest or run file that does not validate against its schema (a newer
  schema version included), a listed file missing or an unlisted one present, a record whose
  row digest fails, a top-level score or field that differs from the record, a codes file whose
  SHA-256 or codes digest differs from the recorded ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashbench.errors import InputError
from hashbench.export.document import (
    EXPORT_SCHEMA_VERSION,
    MANIFEST_SCHEMA,
    RUN_SCHEMA,
    digest_problem,
    document_problem,
    record_from_object,
    schema_problem,
)
from hashbench.store.records import RunRecord
from hashbench.store.verify import codes_problem

MANIFEST = "manifest.json"
RUNS_DIR = "runs"
CODES_DIR = "codes"


@dataclass
class ExportedRun:
    """One run read back from an export folder (see the module docstring for the contract)."""

    record: RunRecord
    arrays: dict[str, np.ndarray] | None
    source: str


def iter_exported(folder: Path | str) -> Iterator[ExportedRun]:
    """Each run of the export folder `folder`, checked (module docstring: the contract)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    listed = sorted(f for f in manifest["files"] if f.startswith(f"{RUNS_DIR}/"))
    present = sorted(p.relative_to(folder).as_posix() for p in folder.glob(f"{RUNS_DIR}/*.json"))
    if unlisted := sorted(set(present) - set(listed)):
        raise InputError(
            f"{folder / unlisted[0]}: not listed in {folder / MANIFEST} (added after the "
            "export?); remove it, or export again"
        )
    if "json" not in manifest["formats"]:
        raise InputError(
            f"{folder}: exported with --format {','.join(manifest['formats'])}, without the "
            "per-run JSON files that hold the runs; export again with --format json"
        )
    for name in listed:
        yield read_run(folder, name)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The checked manifest of an export folder."""
    path = folder / MANIFEST
    if not folder.is_dir():
        raise InputError(f"{folder}: no such export folder (written by `hashbench export`)")
    if not path.is_file():
        raise InputError(
            f"{folder}: not a hashbench export folder (no {MANIFEST}); pass a folder written "
            "by `hashbench export`"
        )
    manifest = _load_json(path)
    _check_version(path, manifest)
    if problem := schema_problem(manifest, MANIFEST_SCHEMA):
        raise InputError(f"{path}: not a valid export manifest ({problem})")
    return manifest


def read_run(folder: Path, name: str) -> ExportedRun:
    """The run of the file `name` (runs/<id>.json) of `folder`, checked."""
    path = folder / name
    source = f"export folder {folder}, file {name}"
    if not path.is_file():
        raise InputError(f"{path}: listed in {folder / MANIFEST} but missing; export again")
    document = _load_json(path)
    _check_version(path, document)
    if problem := schema_problem(document, RUN_SCHEMA):
        raise InputError(f"{path}: does not match the exported-run schema ({problem})")
    record = record_from_object(document["record"])
    if Path(name).stem != record.run_id:
        raise InputError(f"{path}: holds run {record.run_id}, not the run its name says")
    if problem := digest_problem(record):
        raise InputError(f"{path}: its record was changed after the export ({problem})")
    arrays = _read_codes(folder, path, document, record)
    if problem := document_problem(document, record, arrays):
        raise InputError(f"{path}: changed after the export: {problem}")
    return ExportedRun(record=record, arrays=arrays, source=source)


def _read_codes(
    folder: Path, path: Path, document: dict[str, Any], record: RunRecord
) -> dict[str, np.ndarray] | None:
    """The checked arrays of an exported codes file, or None when the run has none."""
    codes = document.get("codes")
    if codes is None:
        return None
    target = folder / codes["file"]
    if codes["file"] != f"{CODES_DIR}/{record.run_id}.npz":
        raise InputError(f"{path}: its codes file {codes['file']} is not the run's own")
    if not target.is_file():
        raise InputError(f"{target}: missing (named by {path}); export again with --with-codes")
    if file_sha256(target) != codes["file_sha256"]:
        raise InputError(
            f"{target}: its SHA-256 differs from the one {path} records (changed after the "
            "export); export again with --with-codes"
        )
    try:
        with np.load(target, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # a damaged zip raises BadZipFile, EOFError, zlib.error...
        raise InputError(f"{target}: cannot be read: {type(exc).__name__}: {exc}") from None
    problem, checked = codes_problem(record, arrays)
    if problem or set(checked) != set(arrays):
        why = problem or "it holds per-query values the run's codes digest does not cover"
        raise InputError(f"{target}: not the codes of run {record.run_id} ({why})")
    return arrays


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc})") from None


def _check_version(path: Path, document: Any) -> None:
    """A document of another schema version is refused with what to do."""
    version = document.get("schema_version") if isinstance(document, dict) else None
    if isinstance(version, int) and version > EXPORT_SCHEMA_VERSION:
        raise InputError(
            f"{path}: export schema version {version}, newer than this hashbench reads "
            f"({EXPORT_SCHEMA_VERSION}); upgrade hashbench"
        )
