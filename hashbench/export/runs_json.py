"""The JSON side of an export: `runs/<run_id>.json` per run (schema `run-v1`), with
`--with-codes` the run's arrays as `codes/<run_id>.npz`, and the folder's `manifest.json`.

Files are written into the export's staging folder (`folder.py`), which becomes the export
folder only once everything is written: a crash never leaves a half-written file in it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hashbench import __version__
from hashbench.export.document import (
    EXPORT_SCHEMA_VERSION,
    MANIFEST_SCHEMA,
    build_document,
    dumps,
    schema_problem,
)
from hashbench.export.reader import CODES_DIR, MANIFEST, RUNS_DIR, file_sha256
from hashbench.store.records import SCHEMA_VERSION, RunRecord


@dataclass
class ExportItem:
    """A run to export: its record, its stored arrays (None when the store has none) and
    whether its arrays go along (`--with-codes`)."""

    record: RunRecord
    arrays: Mapping[str, np.ndarray] | None
    with_codes: bool = False


def write_runs(staging: Path, items: Iterable[ExportItem]) -> list[str]:
    """Write each item's document (and codes file) under `staging`; the files written,
    relative to it."""
    written: list[str] = []
    (staging / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    for item in items:
        codes = None
        if item.with_codes and item.arrays is not None:
            (staging / CODES_DIR).mkdir(exist_ok=True)
            name = f"{CODES_DIR}/{item.record.run_id}.npz"
            np.savez(staging / name, **item.arrays)
            codes = {"file": name, "file_sha256": file_sha256(staging / name)}
            written.append(name)
        document = build_document(item.record, item.arrays, codes)
        name = f"{RUNS_DIR}/{item.record.run_id}.json"
        (staging / name).write_text(dumps(document), encoding="utf-8")
        written.append(name)
    return written


def write_manifest(staging: Path, files: list[str], **about: Any) -> dict[str, Any]:
    """Write `manifest.json` (what `about` says: exported_at, source_store, filters, formats,
    with_codes, include_failed, runs, runs_with_codes) and return it; a manifest that does not
    validate is a bug here, so it fails loudly."""
    manifest = {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "kind": "hashbench-export",
        "hashbench_version": __version__,
        "store_schema_version": SCHEMA_VERSION,
        **about,
        "files": sorted(files),
    }
    problem = schema_problem(manifest, MANIFEST_SCHEMA)
    if problem:
        raise AssertionError(f"export manifest does not match its schema: {problem}")
    (staging / MANIFEST).write_text(dumps(manifest), encoding="utf-8")
    return manifest
