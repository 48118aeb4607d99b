"""What the results database holds: the run record, its columns and the table schema.

Schema versions: 2 added `error` (the traceback of a failed run); 3 added `protocol` ("default",
"tuned" or "trial"), `tuning` (how a tuned run's parameters were chosen) and `codes_digest` (the
checksum, shapes and code length of the run's stored arrays, checked before any recomputation);
4 added `row_digest` (a SHA-256 over the row's other stored values, so a hand-edited number is
refused on read) and `derived` in `codes_digest` (a checksum over the stored per-query values);
5 added the tables `merged` (where a run brought in by `hashbench merge` came from) and
`replicates` (the other machines' runs of a run id kept by `merge --keep both`, outside `runs`,
so never counted as another seed; see `merge.py`), leaving `runs` and its row digests as they
were. A store of an older version gains the columns and tables in place when opened for
writing; read-only commands read it as it is, with the columns' defaults (rows without a row
digest, or codes digests without `derived`, are read as they are; see `verify.py`), and
without the tables (no merges).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = 5

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
    protocol            TEXT NOT NULL DEFAULT 'default',
    tuning              TEXT NOT NULL DEFAULT '{}',
    codes_digest        TEXT NOT NULL DEFAULT '{}',
    row_digest          TEXT NOT NULL DEFAULT '',
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS runs_by_grid ON runs (dataset, method, bits, seed);
CREATE TABLE IF NOT EXISTS claims (
    run_id     TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    expires_at REAL NOT NULL,
    about      TEXT NOT NULL DEFAULT '{}',
    command    TEXT NOT NULL DEFAULT '',
    claimed_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS merged (
    run_id      TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    source_host TEXT NOT NULL,
    merged_at   TEXT NOT NULL,
    with_codes  INTEGER NOT NULL,
    choice      TEXT NOT NULL DEFAULT '',
    row_digest  TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS replicates (
    run_id       TEXT NOT NULL,
    codes_sha256 TEXT NOT NULL,
    codes_path   TEXT NOT NULL,
    row          TEXT NOT NULL,
    source       TEXT NOT NULL,
    source_host  TEXT NOT NULL,
    merged_at    TEXT NOT NULL,
    PRIMARY KEY (run_id, codes_sha256)
);
"""

# Columns added after version 1, with their SQL default: older stores gain them in place.
ADDED_COLUMNS = {
    "error": "''",
    "protocol": "'default'",
    "tuning": "'{}'",
    "codes_digest": "'{}'",
    "row_digest": "''",
}

# Protocols: how a run's parameters were chosen. Trials of a tuning study are never tabled.
PROTOCOLS = ("default", "tuned", "trial")


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
    protocol: str = "default"  # "default", "tuned", "trial" or "as-released"
    tuning: dict[str, Any] = field(default_factory=dict)  # study, trials, validation score
    codes_digest: dict[str, Any] = field(default_factory=dict)  # set when the codes are saved
    row_digest: str = ""  # set when the row is saved: SHA-256 of the row's other values

    def task_metrics(self) -> dict[str, dict[str, Any]]:
        """The per-task entries of `metrics` ("i2t", "t2i", "unimodal"): every dict entry but
        the run-level ones (`RUN_LEVEL_METRICS`, e.g. an as-released run's selection)."""
        return {
            task: values
            for task, values in self.metrics.items()
            if isinstance(values, dict) and task not in RUN_LEVEL_METRICS
        }


# Dict entries of `RunRecord.metrics` that describe the run, not a retrieval task.
RUN_LEVEL_METRICS = ("released_selection",)

JSON_FIELDS = ("params", "metrics", "timings", "provenance", "profile", "tuning", "codes_digest")
COLUMNS = (
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
    "protocol",
    "tuning",
    "codes_digest",
    "row_digest",
)

# Columns the row digest leaves out: when the row was written, a failed run's traceback, itself.
UNDIGESTED_COLUMNS = ("created_at", "error", "row_digest")


def to_row(record: RunRecord) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for column in COLUMNS:
        if column == "created_at":
            continue
        value = getattr(record, column)
        if column in JSON_FIELDS:
            value = json.dumps(value, sort_keys=True)
        elif column == "pair_fused":
            value = int(value)
        row[column] = value
    return row


def from_row(row: tuple) -> RunRecord:
    values = dict(zip(COLUMNS, row, strict=True))
    for column in JSON_FIELDS:
        values[column] = json.loads(values[column])
    values["pair_fused"] = bool(values["pair_fused"])
    return RunRecord(**values)


DERIVED_PREFIX = "perquery."


def digested(name: str) -> bool:
    """Arrays the main checksum covers: everything but the per-query scores derived from them
    (those have a checksum of their own, `derived`, so that rows stored before it stay valid)."""
    return not name.startswith(DERIVED_PREFIX)


def arrays_sha256(arrays: Mapping[str, np.ndarray], names: list[str]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of `names` of `arrays` (in that order)."""
    hasher = hashlib.sha256()
    for name in names:
        array = np.ascontiguousarray(arrays[name])
        hasher.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        hasher.update(array.tobytes())
    return hasher.hexdigest()


def codes_digest(arrays: Mapping[str, np.ndarray], bits: int) -> dict[str, Any]:
    """The checksums of a run's arrays: `sha256` over the codes and labels (with their shapes),
    `derived` over the per-query scores kept beside them."""
    names = sorted(filter(digested, arrays))
    derived = sorted(name for name in arrays if not digested(name))
    return {
        "sha256": arrays_sha256(arrays, names),
        "bits": bits,
        "shapes": {name: list(np.shape(arrays[name])) for name in names},
        "derived": arrays_sha256(arrays, derived),
    }


def row_digest(row: Mapping[str, Any]) -> str:
    """SHA-256 over a row's stored values (as written to SQLite), but UNDIGESTED_COLUMNS."""
    content = [[c, row[c]] for c in COLUMNS if c not in UNDIGESTED_COLUMNS]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()
