"""One exported run as a JSON document (schema `schema/run-v1.schema.json`): built from a stored
record (and its arrays, for the per-query summaries), and the record rebuilt from a document.

The writer and the reader build a document the same way, so the reader checks a file by
rebuilding what the file's `record` implies and comparing (`document_problem`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np

from hashbench import __version__
from hashbench.store.records import (
    COLUMNS,
    DERIVED_PREFIX,
    JSON_FIELDS,
    SCHEMA_VERSION,
    RunRecord,
    row_digest,
    to_row,
)

EXPORT_SCHEMA_VERSION = 1
RUN_SCHEMA = f"run-v{EXPORT_SCHEMA_VERSION}.schema.json"
MANIFEST_SCHEMA = f"manifest-v{EXPORT_SCHEMA_VERSION}.schema.json"
CURVES = "curves"
# Copies of record columns shown at the top of a document, as they are in the record: every
# column but the scores (shown as `scores`, `curves`, `extra`), a failed run's traceback and the
# codes path (local to the store that wrote it).
TOP_COLUMNS = tuple(c for c in COLUMNS if c not in ("metrics", "error", "codes_path"))


@cache
def load_schema(name: str = RUN_SCHEMA) -> dict[str, Any]:
    """A schema shipped with the package (`hashbench/export/schema/`)."""
    from importlib.resources import files

    return json.loads((files("hashbench.export") / "schema" / name).read_text(encoding="utf-8"))


@cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


def schema_problem(document: Any, name: str = RUN_SCHEMA) -> str | None:
    """Why `document` does not validate against the schema `name` (the first error), or None."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator(name).iter_errors(document))
    if error is None:
        return None
    where = "/".join(map(str, error.absolute_path)) or "the document"
    return f"at {where}: {error.message[:300]}"


def _finite(value: Any) -> bool:
    """Whether `value` holds no NaN or infinity (strict JSON cannot write them)."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


def nulled(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (top-level copies only)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: nulled(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [nulled(v) for v in value]
    return value


def record_object(record: RunRecord) -> dict[str, Any]:
    """The stored row of `record` as JSON: every column, JSON columns parsed; a JSON column that
    would not come back as the same text (NaN, infinity) is kept as its stored text."""
    row = to_row(record)
    out: dict[str, Any] = {}
    for column in COLUMNS:
        if column == "created_at":
            out[column] = record.created_at
        elif column == "pair_fused":
            out[column] = bool(row[column])
        elif column in JSON_FIELDS:
            value = getattr(record, column)
            out[column] = value if _finite(value) else row[column]
        else:
            out[column] = row[column]
    return out


def record_from_object(values: Mapping[str, Any]) -> RunRecord:
    """The RunRecord of a document's `record` (the inverse of `record_object`)."""
    fields = dict(values)
    for column in JSON_FIELDS:
        if isinstance(fields[column], str):
            fields[column] = json.loads(fields[column])
    fields["pair_fused"] = bool(fields["pair_fused"])
    return RunRecord(**{column: fields[column] for column in COLUMNS})


def digest_problem(record: RunRecord) -> str | None:
    """Why `record` is not the row its row digest was computed over, or None (also for a row
    stored before row digests, which has none)."""
    if record.row_digest and row_digest(to_row(record)) != record.row_digest:
        return "its values differ from the row digest recorded when the run was stored"
    return None


def split_metrics(record: RunRecord) -> tuple[dict, dict, dict]:
    """(scores, curves, extra) of a record's stored metrics: scalar finite scores per task; the
    curves per task; everything else per task (`tasks`) and for the whole run (`run`)."""
    scores: dict[str, dict[str, float | int]] = {}
    curves: dict[str, Any] = {}
    extra: dict[str, dict[str, Any]] = {"tasks": {}, "run": {}}
    tasks = record.task_metrics()
    for task, values in tasks.items():
        scores[task] = {
            name: value
            for name, value in values.items()
            if is_score(value) and math.isfinite(value)
        }
        if CURVES in values:
            curves[task] = values[CURVES]
        rest = {k: v for k, v in values.items() if k != CURVES and not is_score(v)}
        if rest:
            extra["tasks"][task] = rest
    extra["run"] = {k: v for k, v in record.metrics.items() if k not in tasks}
    return scores, nulled(curves), nulled(extra)


def is_score(value: Any) -> bool:
    """A scalar score: a number that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def per_query_summaries(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, dict]]:
    """task -> metric -> {n, mean, std, min, median, max} of the `perquery.<task>.<metric>`
    arrays (float64; std with ddof 0; null where a value is not finite or there are none)."""
    out: dict[str, dict[str, dict]] = {}
    for name in sorted(arrays):
        if not name.startswith(DERIVED_PREFIX):
            continue
        task, _, metric = name[len(DERIVED_PREFIX) :].partition(".")
        values = np.asarray(arrays[name], dtype=np.float64).ravel()
        stats = {"n": int(values.size)}
        for key, fn in (
            ("mean", np.mean),
            ("std", np.std),
            ("min", np.min),
            ("median", np.median),
            ("max", np.max),
        ):
            number = float(fn(values)) if values.size else math.nan
            stats[key] = number if math.isfinite(number) else None
        out.setdefault(task, {})[metric] = stats
    return out


def build_document(
    record: RunRecord,
    arrays: Mapping[str, np.ndarray] | None,
    codes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The exported document of `record`. `arrays`: its stored arrays (for the per-query
    summaries), None when the store has none; `codes`: {file, file_sha256} of its exported
    codes file, None when the codes are not exported."""
    scores, curves, extra = split_metrics(record)
    document: dict[str, Any] = {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "hashbench_version": __version__,
        "store_schema_version": SCHEMA_VERSION,
    }
    for column in TOP_COLUMNS:
        document[column] = nulled(getattr(record, column))
    document["scores"] = scores
    summaries = per_query_summaries(arrays) if arrays is not None else {}
    if summaries:
        document["per_query"] = summaries
    document["curves"] = curves
    document["extra"] = extra
    if codes is not None:
        document["codes"] = dict(codes)
    document["record"] = record_object(record)
    return document


# Fields a reader cannot rebuild from the record alone: the exporter's version, the codes
# file, and the per-query summaries (rebuilt only when the codes are there).
UNCHECKED = ("hashbench_version", "store_schema_version", "codes", "per_query")


def document_problem(
    document: Mapping[str, Any], record: RunRecord, arrays: Mapping[str, np.ndarray] | None
) -> str | None:
    """Why `document` is not what its own `record` (and `arrays`, when given) implies, or None:
    a score, parameter or summary changed by hand after the export."""
    expected = build_document(record, arrays)
    for key in sorted(set(expected) | set(document)):
        if key in UNCHECKED and not (key == "per_query" and arrays is not None):
            continue
        if document.get(key) != expected.get(key):
            return f"its '{key}' differs from what its stored record (and codes) imply"
    return None


def dumps(document: Mapping[str, Any]) -> str:
    """Strict JSON (no NaN), stable key order, one trailing newline."""
    return json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n"
