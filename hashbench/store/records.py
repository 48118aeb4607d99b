"""What the results database holds: the run record, its columns and the table schema.

Schema versions: 2 added `error` (the traceback of a failed run); 3 added `protocol` ("default",
"tuned" or "trial"), `tuning` (how a tuned run's parameters were chosen) and `codes_digest` (the
checksum, shapes and code length of the run's stored arrays, checked before any recomputation).
A store of an older version gains the columns in place when opened for writing; read-only
commands read it as it is, with the columns' defaults.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = 3

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
"""

# Columns added after version 1, with their SQL default: older stores gain them in place.
ADDED_COLUMNS = {
    "error": "''",
    "protocol": "'default'",
    "tuning": "'{}'",
    "codes_digest": "'{}'",
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
    protocol: str = "default"  # "default", "tuned" or "trial"
    tuning: dict[str, Any] = field(default_factory=dict)  # study, trials, validation score
    codes_digest: dict[str, Any] = field(default_factory=dict)  # set when the codes are saved


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
)


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


def digested(name: str) -> bool:
    """Arrays the checksum covers: everything but per-query scores derived from them."""
    return not name.startswith("perquery.")


def codes_digest(arrays: Mapping[str, np.ndarray], bits: int) -> dict[str, Any]:
    """SHA-256 over the names, dtypes, shapes and bytes of a run's arrays, with their shapes."""
    hasher = hashlib.sha256()
    shapes = {}
    for name in sorted(filter(digested, arrays)):
        array = np.ascontiguousarray(arrays[name])
        hasher.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        hasher.update(array.tobytes())
        shapes[name] = list(array.shape)
    return {"sha256": hasher.hexdigest(), "bits": bits, "shapes": shapes}
